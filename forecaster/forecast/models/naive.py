"""Seasonal naive: repeat the last season. The floor every other model must beat, and the fallback.

Intervals come from the empirical distribution of seasonal differences ``y[t] - y[t-m]``, widened
by sqrt(k) for the k-th season ahead (a random walk over seasons). Missing values skip back to the
previous season with data. A history shorter than one season degrades gracefully (weekly -> daily
-> last value) instead of failing: this model is what the orchestrator falls back to.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .base import Arrays, ForecastModel, register_model
from .common import (HistoryLike, DAY, WEEK, Prepared, finish_arrays, future_index, point_values, prepare,
                     season_steps)


class SeasonalNaive(ForecastModel):
    """Repeat the value one season earlier (skipping back over missing seasons)."""

    predicts_arrays = True

    def __init__(self, name: str, season: pd.Timedelta, step: pd.Timedelta | None = None, seed: int = 0):
        self.name, self.season, self.step, self.seed = name, pd.Timedelta(season), step, seed
        self._data: Prepared | None = None
        self.period = 1

    def fit(self, history: HistoryLike, regressors: pd.DataFrame | None = None) -> "SeasonalNaive":
        self._data = prepare(history, self.step)
        self.period = effective_period(self._data.n, self._data.step, self.season)
        return self

    def predict_arrays(self, horizon: int, levels: tuple[int, ...] = (80, 95),
                       future_regressors: pd.DataFrame | None = None) -> Arrays:
        data = self._fitted()
        index = future_index(data.ds[-1], data.step, horizon)
        yhat = repeat_last_season(data.y, self.period, horizon)
        k = np.arange(horizon) // self.period + 1
        diffs = seasonal_differences(data.y, self.period)
        alphas = [(100 - level) / 200.0 for level in levels]
        # every level's quantiles in one call (one sort of the differences, not one per level)
        qs = np.quantile(diffs, [q for a in alphas for q in (a, 1 - a)]) if diffs.size else np.zeros(2 * len(levels))
        bounds = {}
        for i, level in enumerate(levels):
            q_lo, q_hi = qs[2 * i], qs[2 * i + 1]
            bounds[level] = (yhat + q_lo * np.sqrt(k), yhat + q_hi * np.sqrt(k))
        return finish_arrays(index, yhat, bounds, levels)

    def point_forecast(self, horizon: int) -> np.ndarray:
        """``predict_arrays(horizon)["yhat"]`` without the intervals and the frame (the backtests'
        benchmark needs only this)."""
        return point_values(repeat_last_season(self._fitted().y, self.period, horizon))

    def _fitted(self) -> Prepared:
        if self._data is None:
            raise RuntimeError(f"{self.name}: call fit() before predict()")
        return self._data


def effective_period(n: int, step: pd.Timedelta, season: pd.Timedelta) -> int:
    """The longest of (season, one day, one step) that the history covers."""
    for candidate in (season, DAY):
        if candidate <= season:
            period = season_steps(step, candidate)
            if n >= period:
                return period
    return 1


def repeat_last_season(y: np.ndarray, period: int, horizon: int) -> np.ndarray:
    """For each future step, the latest observed value at the same phase of the season."""
    n = len(y)
    h = np.arange(horizon)
    t = n + h - (h // period + 1) * period
    finite = np.isfinite(y)
    missing = (t >= 0) & ~finite[np.clip(t, 0, None)]
    while missing.any():  # skip back one season where there is no data, until data or the start
        t[missing] -= period
        missing &= t >= 0
        missing[missing] = ~finite[t[missing]]
    out = np.where(t >= 0, y[np.clip(t, 0, None)], np.nan)
    if (t < 0).any():
        out[t < 0] = float(np.nanmedian(y))
    return out


def seasonal_differences(y: np.ndarray, period: int) -> np.ndarray:
    """Finite ``y[t] - y[t-period]``; lag-1 differences when the season is not covered twice."""
    for lag in (period, 1):
        if len(y) > lag:
            d = y[lag:] - y[:-lag]
            d = d[np.isfinite(d)]
            if d.size >= 2:
                return d
    return np.empty(0)


@register_model("seasonal_naive_daily")
class SeasonalNaiveDaily(SeasonalNaive):
    name = "seasonal_naive_daily"

    def __init__(self, step: pd.Timedelta | None = None, seed: int = 0):
        super().__init__(self.name, DAY, step=step, seed=seed)


@register_model("seasonal_naive_weekly")
class SeasonalNaiveWeekly(SeasonalNaive):
    name = "seasonal_naive_weekly"

    def __init__(self, step: pd.Timedelta | None = None, seed: int = 0):
        super().__init__(self.name, WEEK, step=step, seed=seed)
