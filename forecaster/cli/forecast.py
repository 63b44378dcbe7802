"""``forecaster forecast | backtest | spikes``: per-series forecasts, model backtests, coming spikes."""

from __future__ import annotations

import contextlib
import datetime as dt
import math
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator, List, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from ..store import open_reader, open_store
from .common import ConfigOption, DbOption, interruptible, JsonOption, keyed_table, load_settings, print_json, require_db

if TYPE_CHECKING:   # forecaster.forecast imports statsmodels and scipy (~1.4 s): only the commands that run it pay
    from ..forecast.run import RunSummary

HorizonOption = typer.Option(None, "--horizon", help="how far ahead: 72h, 3d (default: settings.forecast_horizon)")
StepOption = typer.Option(None, "--step", help="bucket width: 5m, 15m or 1h (default: settings.forecast_step)")
ModelOption = typer.Option(None, "--model", help="auto (backtest and pick per series) or a model name")
AsOfOption = typer.Option(None, "--as-of", help="forecast as if now were this UTC timestamp; later data is never read")
RoutesOption = typer.Option(None, "--routes", help="glob on the route or series id (repeatable), e.g. 'GET /products*'")
EventsOption = typer.Option(None, "--events", help="events calendar, CSV or YAML (default: settings.events_file)")
EngineOption = typer.Option(None, "--engine", help="local (processes) or dask")
SchedulerOption = typer.Option(None, "--scheduler", help="Dask scheduler address, tcp://host:8786 (default: a LocalCluster)")
WorkersOption = typer.Option(None, "--workers", help="parallel fits (default: settings.forecast_workers or cores)")
PresetOption = typer.Option(None, "--preset", help="auto-selection preset: fast or full")
SeedOption = typer.Option(None, "--seed", help="model seed (default: settings.forecast_seed)")


def register(app: typer.Typer) -> None:
    @app.command("forecast")
    def forecast_cmd(
        db: Optional[Path] = DbOption, horizon: Optional[str] = HorizonOption, step: Optional[str] = StepOption,
        model: Optional[str] = ModelOption, as_of: Optional[dt.datetime] = AsOfOption,
        routes: Optional[List[str]] = RoutesOption, events: Optional[Path] = EventsOption,
        engine: Optional[str] = EngineOption, scheduler: Optional[str] = SchedulerOption,
        workers: Optional[int] = WorkersOption, preset: Optional[str] = PresetOption,
        folds: Optional[int] = typer.Option(None, "--folds", help="backtest folds of auto selection"),
        seed: Optional[int] = SeedOption, as_json: bool = JsonOption, config: Optional[Path] = ConfigOption,
    ) -> None:
        """Forecast every route and aggregate, find the spikes ahead, record the run."""
        _run("forecast", **locals())

    @app.command("backtest")
    def backtest_cmd(
        db: Optional[Path] = DbOption, horizon: Optional[str] = HorizonOption, step: Optional[str] = StepOption,
        model: Optional[str] = ModelOption, as_of: Optional[dt.datetime] = AsOfOption,
        routes: Optional[List[str]] = RoutesOption, events: Optional[Path] = EventsOption,
        engine: Optional[str] = EngineOption, scheduler: Optional[str] = SchedulerOption,
        workers: Optional[int] = WorkersOption, preset: Optional[str] = PresetOption,
        folds: Optional[int] = typer.Option(None, "--folds", help="rolling-origin folds per series"),
        seed: Optional[int] = SeedOption, as_json: bool = JsonOption, config: Optional[Path] = ConfigOption,
    ) -> None:
        """Backtest the models on every series (rolling origin) and report their accuracy."""
        _run("backtest", **locals())

    @app.command("spikes")
    def spikes_cmd(
        db: Optional[Path] = DbOption,
        run_id: Optional[str] = typer.Option(None, "--run", help="forecast run id (default: the latest)"),
        min_ratio: Optional[float] = typer.Option(None, "--min-ratio", help="only spikes at least this many times baseline"),
        why: bool = typer.Option(False, "--why", help="print each spike's reason in full under the table"),
        as_json: bool = JsonOption, config: Optional[Path] = ConfigOption,
    ) -> None:
        """List the spikes a forecast run found, soonest first."""
        settings = load_settings(config, db)
        require_db(settings.db)
        with open_reader(settings.db, settings) as con:
            from ..forecast.run import load_spikes

            rid, frame = load_spikes(con, run_id, min_ratio)
        if as_json:
            rows = [{k: _plain(v) for k, v in r.items()} for r in frame.to_dict("records")]
            print_json({"run_id": rid, "spikes": rows})
            return
        print_spikes(rid, frame, Console(), why)


def print_spikes(rid: str, frame, console: Console, why: bool = False) -> None:
    """The spikes of a run, soonest first, readable at 80 columns: the series folds (its end, the route
    and region, tells rows apart), times as month-day hour; each reason, with ``why``, in full below."""
    if frame.empty:
        console.print(f"no spikes ahead in run {rid}")
        return
    frame = frame.sort_values(["start_ts", "series"], kind="stable")
    t = keyed_table(f"spikes of run {rid}, soonest first", "series (event)", 16)
    t.collapse_padding = True   # eight columns in 80: one space of padding between them, not two
    t.add_column("starts", no_wrap=True)
    for col in ("hrs", "peak at", "peak", "x exp", "P", "lead"):
        t.add_column(col, justify="left" if col == "peak at" else "right", no_wrap=True)
    for r in frame.itertuples():   # event is NaN on rows without one when a run mixes both
        start = r.start_ts
        key = Text(str(r.series))
        if isinstance(r.event, str) and r.event:
            key.append(f"\n({r.event})", style="dim")
        hours = (r.end_ts - start) / dt.timedelta(hours=1)
        t.add_row(key, f"{start:%m-%d %H:%M}", f"{hours:.0f}" if hours >= 1 else f"{hours:.2f}",
                  f"{r.peak_ts:%H:%M}" if r.peak_ts.date() == start.date() else f"{r.peak_ts:%m-%d %H:%M}",
                  f"{r.peak:,.0f}", _num(r.ratio, "x", digits=1), f"{r.probability:.0%}", f"{r.lead_time_hours:.0f}")
    console.print(t)
    console.print("times UTC; hrs: how long it lasts; peak: forecast requests per step at the peak; x exp: over the expected "
                  "traffic at that hour; P: chance the actual rises above the spike's threshold; lead: hours until it starts"
                  + ("" if why else "; each reason: --why"), highlight=False)
    if why:
        for r in frame.itertuples():
            console.print(f"{r.series} from {r.start_ts:%m-%d %H:%M}: {r.reason}", soft_wrap=True, markup=False,
                          highlight=False)


def _run(kind: str, db, horizon, step, model, as_of, routes, events, engine, scheduler, workers, preset, folds, seed,
         as_json, config) -> None:
    settings = load_settings(config, db)
    require_db(settings.db)
    kept = f"the {kind} run was marked interrupted and none of its results were kept"
    with interruptible(kept), open_store(settings.db, settings) as con, _progress(as_json) as progress:
        from ..forecast.run import run_forecast

        summary = run_forecast(con, settings, horizon=horizon, step=step, model=model, as_of=as_of, routes=routes,
                               events=events, engine=engine, scheduler=scheduler, preset=preset, folds=folds,
                               seed=seed, workers=workers, kind=kind, progress=progress)
    if as_json:
        print_json(summary.to_dict())
    else:
        print_summary(summary)


@contextlib.contextmanager
def _progress(as_json: bool) -> Iterator[Callable[[int, int], None] | None]:
    """Series done / total, elapsed and time left on a terminal (stderr); nothing with --json or when piped."""
    console = Console(stderr=True)
    if as_json or not console.is_terminal:
        yield None
        return
    with Progress(TextColumn("series"), BarColumn(), MofNCompleteColumn(), TextColumn("elapsed"), TimeElapsedColumn(),
                  TextColumn("left"), TimeRemainingColumn(), console=console, transient=True) as bar:
        task = bar.add_task("series", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield progress


def print_summary(s: RunSummary, limit: int = 40) -> None:
    console = Console()
    t = keyed_table(f"{s.kind} run {s.run_id}: {s.series} series, {s.horizon_steps} x {s.step} ahead of {(s.cutoff or '?')[:16]}",
                    "series", 20)
    t.add_column("model", no_wrap=True)
    for col in ("relMAE", "cov80", "peak", "spikes"):
        t.add_column(col, justify="right", no_wrap=True)
    # spikes first, then the busiest series: what a person acts on
    rows = sorted(s.per_series, key=lambda r: (-r["spikes"], -(r["peak"] or 0), r["series"]))
    for r in rows[:limit]:
        t.add_row(r["series"], r["model"] + (" (fallback)" if r["fallback"] else ""), _num(r["rel_mae"]),
                  _num(r["coverage_80"], pct=True), _num(r["peak"], digits=0), str(r["spikes"]))
    console.print(t)
    if len(rows) > limit:
        console.print(f"... and {len(rows) - limit} more series (--json for all)")
    console.print(f"relMAE: mean absolute error / mean; cov80: share of actuals inside "
                  f"the 80% interval (backtests); peak: the highest forecast in the next {s.horizon_steps} x {s.step}")
    a = s.accuracy
    console.print(f"accuracy (mean over series): rel_mae {_num(a.get('rel_mae'))}, MASE {_num(a.get('mase'))}, "
                  f"80% coverage {_num(a.get('coverage_80'), pct=True)}, 95% coverage {_num(a.get('coverage_95'), pct=True)}")
    console.print(f"models: {', '.join(f'{k} {v}' for k, v in s.models.items())}; fallbacks {s.fallbacks}; "
                  f"spikes {s.spikes}; {s.seconds:.1f}s ({s.series_per_second:.1f} series/s, {s.engine} x{s.workers})")
    notes = getattr(s, "notes", None) or []
    for note in notes[:limit // 4 or 1]:
        console.print(f"note: {note}")
    if len(notes) > (limit // 4 or 1):
        console.print(f"... and {len(notes) - (limit // 4 or 1)} more notes (--json for all)")


def _num(v, suffix: str = "", pct: bool = False, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float) and math.isinf(v):
        return "inf"
    return f"{v:.0%}" if pct else f"{v:,.{digits}f}{suffix}"


def _plain(v):
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    return v
