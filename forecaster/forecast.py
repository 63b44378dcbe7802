"""The forecast run: every series fitted in parallel (local processes or Dask), results streamed into DuckDB.

    series (SQL) -> fit_series (pure, one series, in a worker) -> forecasts / backtests / spikes rows

:func:`fit_series` is the unit of work: module-level and picklable, it gets a :class:`History` of
numpy arrays (the DuckDB connection stays in this process; arrays pickle in microseconds where a
frame costs more than a seasonal naive fit), returns a :class:`SeriesResult` of arrays, and never
raises: a failing or slow model falls back to seasonal naive and says why. What it needs besides
the values (future index, regressors, uplift) comes from ``series_context``, built once per
calendar and grid in each process. Engines (:data:`ENGINES`) only decide *where* it runs, in
batches of series, so ``local`` and ``dask`` give identical results under the same seed.
"""

from __future__ import annotations

import concurrent.futures as cf
import json
import logging
import multiprocessing
import os
import signal
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Iterable, Iterator, NamedTuple

import duckdb
import numpy as np
import pandas as pd

from .errors import BadInput, ForecasterError, UnknownName
from .events import Calendar, Event
from .models.common import Arrays, Prepared, constant_arrays, forecast_arrays, prepare_arrays
from .series import load_series, step_delta, steps_in
from .series_context import SeriesContext, series_context
from .spikes import Spike, find_spikes
from .store.db import one, run, transaction, utcnow

log = logging.getLogger(__name__)

FALLBACK_MODEL = "seasonal_naive_weekly"
#: series per task sent to a worker: one pickle round trip and one future per batch, not per series
BATCH_SERIES = 25
#: models that apply an event's ``_uplift`` themselves; for the others the run applies it after predict
MODELS_APPLYING_UPLIFT = frozenset({"seasonal_profile", "seasonal_blend", "prophet"})
FORECAST_COLS = ["ds", "yhat", "yhat_lo_80", "yhat_hi_80", "yhat_lo_95", "yhat_hi_95"]
SCORE_COLS = ["model", "cutoff", "horizon", "mae", "rel_mae", "mase", "smape", "coverage_80", "coverage_95"]


class SeriesTimeout(ForecasterError):
    status = 504
    code = "series_timeout"


@dataclass(frozen=True)
class FitSpec:
    """Everything a worker needs besides the series itself (small; sent once per task or scattered)."""

    horizon: int
    step: str
    model: str = "auto"
    preset: str = "fast"
    folds: int | None = None     # None: the preset's own (fast 2, full 3)
    seed: int = 0
    timeout_s: float = 120.0
    as_of: pd.Timestamp | None = None
    events: tuple[Event, ...] = ()
    min_ratio: float = 1.5
    min_peak: float = 0.0


class History(NamedTuple):
    """One series' values as arrays: what a task carries to a worker (numpy pickles cheaply, a frame does not)."""

    ds: np.ndarray   # datetime64[ns], naive UTC, sorted
    y: np.ndarray    # float, NaN = no data


@dataclass
class SeriesResult:
    """One series' outcome, as arrays (it is pickled back from a worker): ``forecast`` maps
    :data:`FORECAST_COLS` to arrays, ``scores`` maps backtest columns (``model``, ``cutoff``,
    metrics, ``error``) to arrays, one row per candidate and fold."""

    series: str
    model: str
    reason: str
    fallback: bool
    forecast: Arrays
    scores: Arrays | None
    spikes: list[Spike]
    seconds: float


# ---- the unit of work ----------------------------------------------------------------------

def fit_series(series: str, history: History | pd.DataFrame, spec: FitSpec) -> SeriesResult:
    """Fit, predict and find spikes for one series; never raises (falls back to seasonal naive)."""
    t0 = time.perf_counter()
    width = step_delta(spec.step)
    ds, y = _columns(history)
    ctx = series_context(spec.events, series, ds, spec.horizon, width)
    data = _validated(ds, y, width)
    try:
        with _deadline(spec.timeout_s, series):
            frame, model, reason, scores = _fit_predict(data, ctx, spec, width)
        fallback = False
    except Exception as e:  # noqa: BLE001 - any model failure falls back, by design; the reason is kept
        frame, model, reason, scores = _safe_fallback(data, ds, y, ctx, spec, width, f"{spec.model} failed: {_why(e)}")
        fallback = True
    return _result(series, ds, y, ctx, spec, width, frame, model, reason, fallback, scores, t0)


def _result(series, ds, y, ctx, spec: FitSpec, width, frame, model, reason, fallback, scores, t0) -> SeriesResult:
    as_of = spec.as_of if spec.as_of is not None else ctx.future[0]
    spikes = find_spikes(series, frame, {"ds": ds, "y": y}, as_of, width, spec.min_ratio, spec.min_peak,
                         events=list(spec.events))
    return SeriesResult(series, model, reason, fallback, frame, _score_arrays(scores), spikes,
                        time.perf_counter() - t0)


def _columns(history: History | pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(ds as naive UTC datetime64[ns], y as float) of a task's history."""
    if isinstance(history, History):
        return np.asarray(history.ds, dtype="datetime64[ns]"), np.asarray(history.y, dtype=float)
    ds = pd.DatetimeIndex(pd.to_datetime(history["ds"]))
    if ds.tz is not None:
        ds = ds.tz_convert("UTC").tz_localize(None)
    return ds.values.astype("datetime64[ns]"), pd.to_numeric(history["y"], errors="coerce").to_numpy(dtype=float)


def _validated(ds: np.ndarray, y: np.ndarray, width: pd.Timedelta) -> Prepared | pd.DataFrame:
    """The history validated once for every model of the series; when it does not validate, the raw
    frame, so that each model fails on it as it would have and the run falls back as usual."""
    try:
        return prepare_arrays(ds, y, width)
    except ForecasterError:
        return pd.DataFrame({"ds": ds, "y": y})


def _fit_predict(data, ctx: SeriesContext, spec: FitSpec, width: pd.Timedelta):
    if spec.model == "auto":
        from .selection import fit_predict_auto

        frame, choice = fit_predict_auto(data, spec.horizon, width, spec.preset, spec.folds, spec.seed,
                                         ctx.hist_regs, ctx.fut_regs)
        arrays = {c: frame[c].to_numpy() for c in FORECAST_COLS if c in frame.columns}
        model, reason, scores = choice.model, choice.reason, choice.scores
    else:
        from .models import get_model

        m = get_model(spec.model, step=width, seed=spec.seed)
        arrays = forecast_arrays(m.fit(data, ctx.hist_regs), spec.horizon, (80, 95), ctx.fut_regs)
        model, reason, scores = spec.model, "model named by the caller", _named_scores(data, ctx.hist_regs, spec, width)
    arrays = _checked(arrays, ctx.future)
    if model not in MODELS_APPLYING_UPLIFT:
        arrays = _uplifted(arrays, ctx.uplift)
    return arrays, model, reason, scores


def _fallback(data, ctx: SeriesContext, spec: FitSpec, width, reason: str):
    from .models import get_model

    log.warning("fallback to %s: %s", FALLBACK_MODEL, reason)
    arrays = forecast_arrays(get_model(FALLBACK_MODEL, step=width, seed=spec.seed).fit(data), spec.horizon, (80, 95))
    arrays = {c: arrays[c] for c in FORECAST_COLS}
    return _uplifted(arrays, ctx.uplift), FALLBACK_MODEL, f"fallback: {reason}", None


def _named_scores(history, hist_regs, spec: FitSpec, width) -> pd.DataFrame | None:
    """Backtest rows of a model the caller named (so its accuracy is reported too); None if it cannot be backtested."""
    from .backtest import backtest

    try:
        return backtest(history, spec.model, spec.horizon, spec.folds or 3, width, spec.seed, hist_regs).assign(model=spec.model)
    except Exception as e:  # noqa: BLE001 - a series too short to backtest still gets its forecast
        log.info("no backtest for %s: %s", spec.model, e)
        return None


def _safe_fallback(data, ds, y, ctx: SeriesContext, spec: FitSpec, width, reason: str):
    try:
        return _fallback(data, ctx, spec, width, reason)
    except Exception as e:  # noqa: BLE001 - the fallback must not fail the run either
        return _last_resort(y, ctx, f"{reason}; {FALLBACK_MODEL} failed: {_why(e)}")


def _uplifted(arrays: Arrays, mult: np.ndarray | None) -> Arrays:
    """The forecast multiplied by the expected uplift of events never seen in the history (for models
    that ignore regressors; ``mult`` from the series' context, None: unchanged)."""
    if mult is None:
        return arrays
    return {c: (v if c == "ds" else np.asarray(v, dtype=float) * mult) for c, v in arrays.items()}


def _checked(arrays: Arrays, future: pd.DatetimeIndex) -> Arrays:
    missing = set(FORECAST_COLS) - set(arrays)
    if missing:
        raise BadInput(f"model output lacks columns {sorted(missing)}")
    ds = np.asarray(arrays["ds"], dtype="datetime64[ns]")
    if len(ds) != len(future) or not bool((ds == future.values).all()):
        raise BadInput(f"model returned {len(ds)} steps from {pd.Timestamp(ds[0]) if len(ds) else None}, "
                       f"expected {len(future)} from {future[0]}")
    out = {"ds": ds, **{c: np.asarray(arrays[c], dtype=float) for c in FORECAST_COLS[1:]}}
    if not all(np.isfinite(out[c]).all() for c in FORECAST_COLS[1:]):
        raise BadInput("model returned non-finite values")
    return out


def _score_arrays(scores: pd.DataFrame | None) -> Arrays | None:
    """Backtest rows as column arrays (None when there are none)."""
    if scores is None or len(scores) == 0:
        return None
    return {c: scores[c].to_numpy() for c in scores.columns}


def _why(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}"[:300]


@contextmanager
def _deadline(seconds: float, series: str):
    """Raise SeriesTimeout in this thread after ``seconds`` (POSIX main thread only). A long call
    inside C code (a Stan fit) delays it until the call returns; the engine's backstop deadline
    (:func:`_bounded`) covers that and threads, where no alarm can be used."""
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return

    def _alarm(signum, frame):
        raise SeriesTimeout(f"{series} took more than {seconds:g}s")

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _last_resort(y: np.ndarray, ctx: SeriesContext, reason: str):
    """The fallback of the fallback: a flat median forecast (only when seasonal naive itself fails)."""
    level = float(np.nanmedian(y)) if np.isfinite(y).any() else 0.0
    arrays = constant_arrays(ctx.future, level, (80, 95))
    return {c: arrays[c] for c in FORECAST_COLS}, "constant_median", f"fallback: {reason}", None


def fallback_result(series: str, history: History | pd.DataFrame, spec: FitSpec, reason: str) -> SeriesResult:
    """Seasonal naive for a series whose fit never came back (engine timeout, worker crash)."""
    t0 = time.perf_counter()
    width = step_delta(spec.step)
    ds, y = _columns(history)
    ctx = series_context(spec.events, series, ds, spec.horizon, width)
    frame, model, why, scores = _safe_fallback(_validated(ds, y, width), ds, y, ctx, spec, width, reason)
    return _result(series, ds, y, ctx, spec, width, frame, model, why, True, scores, t0)


# ---- engines: where fit_series runs --------------------------------------------------------

Task = tuple[str, History]
Outcome = tuple[str, History, "SeriesResult | BaseException"]


@dataclass(frozen=True)
class EngineOptions:
    workers: int
    scheduler: str | None = None      # dask: scheduler address; None starts a LocalCluster
    dask_processes: bool = True       # dask LocalCluster: worker processes (False: threads, for tests)
    batch: int = BATCH_SERIES         # series per task sent to a worker
    total: int | None = None          # series in the run (batches shrink toward the end when known)


def _serial(tasks: Iterable[Task], spec: FitSpec) -> Iterator[Outcome]:
    for sid, hist in tasks:
        yield sid, hist, fit_series(sid, hist, spec)


def _bounded(submit: Callable[[Task], cf.Future], tasks: Iterable[Task], limit: int, workers: int,
             backstop_s: float) -> Iterator[Outcome]:
    """Keep at most ``limit`` tasks in flight (memory stays flat for any number of series); a task
    not back after ``backstop_s`` is given up as timed out, so a hung worker never stalls the run."""
    it, inflight, hung = iter(tasks), {}, 0
    while True:
        while len(inflight) < limit and hung < workers:
            task = next(it, None)
            if task is None:
                break
            inflight[submit(task)] = (task, time.monotonic())
        if not inflight:
            break
        done, _ = cf.wait(list(inflight), timeout=1.0, return_when=cf.FIRST_COMPLETED)
        for fut in done:
            (sid, hist), _t = inflight.pop(fut)
            try:
                yield sid, hist, fut.result()
            except BaseException as e:  # noqa: BLE001 - a crashed task becomes a recorded fallback
                yield sid, hist, e
        now = time.monotonic()
        for fut, ((sid, hist), t0) in list(inflight.items()):
            if now - t0 > backstop_s:
                del inflight[fut]
                fut.cancel()
                hung += 1
                yield sid, hist, SeriesTimeout(f"{sid}: no result after {backstop_s:.0f}s (worker hung)")
    for sid, hist in it:   # every worker hung: the rest fall back here rather than wait forever
        yield sid, hist, SeriesTimeout(f"{sid}: not fitted, all {workers} workers hung")


Batch = tuple[str, list[Task]]


def fit_batch(batch: list[Task], spec: FitSpec) -> list[SeriesResult]:
    """:func:`fit_series` on each series of a batch, in order (what a worker runs per task)."""
    return [fit_series(sid, hist, spec) for sid, hist in batch]


def batches(tasks: Iterable[Task], size: int, total: int | None = None, workers: int = 1) -> Iterator[Batch]:
    """Group tasks into lists of ``size`` (the last one shorter), labelled by their first series.

    With ``total`` (the number of tasks) known, batches shrink toward the end: at most a quarter of
    each worker's share of what is left (guided scheduling), so that the workers finish together
    instead of one fitting a last full batch while the other waits."""
    def cap(done: int) -> int:
        if total is None:
            return size
        return max(1, min(size, -(-(total - done) // (4 * max(workers, 1)))))

    chunk: list[Task] = []
    done, limit = 0, cap(0)
    for task in tasks:
        chunk.append(task)
        if len(chunk) >= limit:
            yield chunk[0][0], chunk
            done, chunk = done + len(chunk), []
            limit = cap(done)
    if chunk:
        yield chunk[0][0], chunk


def batch_size(n_series: int, workers: int) -> int:
    """``BATCH_SERIES``, smaller when there are few series, so that every worker gets work (4 tasks each)."""
    return max(1, min(BATCH_SERIES, -(-n_series // (4 * max(workers, 1)))))


def _unbatched(outcomes: Iterable[tuple[str, list[Task], "list[SeriesResult] | BaseException"]]) -> Iterator[Outcome]:
    """Per-series outcomes of batch outcomes; a failed batch fails each of its series (they fall back)."""
    for _label, batch, res in outcomes:
        if isinstance(res, BaseException):
            for sid, hist in batch:
                yield sid, hist, res
        else:
            for (sid, hist), r in zip(batch, res):
                yield sid, hist, r


def _local(tasks: Iterable[Task], spec: FitSpec, opts: EngineOptions) -> Iterator[Outcome]:
    """``concurrent.futures.ProcessPoolExecutor`` with ``workers`` processes (in-process when 1);
    series go in batches of :func:`batch_size`."""
    if opts.workers <= 1:
        yield from _serial(tasks, spec)
        return
    # fork: workers start in milliseconds and never re-run the caller's __main__; they touch no DuckDB
    ctx = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
    if ctx.get_start_method() == "fork":
        _import_models(spec)
    pools = [cf.ProcessPoolExecutor(opts.workers, mp_context=ctx)]

    def submit(task: Batch) -> cf.Future:
        try:
            return pools[-1].submit(fit_batch, task[1], spec)
        except cf.process.BrokenProcessPool:
            if len(pools) > 3:
                raise
            log.warning("process pool broken (a worker died); starting a new one")
            pools.append(cf.ProcessPoolExecutor(opts.workers, mp_context=ctx))
            return pools[-1].submit(fit_batch, task[1], spec)

    try:
        yield from _unbatched(_bounded(submit, batches(tasks, opts.batch, opts.total, opts.workers), 2 * opts.workers, opts.workers,
                                       _backstop(spec, opts.batch)))
    finally:
        for pool in pools:
            pool.shutdown(wait=False, cancel_futures=True)
            for proc in list((getattr(pool, "_processes", None) or {}).values()):  # hung workers: no public stop
                if proc.is_alive():
                    proc.terminate()


def _import_models(spec: FitSpec) -> None:
    """Import the model stack (statsmodels, scipy, and Prophet when the run may fit it) here, once,
    so that forked workers inherit it instead of each paying ~3 s of CPU for the same imports on
    its first series (Prophet is otherwise imported on its first fit)."""
    from . import backtest, models, selection  # noqa: F401

    wanted = [spec.model] if spec.model != "auto" else list(selection.PRESETS.get(spec.preset, ()))
    if "prophet" in wanted:
        try:
            import prophet  # noqa: F401
        except ImportError as e:  # the model's own fit reports it, per series, as a failed candidate
            log.info("prophet not importable before fork: %s", e)


def _dask(tasks: Iterable[Task], spec: FitSpec, opts: EngineOptions) -> Iterator[Outcome]:
    """``dask.distributed``: the scheduler at ``opts.scheduler`` or a LocalCluster of ``workers`` workers."""
    from dask.distributed import Client, LocalCluster

    cluster = None
    if opts.scheduler:
        client = Client(opts.scheduler)
    else:
        cluster = LocalCluster(n_workers=opts.workers, threads_per_worker=1, processes=opts.dask_processes,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        n = max(1, len(client.scheduler_info().get("workers", {})) or opts.workers)
        pool = client.get_executor(pure=False)
        yield from _unbatched(_bounded(lambda t: pool.submit(fit_batch, t[1], spec),
                                       batches(tasks, opts.batch, opts.total, n), 2 * n, n, _backstop(spec, opts.batch)))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _backstop(spec: FitSpec, batch: int = 1) -> float:
    # a batch may queue behind one other per worker (2 in flight each), plus start-up slack; each of
    # its series is bounded by the worker's own per-series deadline (timeout_s)
    return 2 * batch * spec.timeout_s + 30.0


#: engine name -> runner(tasks, spec, options) yielding (series, history, result or exception)
ENGINES: dict[str, Callable[[Iterable[Task], FitSpec, EngineOptions], Iterator[Outcome]]] = {
    "local": _local,
    "dask": _dask,
}


# ---- the run -------------------------------------------------------------------------------

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
    seconds: float = 0.0
    series_per_second: float = 0.0
    per_series: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


METRICS = ("rel_mae", "mase", "smape", "coverage_80", "coverage_95")


class _Writer:
    """Buffers results and appends them to DuckDB in batches (inside the caller's transaction)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, run_id: str, write_forecasts: bool, batch: int = 500):
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
        self.con.register("_fc_batch", frame)
        try:
            cols = ", ".join(frame.columns)
            run(self.con, f"INSERT INTO {table} (run_id, {cols}) SELECT ?, {cols} FROM _fc_batch", [self.run_id])
        finally:
            self.con.unregister("_fc_batch")


def _extend(parts: dict[str, list[np.ndarray]], cols: dict[str, np.ndarray]) -> None:
    for c, v in cols.items():
        parts.setdefault(c, []).append(v)


def _concat(arrays: list[np.ndarray]) -> np.ndarray:
    """Concatenate column pieces; pieces of different kinds (a cutoff that is None for a failed
    candidate next to timestamps) are joined as objects, which DuckDB casts on insert."""
    if len({a.dtype for a in arrays}) > 1:
        return pd.concat([pd.Series(a) for a in arrays], ignore_index=True)  # keeps Timestamps as Timestamps
    return np.concatenate(arrays)


class _Tally:
    """Per-series summary rows and running sums for the run summary (no frames kept)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.by_model: dict[str, dict[str, list[float]]] = {}

    def add(self, r: SeriesResult) -> None:
        acc = {m: None for m in METRICS}
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
                          "spikes": len(r.spikes), "seconds": round(r.seconds, 4)})

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


def run_forecast(con: duckdb.DuckDBPyConnection, settings, horizon: str | None = None, step: str | None = None,
                 model: str | None = None, as_of=None, routes: list[str] | str | None = None, events=None,
                 engine: str | None = None, scheduler: str | None = None, preset: str | None = None,
                 folds: int | None = None, seed: int | None = None, workers: int | None = None,
                 kind: str = "forecast", dask_processes: bool = True) -> RunSummary:
    """Forecast every selected series and record the run (``kind='backtest'``: backtests only).

    Arguments left None come from ``settings``. Returns the run summary; on an error the run row
    is marked failed with the error and the exception propagates (nothing half-written).
    """
    p = _params(settings, horizon, step, model, as_of, routes, events, engine, scheduler, preset, folds, seed, workers)
    if kind not in ("forecast", "backtest"):
        raise UnknownName("run kind", kind, ["backtest", "forecast"])
    run_id = f"{kind[:2]}-{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    started = utcnow()
    run(con, "INSERT INTO runs (run_id, kind, params, started, status) VALUES (?, ?, ?, ?, 'running')",
        [run_id, kind, json.dumps(p, default=str), started])
    t0 = time.perf_counter()
    try:
        summary = _execute(con, settings, run_id, kind, p, dask_processes, t0)
    except BaseException as e:
        run(con, "UPDATE runs SET status = 'failed', finished = ?, error = ? WHERE run_id = ?",
            [utcnow(), _why(e), run_id])
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
    if p["engine"] not in ENGINES:
        raise UnknownName("engine", p["engine"], list(ENGINES))
    if p["model"] != "auto":
        from .models import model_names

        if p["model"] not in model_names():
            raise UnknownName("model", p["model"], ["auto", *model_names()])
    return p


def _execute(con, settings, run_id: str, kind: str, p: dict, dask_processes: bool, t0: float) -> RunSummary:
    frame = load_series(con, p["step"], p["as_of"], p["routes"], settings.forecast_history_days)
    if len(frame) == 0:
        raise BadInput(f"no traffic in traffic_1m before {p['as_of'] or 'now'}"
                       f"{' matching ' + str(p['routes']) if p['routes'] else ''}; ingest logs first")
    width = step_delta(p["step"])
    lo = frame.first_ds
    calendar = Calendar.build(p["events"], settings.holiday_country, lo, frame.cutoff + p["horizon_steps"] * width)
    spec = FitSpec(horizon=p["horizon_steps"], step=p["step"], model=p["model"], preset=p["preset"], folds=p["folds"],
                   seed=p["seed"], timeout_s=settings.forecast_timeout_s, as_of=p["as_of"] or frame.cutoff,
                   events=tuple(calendar.events), min_ratio=settings.spike_min_ratio, min_peak=settings.spike_min_peak)
    n = len(frame)
    opts = EngineOptions(workers=p["workers"], scheduler=p["scheduler"], dask_processes=dask_processes,
                         batch=batch_size(n, p["workers"]), total=n)
    tally = _Tally()
    log.info("run %s: %d series, %d steps of %s ahead, engine %s x%d", run_id, n, spec.horizon, spec.step,
             p["engine"], opts.workers)
    with transaction(con):
        writer = _Writer(con, run_id, write_forecasts=(kind == "forecast"))
        tasks = ((sid, History(ds, y)) for sid, ds, y in frame.arrays())
        for sid, hist, res in ENGINES[p["engine"]](tasks, spec, opts):
            if isinstance(res, BaseException):
                if isinstance(res, (KeyboardInterrupt, SystemExit)):
                    raise res
                res = fallback_result(sid, hist, spec, f"{p['engine']} engine: {_why(res)}")
            writer.add(res)
            tally.add(res)
        writer.flush()
        seconds = time.perf_counter() - t0
        summary = RunSummary(
            run_id=run_id, kind=kind, status="ok", series=n, step=p["step"], horizon_steps=spec.horizon,
            as_of=None if p["as_of"] is None else str(p["as_of"]), cutoff=str(frame.cutoff), engine=p["engine"],
            workers=opts.workers, model=p["model"],
            models=dict(sorted(pd.Series([r["model"] for r in tally.rows]).value_counts().items())),
            fallbacks=sum(r["fallback"] for r in tally.rows), accuracy=tally.accuracy(), by_model=tally.models(),
            spikes=sum(r["spikes"] for r in tally.rows) if kind == "forecast" else 0,
            seconds=round(seconds, 3), series_per_second=round(n / seconds, 2) if seconds > 0 else 0.0,
            per_series=tally.rows)
        summary.models = {str(k): int(v) for k, v in summary.models.items()}
        run(con, "UPDATE runs SET status = 'ok', finished = ?, summary = ? WHERE run_id = ?",
            [utcnow(), json.dumps(summary.to_dict(), default=str), run_id])
    return summary


# ---- reading back --------------------------------------------------------------------------

def latest_run_id(con: duckdb.DuckDBPyConnection, kind: str = "forecast") -> str | None:
    row = one(con, "SELECT run_id FROM runs WHERE kind = ? AND status = 'ok' ORDER BY started DESC LIMIT 1", [kind])
    return row[0] if row else None


def load_spikes(con: duckdb.DuckDBPyConnection, run_id: str | None = None, min_ratio: float | None = None) -> tuple[str, pd.DataFrame]:
    """The spikes of a forecast run (latest ok run by default), soonest first; ``min_ratio`` filters."""
    run_id = run_id or latest_run_id(con)
    if run_id is None:
        raise BadInput("no finished forecast run yet; run `forecaster forecast` first")
    if one(con, "SELECT count(*) FROM runs WHERE run_id = ?", [run_id])[0] == 0:
        raise BadInput(f"no run {run_id!r}")
    frame = con.execute("""
        SELECT series, start_ts, end_ts, peak_ts, peak, baseline, ratio, threshold, probability, lead_time_hours,
               reason, event
        FROM spikes WHERE run_id = ? AND (? IS NULL OR ratio >= ?) ORDER BY start_ts, series
    """, [run_id, min_ratio, min_ratio]).df()
    return run_id, frame
