"""Robust seasonal profile: the median (or mean) of the same hour-of-week over the last k weeks.

    yhat[t] = profile[t] * level * event_multiplier[t]

- ``profile``: same phase of the week (of the day, when the history is shorter than a week) over
  the last ``weeks`` seasons, event hours masked out, NaN skipped.
- ``level``: sum of the last ``level_days`` of actuals over the sum of the profile for those hours
  (built from the seasons before them), clipped to ``level_clip`` — follows growth and dips —
  and its **trend**: the daily growth of that ratio over the last week (the slower of its two
  half-weeks, only when both move the same way), damped and clipped to ``trend_clip`` per day,
  carried over the horizon so a ramp keeps ramping instead of stopping at today's level.
- ``event_multiplier``: for each regressor column (an event indicator, > 0 = active), the ratio of
  actual to profile over its past active hours, clipped to ``event_clip``; an event never seen
  before uses ``<event>_uplift`` from the regressors if given (e.g. 2.0 = expected to double), else 1.
- intervals: empirical quantiles of in-sample residuals on the log1p scale, each residual taken
  against the profile at the level known a day before it (not today's level: on a ramp the
  past would look biased low against today's level and shift every interval down).

Fits in well under a millisecond per 1,000 steps.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ...errors import InsufficientHistory
from .base import Arrays, ForecastModel, register_model
from .common import (HistoryLike, Prepared, aligned_arrays, finish_arrays, future_index,
                     merge_regressors, periods, prepare)

UPLIFT_SUFFIX = "_uplift"


@register_model("seasonal_profile")
class SeasonalProfile(ForecastModel):
    name = "seasonal_profile"
    predicts_arrays = True
    uses_regressors = True   # learns event multipliers; applies the uplift of one-off events

    def __init__(self, step: pd.Timedelta | None = None, seed: int = 0, weeks: int = 4,
                 agg: str = "median", level_days: float = 2.0, level_clip: tuple[float, float] = (0.5, 2.0),
                 event_clip: tuple[float, float] = (0.2, 10.0), residual_weeks: int = 4,
                 trend_clip: tuple[float, float] = (0.97, 1.03), trend_damping: float = 0.5):
        if agg not in ("median", "mean"):
            raise ValueError(f"agg must be 'median' or 'mean', got {agg!r}")
        if weeks < 1:
            raise ValueError(f"weeks must be >= 1, got {weeks}")
        self.step, self.seed, self.weeks, self.agg = step, seed, weeks, agg
        self.level_days, self.level_clip, self.event_clip = level_days, level_clip, event_clip
        self.residual_weeks = residual_weeks
        self.trend_clip, self.trend_damping = trend_clip, trend_damping
        self._data: Prepared | None = None
        self._regressors: pd.DataFrame | None = None

    def fit(self, history: HistoryLike, regressors: pd.DataFrame | None = None) -> "SeasonalProfile":
        data = prepare(history, self.step)
        daily, weekly = periods(data.step)
        if data.n >= weekly:
            self.period = weekly
        elif data.n >= daily:
            self.period = daily
        else:
            raise InsufficientHistory(
                f"seasonal_profile needs at least one day ({daily} steps at {data.step}); history has {data.n} steps")
        self._data, self._regressors = data, regressors
        regs = aligned_arrays(regressors, data.ds)
        self.events = [c for c in regs if not c.endswith(UPLIFT_SUFFIX)]
        active = np.any([regs[e] > 0 for e in self.events], axis=0) if self.events else np.zeros(data.n, bool)
        self._masked = np.where(active, np.nan, data.y)
        self._active, self._daily = active, daily
        self.level = self._level(data, active, daily)
        self.trend = self._trend(data, active, daily)
        self.multipliers = self._event_multipliers(data, regs)
        self.quantiles = self._residual_quantiles(data, regs)
        return self

    def predict_arrays(self, horizon: int, levels: tuple[int, ...] = (80, 95),
                       future_regressors: pd.DataFrame | None = None) -> Arrays:
        data = self._fitted()
        index = future_index(data.ds[-1], data.step, horizon)
        t = np.arange(data.n, data.n + horizon)
        regs = aligned_arrays(self._future_regressors(future_regressors, index), index)
        days_ahead = (np.arange(horizon) + 1) / self._daily
        growth = self.trend ** (self.trend_damping * days_ahead)
        yhat = self._profile_at(t) * self.level * growth * self._multiplier(regs, horizon)
        base = np.log1p(np.clip(yhat, 0, None))
        bounds = {}
        for level in levels:
            alpha = (100 - level) / 200.0
            q_lo, q_hi = self._quantile(alpha), self._quantile(1 - alpha)
            bounds[level] = (np.expm1(base + q_lo), np.expm1(base + q_hi))
        return finish_arrays(index, yhat, bounds, levels)

    # -- pieces -----------------------------------------------------------------------------------

    def _future_regressors(self, future: pd.DataFrame | None, index: pd.DatetimeIndex) -> pd.DataFrame | None:
        """The regressors for ``index``: the future ones alone when the fitted ones end before it (the
        usual case; a column only in the history is all zero there and multiplies by exactly 1),
        else both merged."""
        past = self._regressors
        if past is None or past.empty:
            return future
        if future is not None and not future.empty and pd.Timestamp(past["ds"].to_numpy().max()) < index[0]:
            return future
        return merge_regressors(past, future)

    def _profile_at(self, t: np.ndarray) -> np.ndarray:
        """Aggregate of the same phase over the ``weeks`` seasons before each target (never after the history)."""
        n, p = len(self._masked), self.period
        first = np.maximum(1, (t - n) // p + 1)
        idx = t[:, None] - (first[:, None] + np.arange(self.weeks)[None, :]) * p
        vals = np.where(idx >= 0, self._masked[np.clip(idx, 0, None)], np.nan)
        if self.agg == "median":
            out = row_nanmedian(vals)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                out = np.nanmean(vals, axis=1)
        fallback = np.nanmedian(self._masked) if np.isfinite(self._masked).any() else np.nanmedian(
            self._fitted().y)
        return np.where(np.isfinite(out), out, fallback)

    def _level(self, data: Prepared, active: np.ndarray, daily: int, end: int | None = None) -> float:
        """Actuals over profile in the ``level_days`` before step ``end`` (default: the end of the history)."""
        end = data.n if end is None else end
        recent = min(int(round(self.level_days * daily)), end - self.period)
        if recent < 1:
            return 1.0
        t = np.arange(end - recent, end)
        actual, prof = data.y[t], self._profile_at(t)
        ok = np.isfinite(actual) & ~active[t]
        total = prof[ok].sum()
        if total <= 0:
            return 1.0
        return float(np.clip(actual[ok].sum() / total, *self.level_clip))

    def _trend(self, data: Prepared, active: np.ndarray, daily: int) -> float:
        """Daily growth of the level over the last week, clipped to ``trend_clip``: the level a week
        ago, half a week ago and now must move the same way in both halves (a ramp; one odd week
        or a dip is no trend), and the slower half's growth is taken. 1 without a week to tell."""
        back = 7 * daily
        if data.n - back < self.period + int(round(self.level_days * daily)):
            return 1.0
        l0 = self._level(data, active, daily, data.n - back)
        l1 = self._level(data, active, daily, data.n - back // 2)
        if min(l0, l1, self.level) <= 0:
            return 1.0
        days = back / 2 / daily
        g1, g2 = (l1 / l0) ** (1 / days), (self.level / l1) ** (1 / days)
        if (g1 - 1) * (g2 - 1) <= 0:
            return 1.0
        slower = g1 if abs(g1 - 1) < abs(g2 - 1) else g2
        return float(np.clip(slower, *self.trend_clip))

    def _levels_at(self, t: np.ndarray, lag: int) -> np.ndarray:
        """The level known ``lag`` steps before each step of ``t`` (actuals over profile in the
        ``level_days`` before it; 1 where there is no season to compare with)."""
        data = self._fitted()
        y = np.where(np.isfinite(data.y) & ~self._active, data.y, 0.0)
        prof_all = np.zeros(data.n)
        start = self.period
        if data.n > start:
            idx = np.arange(start, data.n)
            prof_all[idx] = np.where(np.isfinite(data.y[idx]) & ~self._active[idx], self._profile_at(idx), 0.0)
        cy, cp = np.r_[0.0, np.cumsum(y)], np.r_[0.0, np.cumsum(prof_all)]
        width = max(1, int(round(self.level_days * self._daily)))
        end = np.clip(t - lag, 0, data.n)
        begin = np.clip(end - width, start, None)
        begin = np.minimum(begin, end)
        num, den = cy[end] - cy[begin], cp[end] - cp[begin]
        with np.errstate(divide="ignore", invalid="ignore"):
            lev = np.where(den > 0, num / np.where(den > 0, den, 1.0), 1.0)
        return np.clip(lev, *self.level_clip)

    def _event_multipliers(self, data: Prepared, regs: Arrays) -> dict[str, float]:
        """Learned ratio actual/profile over each event's past active hours (events never seen: absent)."""
        out = {}
        for event in self.events:
            t = np.flatnonzero(regs[event] > 0)
            t = t[t >= self.period]
            if t.size == 0:
                continue
            actual, prof = data.y[t], self._profile_at(t) * self.level
            ok = np.isfinite(actual)
            if ok.any() and prof[ok].sum() > 0:
                out[event] = float(np.clip(actual[ok].sum() / prof[ok].sum(), *self.event_clip))
        return out

    def _multiplier(self, regs: Arrays, n: int) -> np.ndarray:
        """The event multiplier at each of ``n`` steps, from regressor columns aligned on them."""
        mult = np.ones(n)
        for event in [c for c in regs if not c.endswith(UPLIFT_SUFFIX)]:
            weight = np.clip(regs[event], 0, 1)
            if event in self.multipliers:
                m = np.full(n, self.multipliers[event])
            elif event + UPLIFT_SUFFIX in regs:
                m = regs[event + UPLIFT_SUFFIX]
                m = np.where(m > 0, m, 1.0)
            else:
                continue
            mult *= 1 + weight * (m - 1)
        return mult

    def _residual_quantiles(self, data: Prepared, regs: Arrays) -> np.ndarray:
        start = max(self.period, data.n - self.residual_weeks * self.period)
        t = np.arange(start, data.n)
        if t.size == 0:
            return np.empty(0)
        fit = self._profile_at(t) * self._levels_at(t, self._daily) * self._multiplier(
            {c: v[t] for c, v in regs.items()}, t.size)
        r = np.log1p(data.y[t]) - np.log1p(np.clip(fit, 0, None))
        return np.sort(r[np.isfinite(r)])

    def _quantile(self, q: float) -> float:
        return float(np.quantile(self.quantiles, q)) if self.quantiles.size >= 2 else 0.0

    def _fitted(self) -> Prepared:
        if self._data is None:
            raise RuntimeError("seasonal_profile: call fit() before predict()")
        return self._data


def row_nanmedian(vals: np.ndarray) -> np.ndarray:
    """``np.nanmedian(vals, axis=1)`` (NaN for an all-NaN row, no warning) for a few columns: sort
    puts NaN last, so the median of row i is at the middle of its first k_i values. numpy's own
    takes a masked-array path for short rows that costs ~10x more."""
    s = np.sort(vals, axis=1)
    k = (~np.isnan(vals)).sum(axis=1)
    rows = np.arange(len(vals))
    lo, hi = s[rows, np.maximum((k - 1) // 2, 0)], s[rows, np.maximum(k // 2, 0)]
    return np.where(k > 0, (lo + hi) / 2, np.nan)

