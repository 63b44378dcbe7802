"""Seasonal naive: repeat the last season. The floor every other model must beat, and the fallback.

Intervals come from the empirical distribution of seasonal differences ``y[t] - y[t-m]``, widened
by sqrt(k) for the k-th season ahead (a random walk over seasons). Missing values skip back to the
previous season with data. A history shorter than one season degrades gracefully (weekly -> daily
-> last value) instead of failing: this model is what the orchestrator falls back to.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .base import register_model
from .common import DAY, WEEK, Prepared, finish, future_index, prepare, season_steps


class SeasonalNaive:
    """Repeat the value one season earlier (skipping back over missing seasons)."""

    def __init__(self, name: str, season: pd.Timedelta, step: pd.Timedelta | None = None, seed: int = 0):
        self.name, self.season, self.step, self.seed = name, pd.Timedelta(season), step, seed
        self._data: Prepared | None = None
        self.period = 1

    def fit(self, history: pd.DataFrame, regressors: pd.DataFrame | None = None) -> "SeasonalNaive":
        self._data = prepare(history, self.step)
        self.period = effective_period(self._data.n, self._data.step, self.season)
        return self

    def predict(self, horizon: int, levels: tuple[int, ...] = (80, 95),
                future_regressors: pd.DataFrame | None = None) -> pd.DataFrame:
        data = self._fitted()
        index = future_index(data.ds[-1], data.step, horizon)
        yhat = repeat_last_season(data.y, self.period, horizon)
        k = np.arange(horizon) // self.period + 1
        diffs = seasonal_differences(data.y, self.period)
        bounds = {}
        for level in levels:
            alpha = (100 - level) / 200.0
            q_lo, q_hi = (np.quantile(diffs, [alpha, 1 - alpha]) if diffs.size else (0.0, 0.0))
            bounds[level] = (yhat + q_lo * np.sqrt(k), yhat + q_hi * np.sqrt(k))
        return finish(index, yhat, bounds, levels)

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
    fallback = float(np.nanmedian(y))
    out = np.empty(horizon)
    for h in range(horizon):
        t = n + h - (h // period + 1) * period
        while t >= 0 and not np.isfinite(y[t]):
            t -= period
        out[h] = y[t] if t >= 0 else fallback
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
def seasonal_naive_daily(step: pd.Timedelta | None = None, seed: int = 0) -> SeasonalNaive:
    return SeasonalNaive("seasonal_naive_daily", DAY, step=step, seed=seed)


@register_model("seasonal_naive_weekly")
def seasonal_naive_weekly(step: pd.Timedelta | None = None, seed: int = 0) -> SeasonalNaive:
    return SeasonalNaive("seasonal_naive_weekly", WEEK, step=step, seed=seed)
