"""The unit of work of a forecast run: one series fitted, predicted and scanned for spikes (pure).

Spikes that no calendar event or capacity limit explains get a probability calibrated on the chosen
model's own backtest spikes and are dropped under ``spike_min_probability``
(``forecaster.forecast.spike_calibration``; the run's notes say how many and why).

:func:`fit_series` is module-level and picklable: it gets a :class:`History` of numpy arrays (the
DuckDB connection stays in the run's process; arrays pickle in microseconds where a frame costs
more than a seasonal naive fit), returns a :class:`SeriesResult` of arrays, and never raises: a
failing or slow model falls back to seasonal naive and says why. What it needs besides the values
(future index, regressors, uplift) comes from ``series_context``, built once per calendar and
grid in each process. ``forecaster.engines`` decides where it runs; ``forecaster.forecast`` runs it.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..errors import ForecasterError, ModelError, SeriesTimeout, UnknownName
from .events import Event
from .models.base import model_class
from .models.common import Arrays, Prepared, constant_arrays, prepare_arrays
from .series import step_delta
from .series_context import SeriesContext, series_context
from .conformal import hold_level, level_gap, log_residuals
from .robust import damp_outliers
from .uplift import yearly_uplift
from .spikes import Spike, capacity_for, event_mask, expected_traffic, find_spikes, upward_event_steps
from .spike_calibration import (SPIKE_FOLDS, SpikeEvidence, base_rate, calibrate_spikes, dropped_note, explained,
                                fold_evidence)

log = logging.getLogger(__name__)

FALLBACK_MODEL = "seasonal_naive_weekly"
FORECAST_COLS = ["ds", "yhat", "yhat_lo_80", "yhat_hi_80", "yhat_lo_95", "yhat_hi_95"]


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
    min_excess: float = 0.0      # requests per step a spike must rise above the expected traffic
    capacity_rps: tuple[tuple[str, float], ...] = ()   # (series id or glob, requests/s): settings.spike_capacity_rps
    min_probability: float = 0.0   # unexplained spikes under this backtest-calibrated probability are not reported


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
    notes: tuple[str, ...] = ()   # what was done to the history or the forecast (damped outliers, event uplifts)


def fit_series(series: str, history: History | pd.DataFrame, spec: FitSpec) -> SeriesResult:
    """Fit, predict and find spikes for one series; never raises (falls back to seasonal naive)."""
    t0 = time.perf_counter()
    width = step_delta(spec.step)
    ds, y = _columns(history)
    ctx = series_context(spec.events, series, ds, spec.horizon, width)
    y, notes = _robust(series, ds, y, spec, width)
    data = _validated(ds, y, width)
    residuals, backtest = None, None
    try:
        with _deadline(spec.timeout_s, series):
            frame, model, reason, scores, residuals, backtest = _fit_predict(data, ctx, spec, width)
        fallback = False
    except Exception as e:  # noqa: BLE001 - any model failure falls back, by design; the reason is kept
        frame, model, reason, scores = _safe_fallback(data, ds, y, ctx, spec, width, f"{spec.model} failed: {_why(e)}")
        fallback = True
    frame, said = _yearly(series, ds, y, ctx, spec, width, frame, model)
    return _result(series, ds, y, ctx, spec, width, frame, model, reason, fallback, scores, t0, notes + said, residuals,
                   _Evidence(data, model, backtest))


def _yearly(series, ds, y, ctx: SeriesContext, spec: FitSpec, width, frame: Arrays, model: str) -> tuple[Arrays, list[str]]:
    """The forecast lifted by the measured uplift of yearly events (``forecaster.forecast.uplift``)
    when the model ignored the regressors, and the notes saying where each uplift came from."""
    if not spec.events:
        return frame, []
    mult, said = yearly_uplift(spec.events, series, ds, y, ctx.future, width)
    try:
        learns = model_class(model).uses_regressors
    except UnknownName:   # the last resort (a constant median) is no registered model
        learns = False
    if learns:
        return frame, [f"{n} (learned by {model})" if "measured" in n else n for n in said]
    return _uplifted(frame, mult), said


def _robust(series: str, ds: np.ndarray, y: np.ndarray, spec: FitSpec, width: pd.Timedelta) -> tuple[np.ndarray, list[str]]:
    """The history with its outliers damped (``forecaster.forecast.robust``; calendar events kept), and the note."""
    try:
        protected = event_mask(list(spec.events), series, pd.DatetimeIndex(ds), width) if len(ds) else None
        damped, note = damp_outliers(ds, y, width, protected)
    except (ValueError, TypeError) as e:  # a history that does not even validate: the models say why
        log.info("%s: outliers not checked: %s", series, e)
        return y, []
    return damped, [note] if note else []


class _Evidence(NamedTuple):
    """What the spike calibration reads: the validated history, the chosen model, its backtest."""

    data: Prepared | pd.DataFrame
    model: str
    backtest: dict | None


def _result(series, ds, y, ctx, spec: FitSpec, width, frame, model, reason, fallback, scores, t0,
            notes=(), residuals=None, evidence: _Evidence | None = None) -> SeriesResult:
    as_of = spec.as_of if spec.as_of is not None else ctx.future[0]
    spikes = find_spikes(series, frame, {"ds": ds, "y": y}, as_of, width, spec.min_ratio, spec.min_peak,
                         capacity_rps=capacity_for(series, dict(spec.capacity_rps)), events=list(spec.events),
                         min_excess=spec.min_excess, residuals=residuals)
    notes = tuple(notes)
    if evidence is not None and any(not explained(s, list(spec.events)) for s in spikes):
        budget = spec.timeout_s - (time.perf_counter() - t0)
        found = _spike_evidence(series, ds, y, ctx, spec, width, evidence, budget)
        base = None
        if found.flagged == 0 and isinstance(evidence.data, Prepared):
            rule = {"min_ratio": spec.min_ratio, "min_peak": spec.min_peak, "min_excess": spec.min_excess}
            base = base_rate(series, evidence.data.y, evidence.data.ds[0].to_datetime64(), width, rule,
                             list(spec.events))
        spikes, dropped = calibrate_spikes(spikes, found, list(spec.events), spec.min_probability, base=base)
        note = dropped_note(dropped, found, spec.min_probability, base)
        notes += (note,) if note else ()
    held = _held(series, ds, y, spec, width, frame)
    return SeriesResult(series, model, reason, fallback, held, _score_arrays(scores), spikes,
                        time.perf_counter() - t0, notes)


def _held(series, ds, y, spec: FitSpec, width, frame: Arrays) -> Arrays:
    """The forecast's bands held at the series' current level (``conformal.hold_level``): after the
    spikes, which judge a step on the model's own band (its confidence that the step is unusual).
    The level gap is read on the steps no upward calendar event is on (a sale is not a level). The
    backtest coverage the run reports is the calibrated band's, which the held band contains."""
    fds = pd.DatetimeIndex(np.asarray(frame["ds"], dtype="datetime64[ns]"))
    if len(fds) == 0 or not np.isfinite(y).any():
        return frame
    events = list(spec.events)
    expected = expected_traffic(series, {"ds": ds, "y": y}, fds, width, events)
    gap = level_gap(frame["yhat"], expected, ~upward_event_steps(events, series, fds, width))
    return hold_level(frame, gap)


def _spike_evidence(series, ds, y, ctx: SeriesContext, spec: FitSpec, width, evidence: _Evidence,
                    budget_s: float) -> SpikeEvidence:
    """The chosen model's unexplained spikes in backtest folds and how many happened
    (``forecaster.forecast.spike_calibration``): rolling origins a day apart over the history
    (``SPIKE_FOLDS``), within what is left of the series' time budget; the run's own backtest folds
    instead for a slow model (Prophet, MSTL: their selection budget already limits their folds), when
    no more folds can be cut, or when their fits fail or run out of time."""
    from .backtest import evaluate_arrays, make_folds
    from .models.common import season_steps
    from .selection import slow_rule

    rule = {"min_ratio": spec.min_ratio, "min_peak": spec.min_peak, "min_excess": spec.min_excess}
    backtest = evidence.backtest
    if slow_rule(evidence.model) is None and budget_s > 0:
        try:
            with _deadline(budget_s, series):
                folds = make_folds(evidence.data, spec.horizon, SPIKE_FOLDS, width, spec.seed, ctx.hist_regs,
                                   spacing=season_steps(width, pd.Timedelta("1D")))
                backtest = evaluate_arrays(folds, evidence.model, spec.horizon, spec.seed)
        except Exception as e:  # noqa: BLE001 - too short, failing or out of time: the run's own folds are the evidence
            log.info("%s: spike folds not fitted (%s); using the run's backtest", series, _why(e))
    return fold_evidence(series, ds, y, backtest, width, rule, list(spec.events))


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
    except (ForecasterError, ValueError, TypeError):
        return pd.DataFrame({"ds": ds, "y": y})


def _fit_predict(data, ctx: SeriesContext, spec: FitSpec, width: pd.Timedelta):
    scores: pd.DataFrame | None
    if spec.model == "auto":
        from .selection import fit_predict_auto

        frame, choice = fit_predict_auto(data, spec.horizon, width, spec.preset, spec.folds, spec.seed,
                                         ctx.hist_regs, ctx.fut_regs)
        arrays = {c: frame[c].to_numpy() for c in FORECAST_COLS if c in frame.columns}
        model, reason, scores = choice.model, choice.reason, choice.scores
        residuals, backtest = _residuals(choice.backtest), choice.backtest
    else:
        from .models import get_model

        m = get_model(spec.model, step=width, seed=spec.seed)
        arrays = m.fit(data, ctx.hist_regs).forecast_arrays(spec.horizon, (80, 95), ctx.fut_regs)
        model, reason, scores = spec.model, "model named by the caller", _named_scores(data, ctx.hist_regs, spec, width)
        residuals, backtest = None, None
    arrays = _checked(arrays, ctx.future)
    if not model_class(model).uses_regressors:  # the model ignored the events: apply their expected uplift here
        arrays = _uplifted(arrays, ctx.uplift)
    return arrays, model, reason, scores, residuals, backtest


def _residuals(backtest) -> np.ndarray | None:
    """The finite out-of-sample log residuals of the chosen model's backtest (None without one)."""
    if backtest is None:
        return None
    r = log_residuals(np.asarray(backtest["y"], dtype=float), np.asarray(backtest["yhat"], dtype=float))
    r = r[np.isfinite(r)]
    return r if r.size else None


def _fallback(data, ctx: SeriesContext, spec: FitSpec, width, reason: str):
    from .models import get_model

    log.warning("fallback to %s: %s", FALLBACK_MODEL, reason)
    arrays = get_model(FALLBACK_MODEL, step=width, seed=spec.seed).fit(data).forecast_arrays(spec.horizon, (80, 95))
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
        raise ModelError(f"model output lacks columns {sorted(missing)}")
    ds = np.asarray(arrays["ds"], dtype="datetime64[ns]")
    if len(ds) != len(future) or not bool((ds == future.values).all()):
        raise ModelError(f"model returned {len(ds)} steps from {pd.Timestamp(ds[0]) if len(ds) else None}, "
                       f"expected {len(future)} from {future[0]}")
    out = {"ds": ds, **{c: np.asarray(arrays[c], dtype=float) for c in FORECAST_COLS[1:]}}
    if not all(np.isfinite(out[c]).all() for c in FORECAST_COLS[1:]):
        raise ModelError("model returned non-finite values")
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
    y, notes = _robust(series, ds, y, spec, width)
    data = _validated(ds, y, width)
    frame, model, why, scores = _safe_fallback(data, ds, y, ctx, spec, width, reason)
    return _result(series, ds, y, ctx, spec, width, frame, model, why, True, scores, t0, notes,
                   evidence=_Evidence(data, model, None))
