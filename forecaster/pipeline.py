"""The pipeline: ingest -> forecast -> price -> carbon (-> decide -> plan -> apply), one function per step.

The one service layer the CLI (``forecaster run``), the demo, the scheduler (``pipelines/``) and the
REST API call. Every step is a ``runs`` row (kind ``step:<name>``: params, started, finished,
status, error, and its counts in ``summary``) under one ``pipeline`` row.

- Idempotent: a step whose inputs are unchanged since an ``ok`` run with the same idempotency key
  (data watermark, as-of, settings, the upstream run) is recorded as ``skipped`` and reuses that
  run's results; ingest is idempotent by itself (the same bytes are never loaded twice).
- Resumable: run it again after a failure or a kill and the steps that finished are skipped, the
  one that did not runs again. ``recover`` marks rows left ``running`` by a dead process
  ``interrupted`` (the service and ``forecaster run`` call it at start).
- Nothing half-written: each step writes its tables in its own transactions (ingest per source,
  the forecast run in one), so readers on other cursors see a step's results all at once or not at all.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterable

from .config import Settings
from .errors import BadInput, ForecasterError, Interrupted, UnknownName, is_interrupt
from .store import events as events_repo
from .store import open_store
from .store import reads, runs

log = logging.getLogger(__name__)

Progress = Callable[["StepResult"], None]


@dataclass
class StepResult:
    step: str
    status: str                       # ok | skipped | failed | interrupted
    run_id: str | None = None         # this step's runs row
    seconds: float = 0.0
    counts: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    value: Any = None                 # the step's own result object (IngestReport, RunSummary, ...), not stored

    def to_dict(self) -> dict[str, Any]:
        return {"step": self.step, "status": self.status, "run_id": self.run_id, "seconds": self.seconds,
                "counts": self.counts, "error": self.error}


@dataclass
class PipelineResult:
    run_id: str
    status: str                       # ok | failed | interrupted
    steps: list[StepResult] = field(default_factory=list)
    seconds: float = 0.0

    def step(self, name: str) -> StepResult | None:
        return next((s for s in self.steps if s.step == name), None)

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "status": self.status, "seconds": self.seconds,
                "steps": [s.to_dict() for s in self.steps]}


@dataclass
class Context:
    """What the steps share within one pipeline run."""

    con: Any
    settings: Settings
    pipeline_id: str
    as_of: dt.datetime | None = None
    sources: list[str] = field(default_factory=list)
    events: str | None = None
    force: bool = False
    fmt: str = "auto"
    apply_mode: str = "dry_run"
    actor: str = "pipeline"
    refs: dict[str, Any] = field(default_factory=dict)   # upstream results: forecast_run_id, costs_run_id, ...


# ---- the steps -----------------------------------------------------------------------------
# Each returns (idempotency key or None, work) where work() -> (counts, value); a None key means
# the step always runs (it is idempotent by itself, or reads live state).

def ingest(ctx: Context):
    """Load the configured (or given) sources; sources seen before add nothing."""
    from .ingest import ingest as load

    def work():
        if not ctx.sources:
            return {"sources": 0, "rows_loaded": 0, "note": "no sources configured (schedule_ingest_sources)"}, None
        report = load(ctx.con, list(ctx.sources), ctx.settings, fmt=ctx.fmt)
        counts = {"sources": report.sources, "rows_loaded": report.rows_loaded, "rows_rejected": report.rows_rejected,
                  "rows_duplicate": report.rows_duplicate, "failed": [s.uri for s in report.failed]}
        if report.failed and len(report.failed) == report.sources:
            raise BadInput("no source could be read: " + "; ".join(f"{s.uri}: {s.note}" for s in report.failed))
        return counts, report
    return None, work


def forecast(ctx: Context):
    """Forecast every series from the rollups (and find the spikes ahead)."""
    s = ctx.settings
    key = _key("forecast", reads.data_watermark(ctx.con), ctx.as_of, s.forecast_horizon, s.forecast_step,
               s.forecast_model, s.forecast_preset, s.forecast_folds, s.forecast_seed, s.forecast_history_days,
               events_repo.fingerprint(ctx.con), _file_stamp(ctx.events or s.events_file))

    def work():
        from .forecast.run import run_forecast

        summary = run_forecast(ctx.con, s, as_of=ctx.as_of, events=_calendar(ctx))
        ctx.refs["forecast_run_id"] = summary.run_id
        return {"forecast_run_id": summary.run_id, "series": summary.series, "spikes": summary.spikes,
                "fallbacks": summary.fallbacks, "models": summary.models}, summary
    return key, work


def price(ctx: Context):
    """Price history and the latest forecast (month-end projection, budget alerts); writes ``costs``."""
    fc = _upstream(ctx, "forecast_run_id")
    key = _key("price", fc, reads.data_watermark(ctx.con), ctx.as_of, ctx.settings.price_catalog,
               _file_stamp(ctx.settings.price_overrides_file), sorted(ctx.settings.budgets.items()))

    def work():
        from .pricing.store import report_from_db, write_report

        report, fc_run = report_from_db(ctx.con, ctx.settings, forecast=True, as_of=ctx.as_of)
        costs_run = write_report(ctx.con, report, {"as_of": ctx.as_of, "forecast": True,
                                                   "pipeline": ctx.pipeline_id}, fc_run)
        ctx.refs["costs_run_id"] = costs_run
        out = report.to_dict("api")
        return {"costs_run_id": costs_run, "forecast_run_id": fc_run, "total_usd": out["total_usd"],
                "projection_usd": (out.get("projection") or {}).get("total_usd"),
                "alerts": len(out.get("alerts", []))}, report
    return key, work


def carbon(ctx: Context):
    """Grams of CO2e of history and the forecast; writes ``carbon``."""
    fc = _upstream(ctx, "forecast_run_id")
    key = _key("carbon", fc, reads.data_watermark(ctx.con), ctx.as_of, _file_stamp(ctx.settings.grid_intensity_file),
               _file_stamp(ctx.settings.carbon_coefficients_file), ctx.settings.carbon_embodied)

    def work():
        from .carbon.store import report_from_db, write_report

        report = report_from_db(ctx.con, ctx.settings, forecast=True, as_of=ctx.as_of)
        carbon_run = write_report(ctx.con, report)
        ctx.refs["carbon_run_id"] = carbon_run
        return {"carbon_run_id": carbon_run, "total_g_co2e": report.to_dict("region")["total_g_co2e"]}, report
    return key, work


def decide(ctx: Context):
    """Recommendations from the latest forecast, costs and carbon (``forecaster.decide``)."""
    fc = _upstream(ctx, "forecast_run_id")
    key = _key("decide", fc, ctx.refs.get("costs_run_id"), ctx.refs.get("carbon_run_id"), ctx.as_of,
               reads.data_watermark(ctx.con), sorted((k, str(v)) for k, v in ctx.settings.model_dump().items()
                                                     if k.startswith("decide_")))

    def work():
        from .decide import decide as run_decide

        result = run_decide(ctx.con, ctx.settings, run_id=fc, as_of=ctx.as_of)
        out = result.to_dict()
        counts = {k: v for k, v in out.items() if k != "run_id" and (isinstance(v, (int, float, str)) or v is None)}
        counts["decide_run_id"] = ctx.refs["decide_run_id"] = result.run_id
        counts["recommendations"] = len(result.records)
        return counts, result
    return key, work


def plan(ctx: Context):
    """The diff the recommendations in force would make to the live targets (``forecaster.control``)."""
    def work():
        if not ctx.settings.targets:
            ctx.refs["plan"] = None
            return {"changes": 0, "note": "no targets configured"}, None
        from .control import plan as make_plan

        p = make_plan(ctx.con, ctx.settings, now=ctx.as_of)
        ctx.refs["plan"] = p
        return {"changes": len(p.changes), "skipped": len(p.skipped), "refused": len(p.refused)}, p
    return None, work


APPLY_MODES = ("dry_run", "auto", "all")


def apply(ctx: Context):
    """Apply the plan: ``dry_run`` (record what would change), ``all`` (an operator approved it) or
    ``auto`` (the scheduler: for real on targets with ``auto_apply = true``, dry-run on the rest)."""
    def work():
        if not ctx.settings.targets:
            return {"applied": 0, "note": "no targets configured"}, None
        from .control import apply as do_apply
        from .control import plan as make_plan

        p = ctx.refs.get("plan") or make_plan(ctx.con, ctx.settings, now=ctx.as_of)
        if ctx.apply_mode == "auto":
            real, dry = _split(p, lambda op: bool(getattr(op.target, "auto_apply", False)))
            auto_res = do_apply(ctx.con, ctx.settings, real, dry_run=False, actor=ctx.actor) if real.ops or real.refused else None
            dry_res = do_apply(ctx.con, ctx.settings, dry, dry_run=True, actor=ctx.actor)
            results = {"auto": auto_res, "dry_run": dry_res}
            counts = {"applied": len(auto_res.applied) if auto_res else 0,
                      "dry_run": len(dry_res.applied),
                      "failed": sum(len(r.failed) for r in results.values() if r)}
            return counts, results
        res = do_apply(ctx.con, ctx.settings, p, dry_run=ctx.apply_mode != "all", actor=ctx.actor)
        return {"applied": len(res.applied), "failed": len(res.failed), "dry_run": res.dry_run}, res
    return None, work


def _split(p, real: Callable[[Any], bool]):
    """Two plans from one: the ops ``real`` picks and the others, each with its changes."""
    import dataclasses

    def part(keep: bool):
        ops = [op for op in p.ops if real(op) == keep]
        refused = [op for op in p.refused if real(op) == keep]
        ids = {op.recommendation["id"] for op in ops + refused}
        return dataclasses.replace(p, ops=ops, refused=refused, skipped=p.skipped if not keep else [],
                                   changes=[c for c in p.changes if c.recommendation_id in ids])
    return part(True), part(False)


STEPS: dict[str, Callable[[Context], tuple[str | None, Callable[[], tuple[dict, Any]]]]] = {
    "ingest": ingest, "forecast": forecast, "price": price, "carbon": carbon,
    "decide": decide, "plan": plan, "apply": apply,
}
DEFAULT_STEPS: tuple[str, ...] = tuple(s for s in STEPS if s not in ("plan", "apply"))


# ---- running them --------------------------------------------------------------------------

def recover(con) -> list[str]:
    """Mark every run left ``running`` by a process that is gone as ``interrupted``; their ids.

    Only one process can hold the DuckDB file for writing, so a ``running`` row seen by the process
    that just opened it for writing belongs to a process that died (killed, crashed, power loss).
    """
    ids = runs.mark_interrupted(con, "interrupted: the process stopped before the run finished "
                                     "(found running at the next start)")
    if ids:
        log.warning("marked %d run(s) interrupted: %s", len(ids), ", ".join(ids))
    return ids


def parse_steps(steps: Iterable[str] | str | None) -> list[str]:
    if steps is None:
        return list(DEFAULT_STEPS)
    names = [s.strip() for s in (steps.split(",") if isinstance(steps, str) else steps) if s and s.strip()]
    for n in names:
        if n not in STEPS:
            raise UnknownName("pipeline step", n, list(STEPS))
    if not names:
        raise BadInput(f"no steps given; expected some of {', '.join(STEPS)}")
    return sorted(dict.fromkeys(names), key=list(STEPS).index)   # always in flow order


def run_pipeline(settings: Settings, steps: Iterable[str] | str | None = None, *, con=None,
                 sources: list[str] | None = None, as_of: dt.datetime | None = None, events: str | None = None,
                 force: bool = False, fmt: str = "auto", apply_mode: str = "dry_run", actor: str = "pipeline",
                 stop: threading.Event | None = None, progress: Progress | None = None,
                 lock: Callable[[str], ContextManager] | None = None, trigger: str = "manual") -> PipelineResult:
    """Run ``steps`` (default: every step but plan and apply) in flow order, each a ``runs`` row.

    ``sources`` default to ``settings.schedule_ingest_sources``, ``as_of`` to ``settings.as_of``.
    ``force`` reruns steps whose inputs are unchanged. ``apply_mode``: see :func:`apply`. ``stop`` (an Event) ends the run before the
    next step, marking it ``interrupted``. ``lock(step)`` guards each step (the service serialises
    writers with it). A failing step fails the pipeline (later steps do not run) and its error
    propagates after being recorded.
    """
    names = parse_steps(steps)
    if con is None:
        with open_store(settings.db, settings) as own:
            return run_pipeline(settings, names, con=own, sources=sources, as_of=as_of, events=events, force=force,
                                fmt=fmt, apply_mode=apply_mode, actor=actor, stop=stop, progress=progress, lock=lock,
                                trigger=trigger)
    as_of = as_of if as_of is not None else settings.as_of
    srcs = list(sources if sources is not None else settings.schedule_ingest_sources)
    params = {"steps": names, "as_of": as_of, "sources": srcs, "force": force, "format": fmt, "apply": apply_mode,
              "trigger": trigger, "actor": actor}
    pid = runs.begin(con, "pipeline", params, prefix="pl")
    if apply_mode not in APPLY_MODES:
        raise UnknownName("apply mode", apply_mode, list(APPLY_MODES))
    ctx = Context(con, settings, pid, as_of, srcs, events, force, fmt, apply_mode, actor)
    result = PipelineResult(pid, "ok")
    t0 = time.perf_counter()
    try:
        for name in names:
            if stop is not None and stop.is_set():
                raise Interrupted(f"stopped before step {name} (shutdown)")
            with (lock(name) if lock else contextlib.nullcontext()):
                sr = _run_step(ctx, name)
            result.steps.append(sr)
            if progress:
                progress(sr)
    except BaseException as e:
        result.status = "interrupted" if isinstance(e, (Interrupted, SystemExit)) or is_interrupt(e) else "failed"
        result.seconds = round(time.perf_counter() - t0, 3)
        runs.end(con, pid, result.status, _summary(result), _why(e))
        raise
    result.seconds = round(time.perf_counter() - t0, 3)
    runs.end(con, pid, "ok", _summary(result))
    return result


def _run_step(ctx: Context, name: str) -> StepResult:
    kind = f"step:{name}"
    t0 = time.perf_counter()
    key, work = STEPS[name](ctx)
    if key is not None and not ctx.force:
        done = runs.find_done(ctx.con, kind, key)
        if done is not None:
            counts = dict(done.summary or {})
            counts["same_as"] = done.run_id
            ctx.refs.update({k: v for k, v in counts.items() if k.endswith("_run_id")})
            rid = runs.begin(ctx.con, kind, {"key": key, "pipeline": ctx.pipeline_id}, prefix=f"step-{name}")
            runs.end(ctx.con, rid, "skipped", counts)
            return StepResult(name, "skipped", rid, round(time.perf_counter() - t0, 3), counts)
    rid = runs.begin(ctx.con, kind, {"key": key, "pipeline": ctx.pipeline_id, "as_of": ctx.as_of}, prefix=f"step-{name}")
    try:
        counts, value = work()
    except BaseException as e:
        status = "interrupted" if isinstance(e, SystemExit) or is_interrupt(e) else "failed"
        runs.end(ctx.con, rid, status, None, _why(e))
        raise
    seconds = round(time.perf_counter() - t0, 3)
    counts = {**counts, "seconds": seconds}
    runs.end(ctx.con, rid, "ok", counts)
    return StepResult(name, "ok", rid, seconds, counts, value=value)


def _upstream(ctx: Context, ref: str) -> str | None:
    """A result of an earlier step in this run, else the newest of that kind in the store."""
    if ref in ctx.refs:
        return ctx.refs[ref]
    if ref == "forecast_run_id":
        return reads.latest_forecast_run(ctx.con)
    return None


def _calendar(ctx: Context) -> str | None:
    """The run's events calendar: the configured file plus the events stored over the API, as one
    YAML file beside the db (named by its content), or just the file when none are stored."""
    path = ctx.events or (str(ctx.settings.events_file) if ctx.settings.events_file else None)
    stored = events_repo.calendar_rows(ctx.con)
    if not stored:
        return path
    import yaml

    from .forecast.events import READERS

    rows: list[dict] = []
    if path:
        p = Path(path)
        reader = READERS.get(p.suffix.lower())
        if reader is None:
            raise UnknownName("events file type", p.suffix or p.name, list(READERS))
        rows = [{k: v for k, v in r.items() if v not in (None, "")} for r in reader(p)]
    text = yaml.safe_dump({"events": rows + stored}, sort_keys=False)
    out = Path(ctx.settings.db).resolve().parent / f".calendar-{hashlib.sha256(text.encode()).hexdigest()[:12]}.yaml"
    if not out.exists():
        out.write_text(text, encoding="utf-8")
    return str(out)


def _key(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:24]


def _file_stamp(path) -> str | None:
    if not path:
        return None
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        return f"{p}:missing"
    return f"{p}:{st.st_size}:{st.st_mtime_ns}"


def _summary(result: PipelineResult) -> dict[str, Any]:
    return {"steps": [s.to_dict() for s in result.steps], "seconds": result.seconds}


def _why(e: BaseException) -> str:
    if isinstance(e, ForecasterError):
        return str(e)
    return f"{type(e).__name__}: {e}"[:2000]
