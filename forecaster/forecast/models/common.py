"""Shared plumbing of the model wrappers: history checks, periods from the step, regressors, output frame.

Kernels stay in each model module; this holds only what every wrapper needs the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist
from typing import Union

import numpy as np
import pandas as pd

from ...errors import BadInput, InsufficientHistory
from .base import Arrays

DAY = pd.Timedelta("1D")
WEEK = pd.Timedelta("7D")


@dataclass(frozen=True)
class Prepared:
    """One validated history: values (NaN = no data), its timestamps and its step."""

    ds: pd.DatetimeIndex
    y: np.ndarray
    step: pd.Timedelta

    @property
    def n(self) -> int:
        return len(self.y)

    @property
    def n_observed(self) -> int:
        return int(np.isfinite(self.y).sum())


def infer_step(ds: pd.Series | pd.DatetimeIndex) -> pd.Timedelta:
    """The step of a regular series: the most common difference between timestamps."""
    diffs = pd.Series(pd.DatetimeIndex(ds)).diff().dropna()
    if diffs.empty:
        raise InsufficientHistory("cannot infer the step from fewer than 2 timestamps; pass step=")
    return pd.Timedelta(diffs.mode().iloc[0])


#: what a model's ``fit`` takes: a frame (ds, y), or a history :func:`prepare` already validated
HistoryLike = Union[pd.DataFrame, Prepared]


def prepare(history: HistoryLike, step: pd.Timedelta | None) -> Prepared:
    """Validate ``history`` (columns ds, y) and put it on a regular grid at ``step``.

    Missing steps become NaN (no data), never zero. Raises InsufficientHistory when no value is observed.
    """
    if isinstance(history, Prepared):  # already validated (backtest folds, auto selection): no copy, no pandas
        if step is None or pd.Timedelta(step) == history.step:
            return history
        history = pd.DataFrame({"ds": history.ds, "y": history.y})
    missing = {"ds", "y"} - set(history.columns)
    if missing:
        raise BadInput(f"history needs columns ds, y; missing {sorted(missing)}, got {list(history.columns)}")
    if history.empty:
        raise InsufficientHistory("history is empty; need at least 1 observed value")
    ds_col, y_col = history["ds"], history["y"]
    if ds_col.dtype == "datetime64[ns]":  # the common case: skip to_datetime's parsing machinery
        ds = pd.DatetimeIndex(ds_col.to_numpy())
    else:
        ds = pd.DatetimeIndex(pd.to_datetime(ds_col))
        if ds.tz is not None:
            ds = ds.tz_convert("UTC").tz_localize(None)
    if y_col.dtype.kind in "fiu":
        y = y_col.to_numpy(dtype=float)
    else:
        y = pd.to_numeric(y_col, errors="coerce").to_numpy(dtype=float)
    return prepare_arrays(ds, y, step)


def prepare_arrays(ds: pd.DatetimeIndex | np.ndarray, y: np.ndarray, step: pd.Timedelta | None) -> Prepared:
    """:func:`prepare` for a history already held as arrays (naive UTC datetime64 ``ds``, float ``y``):
    the same checks and regular grid, without building a frame. ``y`` is copied, never modified."""
    ds = ds if isinstance(ds, pd.DatetimeIndex) else pd.DatetimeIndex(np.asarray(ds, dtype="datetime64[ns]"))
    y = np.asarray(y, dtype=float)
    if len(ds) == 0:
        raise InsufficientHistory("history is empty; need at least 1 observed value")
    if step is None:
        step = infer_step(ds) if len(ds) > 1 else pd.Timedelta("1h")
    step = pd.Timedelta(step)
    if step <= pd.Timedelta(0):
        raise BadInput(f"step must be positive, got {step}")
    gaps = np.diff(ds.values)
    if len(ds) > 1 and np.all(gaps == step.to_timedelta64()):  # already regular: the common, fast path
        grid, values = ds, y.copy()
    else:
        s = pd.Series(y, index=ds).groupby(level=0).sum(min_count=1).sort_index()
        grid = pd.date_range(s.index[0], s.index[-1], freq=step)
        off_grid = s.index.difference(grid)
        if len(off_grid):
            raise BadInput(f"{len(off_grid)} history timestamps are off the {step} grid starting "
                           f"{s.index[0]}, first {off_grid[0]}")
        values = s.reindex(grid).to_numpy(dtype=float, copy=True)
    if np.any(values[np.isfinite(values)] < 0):
        raise BadInput(f"history holds negative counts (min {np.nanmin(values)}); counts are >= 0")
    values[~np.isfinite(values)] = np.nan
    prepared = Prepared(ds=grid, y=values, step=step)
    if prepared.n_observed == 0:
        raise InsufficientHistory(f"history of {prepared.n} steps holds no observed value (all NaN)")
    return prepared


def season_steps(step: pd.Timedelta, season: pd.Timedelta) -> int:
    """Steps in one season (day or week) at ``step``; at least 1."""
    return max(1, int(round(season / step)))


def periods(step: pd.Timedelta) -> tuple[int, int]:
    """(daily, weekly) seasonal periods in steps."""
    return season_steps(step, DAY), season_steps(step, WEEK)


def future_index(last: pd.Timestamp, step: pd.Timedelta, horizon: int) -> pd.DatetimeIndex:
    """The ``horizon`` timestamps continuing a history that ends at ``last``."""
    if horizon < 1:
        raise BadInput(f"horizon must be >= 1 step, got {horizon}")
    # numpy arithmetic, not pd.date_range (~0.1 ms, called for every fold of every candidate)
    first = pd.Timestamp(last) + step
    values = first.to_datetime64() + np.arange(horizon) * pd.Timedelta(step).to_timedelta64()
    return pd.DatetimeIndex(values.astype(f"datetime64[{first.unit}]"))   # date_range's resolution: the start's


def interpolated(y: np.ndarray) -> np.ndarray:
    """Linear interpolation of NaN gaps, edges filled with the nearest value (statsmodels cannot take NaN)."""
    s = pd.Series(y)
    return s.interpolate(limit_direction="both").to_numpy(dtype=float)


def z(level: int) -> float:
    """Two-sided normal quantile of a central ``level``% interval."""
    return NormalDist().inv_cdf(0.5 + level / 200.0)


def align_regressors(regressors: pd.DataFrame | None, index: pd.DatetimeIndex) -> pd.DataFrame:
    """Regressor columns (all but ds) on ``index``; absent rows are 0 (no event)."""
    if regressors is None or regressors.empty:
        return pd.DataFrame(index=index)
    return pd.DataFrame(aligned_arrays(regressors, index), index=index)


def aligned_arrays(regressors: pd.DataFrame | None, index: pd.DatetimeIndex) -> Arrays:
    """:func:`align_regressors` as a dict of float arrays (column -> values on ``index``), no frame built."""
    if regressors is None or regressors.empty:
        return {}
    if "ds" not in regressors.columns:
        raise BadInput(f"regressors need a ds column, got {list(regressors.columns)}")
    ds = regressors["ds"]
    if ds.dtype == "datetime64[ns]":
        values = ds.to_numpy()
        if len(values) < 2 or bool((values[1:] > values[:-1]).all()):  # sorted, unique: align with numpy
            return _aligned_sorted(regressors, values, index)
    frame = regressors.copy()
    frame["ds"] = pd.to_datetime(frame["ds"])
    frame = frame.groupby("ds").max()
    frame = frame.reindex(index).fillna(0.0).astype(float)
    return {c: frame[c].to_numpy() for c in frame.columns}


def _aligned_sorted(regressors: pd.DataFrame, ds: np.ndarray, index: pd.DatetimeIndex) -> Arrays:
    """``aligned_arrays`` for a frame whose ds is sorted and unique (what events.regressors builds)."""
    want = index.values
    pos = np.searchsorted(ds, want)
    inside = pos < len(ds)
    hit = np.zeros(len(want), dtype=bool)
    hit[inside] = ds[pos[inside]] == want[inside]
    cols = {}
    for c in regressors.columns:
        if c == "ds":
            continue
        v = regressors[c].to_numpy(dtype=float)
        out = np.zeros(len(want))
        out[hit] = v[pos[hit]]
        out[np.isnan(out)] = 0.0
        cols[c] = out
    return cols


def merge_regressors(*frames: pd.DataFrame | None) -> pd.DataFrame | None:
    """Concatenate regressor frames (history part, future part); later rows win on duplicate ds."""
    present = [f for f in frames if f is not None and not f.empty]
    if not present:
        return None
    frame = pd.concat(present, ignore_index=True)
    return frame.drop_duplicates("ds", keep="last")


def finish_arrays(index: pd.DatetimeIndex | np.ndarray, yhat: np.ndarray, bounds: dict[int, tuple[np.ndarray, np.ndarray]],
                  levels: tuple[int, ...]) -> Arrays:
    """The output columns: clipped at 0, intervals nested (wider level outside narrower) around yhat."""
    yhat = point_values(yhat)
    out = {"ds": np.asarray(index.values if isinstance(index, pd.DatetimeIndex) else index), "yhat": yhat}
    lo_prev, hi_prev = yhat, yhat
    for level in sorted(levels):
        lo, hi = bounds[level]
        lo, hi = _nan_to_zero(lo), _nan_to_zero(hi)
        lo = np.clip(np.minimum(lo, lo_prev), 0.0, None)
        hi = np.maximum(hi, hi_prev)
        out[f"yhat_lo_{level}"], out[f"yhat_hi_{level}"] = lo, hi
        lo_prev, hi_prev = lo, hi
    return out  # columns in order: ds, yhat, then lo/hi per level ascending


def point_values(yhat) -> np.ndarray:
    """A point forecast as the output frame holds it: float, NaN as 0, clipped at 0 (counts)."""
    return np.clip(_nan_to_zero(yhat), 0.0, None)


def _nan_to_zero(values) -> np.ndarray:
    """``np.nan_to_num(values, nan=0.0)`` as float, skipping its Python-level checks when every value is
    finite (the usual case; the result is only read, never written in place)."""
    values = np.asarray(values, dtype=float)
    return values if np.isfinite(values).all() else np.nan_to_num(values, nan=0.0)


def finish(index: pd.DatetimeIndex, yhat: np.ndarray, bounds: dict[int, tuple[np.ndarray, np.ndarray]],
           levels: tuple[int, ...]) -> pd.DataFrame:
    """The output frame: clipped at 0, intervals nested (wider level outside narrower) around yhat."""
    return pd.DataFrame(finish_arrays(index, yhat, bounds, levels))


def constant_arrays(index: pd.DatetimeIndex, value: float, levels: tuple[int, ...]) -> Arrays:
    """A flat forecast with zero-width intervals (as arrays): what a constant history predicts."""
    yhat = np.full(len(index), value)
    return finish_arrays(index, yhat, {lv: (yhat, yhat) for lv in levels}, levels)


def constant_forecast(index: pd.DatetimeIndex, value: float, levels: tuple[int, ...]) -> pd.DataFrame:
    """A flat forecast with zero-width intervals: what a constant history predicts."""
    return pd.DataFrame(constant_arrays(index, value, levels))


def is_constant(y: np.ndarray) -> bool:
    observed = y[np.isfinite(y)]
    return observed.size > 0 and float(np.ptp(observed)) == 0.0


def require(prepared: Prepared, min_steps: int, model: str, why: str) -> None:
    """Raise InsufficientHistory with the numbers when the history is shorter than ``min_steps``."""
    if prepared.n < min_steps or prepared.n_observed < 2:
        raise InsufficientHistory(
            f"{model} needs at least {min_steps} steps ({why}) with 2+ observed values; "
            f"history has {prepared.n} steps, {prepared.n_observed} observed"
        )


def start_predict(model, horizon: int, levels: tuple[int, ...]) -> tuple[Prepared, pd.DatetimeIndex, Arrays | None]:
    """The common start of ``predict_arrays``: (fitted data, future index, the flat forecast of a
    constant series, as arrays, or None)."""
    data = getattr(model, "_data", None)
    if data is None:
        raise RuntimeError(f"{model.name}: call fit() before predict()")
    index = future_index(data.ds[-1], data.step, horizon)
    flat = constant_arrays(index, float(np.nanmax(data.y)), levels) if is_constant(data.y) else None
    return data, index, flat
