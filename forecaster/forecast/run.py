"""The forecast run: every series fitted in parallel (``forecaster.engines``), results streamed into DuckDB.

    series (SQL) -> fit_series (``forecaster.fit``: one series, in a worker) -> forecasts / backtests / spikes rows

This module owns the run: its parameters, its row in ``runs``, the writes of forecasts, backtests
and spikes (batched, inside one transaction), the summary, and reading results back.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np
import pandas as pd

from .engines import ENGINES, EngineOptions, batch_size
from ..errors import BadInput, NotFound, UnknownName, is_interrupt
from .events import Calendar
from .fit import FORECAST_COLS, FitSpec, History, SeriesResult, _why, fallback_result
from .series import STEPS, data_cutoff, data_resolution, load_series, step_delta, steps_in
from ..store import forecasts as results
from ..store import runs, traffic
from ..store.db import Connection, transaction, utcnow

log = logging.getLogger(__name__)

SCORE_COLS = ["model", "cutoff", "horizon", "mae", "rel_mae", "mase", "smape", "coverage_80", "coverage_95"]


@dataclass
class RunSummary:
    run_id: str
    kind: str
    status: str
    series: int
    step: str
    horizon_steps: int
    as_of: str | None
    cutoff: str | None
    engine: str
    workers: int
    model: str
    models: dict[str, int] = field(default_factory=dict)        # chosen model -> series
    fallbacks: int = 0
    accuracy: dict[str, float | None] = field(default_factory=dict)   # mean over series of the chosen model's backtests
    by_model: dict[str, dict[str, float | None]] = field(default_factory=dict)  # every backtested model
    spikes: int = 0
    notes: list[str] = field(default_factory=list)   # "series: what was done" (damped outliers, event uplifts)
    seconds: float = 0.0
    series_per_second: float = 0.0
    per_series: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


METRICS = ("rel_mae", "mase", "smape", "coverage_80", "coverage_95")


class _Writer:
    """Buffers results and appends them to DuckDB in batches (inside the caller's transaction)."""

    def __init__(self, con: Connection, run_id: str, write_forecasts: bool, batch: int = 500):
        self.con, self.run_id, self.write_forecasts, self.batch = con, run_id, write_forecasts, batch
        self.forecasts: dict[str, list[np.ndarray]] = {}
        self.scores: dict[str, list[np.ndarray]] = {}
        self.spikes: list[dict] = []
        self.n = 0

    def add(self, r: SeriesResult) -> None:
        if self.write_forecasts:
            n = len(r.forecast["ds"])
            _extend(self.forecasts, {"series": np.full(n, r.series, dtype=object), "model": np.full(n, r.model, dtype=object),
                                     **{c: np.asarray(r.forecast[c]) for c in FORECAST_COLS}})
            self.spikes.extend(s.to_dict() for s in r.spikes)
        if r.scores is not None and len(r.scores["model"]):
            names = np.asarray(r.scores["model"], dtype=object)
            n = len(names)
            cols = {"series": np.full(n, r.series, dtype=object)}
            for c in SCORE_COLS:
                cols[c] = (np.asarray(r.scores[c]) if c in r.scores
                           else np.full(n, None, dtype=object))
            cols["model"] = names
            cols["chosen"] = names == r.model
            err = np.asarray(r.scores["error"], dtype=object) if "error" in r.scores else np.full(n, None, dtype=object)
            cols["note"] = np.array([f"failed: {e}" if isinstance(e, str) and e else r.reason for e in err], dtype=object)
            _extend(self.scores, cols)
        self.n += 1
        if self.n % self.batch == 0:
            self.flush()

    def flush(self) -> None:
        for table, parts in (("forecasts", self.forecasts), ("backtests", self.scores)):
            if parts:
                self._insert(table, pd.DataFrame({c: _concat(v) for c, v in parts.items()}))
                parts.clear()
        if self.spikes:
            self._insert("spikes", pd.DataFrame(self.spikes))
            self.spikes.clear()

    def _insert(self, table: str, frame: pd.DataFrame) -> None:
        results.insert(self.con, table, self.run_id, frame)


def _extend(parts: dict[str, list[np.ndarray]], cols: dict[str, np.ndarray]) -> None:
    for c, v in cols.items():
        parts.setdefault(c, []).append(v)


def _concat(arrays: list[np.ndarray]) -> np.ndarray | pd.Series:
    """Concatenate column pieces; pieces of different kinds (a cutoff that is None for a failed
    candidate next to timestamps) are joined as objects, which DuckDB casts on insert."""
    if len({a.dtype for a in arrays}) > 1:
        return pd.concat([pd.Series(a) for a in arrays], ignore_index=True)  # keeps Timestamps as Timestamps
    return np.concatenate(arrays)


class _Tally:
    """Per-series summary rows and running sums for the run summary (no frames kept)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.notes: list[str] = []
        self.by_model: dict[str, dict[str, list[float]]] = {}

    def add(self, r: SeriesResult) -> None:
        acc: dict[str, float | None] = {m: None for m in METRICS}
        if r.scores is not None and len(r.scores["model"]):
            names = np.asarray(r.scores["model"], dtype=object)
            present = [m for m in METRICS if m in r.scores]
            values = np.column_stack([np.asarray(r.scores[m], dtype=float) for m in present])
            acc.update(zip(present, _column_means(values[names == r.model])))
            for name in dict.fromkeys(names):
                sums = self.by_model.setdefault(str(name), {m: [] for m in METRICS})
                for m, mean in zip(present, _column_means(values[names == name])):
                    if mean is not None:
                        sums[m].append(mean)
        yhat = np.asarray(r.forecast["yhat"], dtype=float) if len(r.forecast["yhat"]) else None
        k = int(np.argmax(yhat)) if yhat is not None else 0
        self.rows.append({"series": r.series, "model": r.model, "fallback": r.fallback, "reason": r.reason, **acc,
                          "peak": float(yhat[k]) if yhat is not None else None,
                          "peak_ts": str(pd.Timestamp(r.forecast["ds"][k])) if yhat is not None else None,
                          "spikes": len(r.spikes), "seconds": round(r.seconds, 4), "notes": list(r.notes)})
        self.notes.extend(f"{r.series}: {n}" for n in r.notes)

    def accuracy(self) -> dict[str, float | None]:
        return {m: _nanmean(np.array([np.nan if row[m] is None else row[m] for row in self.rows], dtype=float))
                for m in METRICS}

    def models(self) -> dict[str, dict[str, float | None]]:
        return {name: {"series": max(len(v) for v in sums.values()),
                       **{m: _nanmean(np.asarray(sums[m], dtype=float)) for m in METRICS}}
                for name, sums in sorted(self.by_model.items())}


def _column_means(values: np.ndarray) -> list[float | None]:
    """:func:`_nanmean` of each column of a few rows (one candidate's folds) in one pass; the same
    numbers, since fewer than 8 values are summed in order either way (more: column by column)."""
    if len(values) >= 8:
        return [_nanmean(values[:, j]) for j in range(values.shape[1])]
    finite = np.isfinite(values)
    sums, counts = np.where(finite, values, 0.0).sum(axis=0), finite.sum(axis=0)
    return [round(float(sm / n), 6) if n else None for sm, n in zip(sums, counts)]


def _nanmean(v: np.ndarray) -> float | None:
    """Mean of the finite values (inf and NaN skipped), rounded to 6 places; None when there is none."""
    v = v[np.isfinite(v)]
    return round(float(v.mean()), 6) if v.size else None


def run_forecast(con: Connection, settings, horizon: str | None = None, step: str | None = None,
                 model: str | None = None, as_of=None, routes: list[str] | str | None = None, events=None,
                 engine: str | None = None, scheduler: str | None = None, preset: str | None = None,
                 folds: int | None = None, seed: int | None = None, workers: int | None = None,
                 kind: str = "forecast", dask_processes: bool = True,
                 progress: Callable[[int, int], None] | None = None) -> RunSummary:
    """Forecast every selected series and record the run (``kind='backtest'``: backtests only).

    Arguments left None come from ``settings``; ``progress(done, total)`` is called as series finish. Returns the run summary; on an error the run row
    is marked failed with the error and the exception propagates (nothing half-written).
    """
    p = _params(settings, horizon, step, model, as_of, routes, events, engine, scheduler, preset, folds, seed, workers)
    if kind not in ("forecast", "backtest"):
        raise UnknownName("run kind", kind, ["backtest", "forecast"])
    if p["engine"] == "local" and p["workers"] > 1:
        from .workers import models_of, prestart

        prestart(models_of(p["model"], p["preset"]))  # the fork server imports while the series load
    run_id = f"{kind[:2]}-{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    started = utcnow()
    runs.start(con, run_id, kind, p, started)
    t0 = time.perf_counter()
    try:
        summary = _execute(con, settings, run_id, kind, p, dask_processes, t0, progress)
    except BaseException as e:
        if is_interrupt(e) or isinstance(e, SystemExit):
            runs.end(con, run_id, "interrupted", None, "interrupted before it finished: nothing of this run was kept")
        else:
            runs.fail(con, run_id, _why(e))
        raise
    return summary


def _params(settings, horizon, step, model, as_of, routes, events, engine, scheduler, preset, folds, seed, workers) -> dict:
    step = step or settings.forecast_step
    p = {
        "horizon": horizon or settings.forecast_horizon, "step": step, "model": model or settings.forecast_model,
        "as_of": None if as_of is None else pd.Timestamp(as_of), "routes": routes,
        "events": str(events) if events else (str(settings.events_file) if settings.events_file else None),
        "engine": engine or settings.forecast_engine, "scheduler": scheduler or settings.dask_scheduler,
        "preset": preset or settings.forecast_preset, "folds": folds or settings.forecast_folds,
        "seed": settings.forecast_seed if seed is None else seed,
        "workers": workers or settings.forecast_workers or os.cpu_count() or 1,
    }
    if p["as_of"] is not None and p["as_of"].tzinfo is not None:
        p["as_of"] = p["as_of"].tz_convert("UTC").tz_localize(None)
    p["horizon_steps"] = steps_in(p["horizon"], step)
    longest = steps_in(settings.forecast_max_horizon, step)
    if p["horizon_steps"] > longest:
        raise BadInput(f"horizon {p['horizon']} is {p['horizon_steps']} steps of {step}; the longest accepted is "
                       f"forecast_max_horizon = {settings.forecast_max_horizon} ({longest} steps)")
    ENGINES.get(p["engine"])  # an unknown engine raises UnknownName before any work
    if p["model"] != "auto":
        from .models import model_names

        if p["model"] not in model_names():
            raise UnknownName("model", p["model"], ["auto", *model_names()])
    return p


def _execute(con, settings, run_id: str, kind: str, p: dict, dask_processes: bool, t0: float,
             progress: Callable[[int, int], None] | None = None) -> RunSummary:
    resolution = data_resolution(con, None if p["as_of"] is None else pd.Timestamp(p["as_of"]))
    if resolution is not None and step_delta(p["step"]) < resolution:
        coarse = [name for name, w in STEPS.items() if w >= resolution]
        raise BadInput(f"--step {p['step']} is finer than the data: every timestamp in traffic_1m falls on a "
                       f"{resolution} boundary, so {p['step']} buckets would read most of each {resolution} as "
                       f"missing; use --step {' or '.join(coarse)}")
    frame = load_series(con, p["step"], p["as_of"], p["routes"], settings.forecast_history_days)
    if len(frame) == 0:
        raise BadInput(_why_no_series(con, settings, p))
    width = step_delta(p["step"])
    lo = frame.first_ds
    assert lo is not None and frame.cutoff is not None  # there is traffic
    calendar = Calendar.build(p["events"], settings.holiday_country, lo, frame.cutoff + p["horizon_steps"] * width)
    spec = FitSpec(horizon=p["horizon_steps"], step=p["step"], model=p["model"], preset=p["preset"], folds=p["folds"],
                   seed=p["seed"], timeout_s=settings.forecast_timeout_s, as_of=p["as_of"] or frame.cutoff,
                   events=tuple(calendar.events), min_ratio=settings.spike_min_ratio, min_peak=settings.spike_min_peak,
                   min_excess=settings.spike_min_excess, min_probability=settings.spike_min_probability,
                   capacity_rps=tuple(sorted(settings.spike_capacity_rps.items())))
    n = len(frame)
    opts = EngineOptions(workers=p["workers"], scheduler=p["scheduler"], dask_processes=dask_processes,
                         batch=batch_size(n, p["workers"]), total=n)
    tally = _Tally()
    log.info("run %s: %d series, %d steps of %s ahead, engine %s x%d", run_id, n, spec.horizon, spec.step,
             p["engine"], opts.workers)
    with transaction(con):
        writer = _Writer(con, run_id, write_forecasts=(kind == "forecast"))
        tasks = ((sid, History(ds, y)) for sid, ds, y in frame.arrays())
        if progress:
            progress(0, n)
        for sid, hist, res in ENGINES.get(p["engine"])(tasks, spec, opts):
            if isinstance(res, BaseException):
                if isinstance(res, (KeyboardInterrupt, SystemExit)):
                    raise res
                res = fallback_result(sid, hist, spec, f"{p['engine']} engine: {_why(res)}")
            writer.add(res)
            tally.add(res)
            if progress:
                progress(len(tally.rows), n)
        writer.flush()
        seconds = time.perf_counter() - t0
        summary = RunSummary(
            run_id=run_id, kind=kind, status="ok", series=n, step=p["step"], horizon_steps=spec.horizon,
            as_of=None if p["as_of"] is None else str(p["as_of"]), cutoff=str(frame.cutoff), engine=p["engine"],
            workers=opts.workers, model=p["model"],
            models=dict(sorted((str(k), int(v)) for k, v in pd.Series([r["model"] for r in tally.rows]).value_counts().items())),
            fallbacks=sum(r["fallback"] for r in tally.rows), accuracy=tally.accuracy(), by_model=tally.models(),
            spikes=sum(r["spikes"] for r in tally.rows) if kind == "forecast" else 0,
            seconds=round(seconds, 3), series_per_second=round(n / seconds, 2) if seconds > 0 else 0.0,
            per_series=tally.rows, notes=tally.notes)
        summary.models = {str(k): int(v) for k, v in summary.models.items()}
        runs.finish(con, run_id, summary.to_dict())
    return summary




def _why_no_series(con, settings, p: dict) -> str:
    """Why the selection holds no series, with the span traffic_1m holds and what to do."""
    first, last = traffic.span(con)
    if first is None or last is None:
        return "no traffic in traffic_1m; ingest logs first"
    cutoff, width = data_cutoff(con, p["step"], p["as_of"]), step_delta(p["step"])
    held = f"traffic_1m holds {first:%Y-%m-%d %H:%M} .. {last:%Y-%m-%d %H:%M}"
    if cutoff is not None and first >= cutoff and p["as_of"] is not None and last >= cutoff + width:
        return f"no traffic before --as-of {p['as_of']}: {held}"
    if cutoff is not None and first >= cutoff:
        finer = [name for name, w in STEPS.items()    # the finer steps that would hold a whole one
                 if w < width and (c := data_cutoff(con, name, p["as_of"])) is not None and c > first]
        return (f"{held}: not one whole {p['step']} step before {cutoff:%Y-%m-%d %H:%M} (the step in "
                f"progress is never read); load more history"
                f"{' or use --step ' + ' or '.join(finer) if finer else ''}")
    days = settings.forecast_history_days
    window = f"{days:g} days" if days else "history"
    if p["routes"]:
        return (f"no series matches --routes {p['routes']} in the {window} before {p['as_of'] or 'now'} ({held}); "
                f"series ids look like route:API|STAGE|METHOD /path|REGION, api:API, stage:API|STAGE, "
                f"region:REGION, total")
    return (f"no traffic in the {window} before {p['as_of'] or 'now'} that forecasts read (forecast_history_days); "
            f"{held}: forecast from its end with --as-of {last + dt.timedelta(minutes=1):%Y-%m-%dT%H:%M}")


# ---- reading back --------------------------------------------------------------------------

def latest_run_id(con: Connection, kind: str = "forecast") -> str | None:
    return runs.latest_ok(con, kind)


def load_spikes(con: Connection, run_id: str | None = None, min_ratio: float | None = None) -> tuple[str, pd.DataFrame]:
    """The spikes of a forecast run (latest ok run by default), soonest first; ``min_ratio`` filters."""
    run_id = run_id or latest_run_id(con)
    if run_id is None:
        raise NotFound("no finished forecast run yet; run `forecaster forecast` first")
    if not runs.exists(con, run_id):
        raise NotFound(f"no run {run_id!r}")
    return run_id, results.spikes(con, run_id, min_ratio)
