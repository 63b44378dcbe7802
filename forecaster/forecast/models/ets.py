"""ETS: additive error, damped additive trend, additive daily seasonality (statsmodels ETSModel).

Fitted on log1p(counts) by default (seasonality of traffic is multiplicative in counts), NaN gaps
interpolated, on the last ``window`` of history (default 14 days: exponential smoothing forgets
older data anyway, and the cost grows with the length). The smoothing parameters come from a
vectorised grid search on the one-step SSE (~3 ms) instead of statsmodels' MLE (~100 ms on 28
days hourly); the states are then filtered with them by statsmodels' own recursion and heuristic
initial states (:func:`initial_states`, statsmodels' ``_initialization_heuristic`` in numpy: 0.05 ms
instead of 0.6 ms), as a scalar loop (:func:`ets_filter`, ~1 ms instead of ~10 ms for building and
fitting an ``ETSModel``). Intervals are analytic (class-1 model) on the fitted scale, mapped back
with expm1. Regressors are ignored.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import pandas as pd

from .base import Arrays, ForecastModel, Training, register_model
from .common import (HistoryLike, Prepared, finish_arrays, interpolated, periods, prepare, require,
                     start_predict)
from .common import z as z_of

Transform = Callable[[np.ndarray], np.ndarray]
TRANSFORMS: dict[str, tuple[Transform, Transform]] = {   # name -> (forward, back)
    "log1p": (np.log1p, np.expm1),
    "none": (lambda v: v, lambda v: v),
}


# Smoothing-parameter grid searched for ETS(A, Ad, A): statsmodels' own MLE costs ~100 ms per fit
# (numerical gradients over Python-level likelihood calls); this grid, run for all combinations at
# once in numpy, picks the one-step SSE minimiser in a few ms, and statsmodels then filters with it.
GRID_ALPHA = (0.02, 0.05, 0.1, 0.2, 0.35, 0.5, 0.7)
GRID_BETA = (1e-4, 0.005, 0.02)
GRID_GAMMA = (0.01, 0.05, 0.1, 0.2, 0.35)
GRID_PHI = (0.9, 0.98)


def parameter_grid(seasonal: bool, damped: bool) -> np.ndarray:
    """Rows (alpha, beta, gamma, phi) inside statsmodels' admissible region (beta < alpha, gamma < 1 - alpha)."""
    rows = [(a, b, g if seasonal else 0.0, p if damped else 1.0)
            for a in GRID_ALPHA for b in GRID_BETA for g in (GRID_GAMMA if seasonal else (0.0,))
            for p in (GRID_PHI if damped else (1.0,)) if b < a and g < 1 - a]
    return np.array(sorted(set(rows)))


def grid_search(z: np.ndarray, m: int, damped: bool) -> np.ndarray:
    """The (alpha, beta, gamma, phi) with the lowest one-step SSE, all combinations filtered at once."""
    return grid_search_many(np.asarray(z, dtype=float)[None, :], m, damped)[0]


def grid_search_many(zs: np.ndarray, m: int, damped: bool) -> np.ndarray:
    """:func:`grid_search` for several series of the same length at once (rows of ``zs``; the
    backtest folds of one series): one row of parameters per series.

    The loop is Python over time steps, numpy over series x grid, so F series cost little more than
    one. ufuncs write into preallocated buffers and the seasonal states are stored season-major
    (each step reads one contiguous block): each series gets the same numbers, bit for bit, as the
    plain per-series recursion (``tests/models/test_ets_filter.py``)."""
    seasonal = m > 1
    grid = parameter_grid(seasonal, damped)
    alpha, beta, gamma, phi = (np.ascontiguousarray(c) for c in grid.T)
    season = max(m, 1)
    zs = np.asarray(zs, dtype=float)
    f, g = zs.shape[0], len(grid)
    first = np.array([row[:season].mean() for row in zs])
    second = np.array([row[season:2 * season].mean() if len(row) >= 2 * season else row[:season].mean() for row in zs])
    level = np.repeat(first[:, None], g, axis=1)
    trend = np.repeat(((second - first) / season)[:, None], g, axis=1)
    initial = zs[:, :season] - first[:, None] if seasonal else np.zeros((f, 1))
    states = np.ascontiguousarray(np.repeat(initial.T[:, :, None], g, axis=2))   # (season, series, grid)
    sse = np.zeros((f, g))
    damped_trend, base, e, tmp = (np.empty((f, g)) for _ in range(4))
    mul, add, sub = np.multiply, np.add, np.subtract
    columns = np.ascontiguousarray(zs.T[:, :, None])   # (time, series, 1): y of every series at step t
    for t in range(zs.shape[1]):
        s = states[t % season]
        mul(phi, trend, out=damped_trend)     # base = level + phi * trend
        add(level, damped_trend, out=base)
        sub(columns[t], base, out=e)          # e = y - base - s
        sub(e, s, out=e)
        mul(alpha, e, out=tmp)                # level = base + alpha * e
        add(base, tmp, out=level)
        mul(beta, e, out=tmp)                 # trend = phi * trend + beta * e
        add(damped_trend, tmp, out=trend)
        if seasonal:
            mul(gamma, e, out=tmp)            # s += gamma * e
            add(s, tmp, out=s)
        if t >= season:
            mul(e, e, out=tmp)                # sse += e * e
            add(sse, tmp, out=sse)
    return grid[np.argmin(sse, axis=1)]


_PINV_LEVEL = np.linalg.pinv(np.c_[np.ones(10), np.arange(10) + 1])  # level/trend from 10 points


def initial_states(z: np.ndarray, seasonal_periods: int | None) -> tuple[float, float, np.ndarray | None]:
    """(level, trend, seasonal states) by statsmodels' ``_initialization_heuristic`` (additive trend
    and season; Hyndman & Athanasopoulos, section 2.6) in numpy: the centred 2 x m moving average
    of the first cycles (at most 5) as the trend, the mean detrended value per phase (normalised)
    as the season, a line through the first 10 trend values for level and slope. Equal to
    statsmodels' to 1e-14 (``tests/models/test_ets_filter.py``) at a tenth of its cost (pandas rolling)."""
    n = len(z)
    if n < 10:
        raise ValueError(f"Cannot use heuristic method with less than 10 observations (got {n}).")
    season, level_src = None, np.asarray(z, dtype=float)
    m = seasonal_periods
    if m:
        min_obs = 10 + 2 * (m // 2)
        if n < 2 * m or n < min_obs:
            raise ValueError(f"Cannot compute initial seasonals with the heuristic method from {n} "
                             f"observations: needs two full cycles of {m} and at least {min_obs}.")
        k = max(min(5, n // m), int(np.ceil(min_obs / m)))
        x = level_src[: m * k]
        cum = np.concatenate([[0.0], np.cumsum(x)])
        trend = np.full(len(x), np.nan)
        trend[m // 2: m // 2 + len(x) - m + 1] = (cum[m:] - cum[:-m]) / m   # pandas rolling(m, center=True)
        if m % 2 == 0:                                                         # .shift(-1).rolling(2).mean()
            trend = np.concatenate([(trend[:-1] + trend[1:]) / 2, [np.nan]])
        detrended = np.full(k * m, np.nan)
        detrended[: len(x)] = x - trend
        with np.errstate(invalid="ignore"):
            season = np.nanmean(detrended.reshape(k, m).T, axis=1)
        season -= season.mean()
        level_src = trend[np.isfinite(trend)]
    level, slope = _PINV_LEVEL @ level_src[:10]
    return float(level), float(slope), season


def ets_kernel(z: np.ndarray, horizon: int, levels: tuple[int, ...], seasonal_periods: int | None,
               damped: bool = True, params: np.ndarray | None = None
               ) -> tuple[np.ndarray, dict[int, tuple[np.ndarray, np.ndarray]]]:
    """Fit ETS(A, Ad, A|N) on ``z`` and return (mean, {level: (lo, hi)}) for ``horizon`` steps.

    Smoothing parameters from :func:`grid_search`, states filtered by :func:`ets_filter`
    (statsmodels' recursion, heuristic initial states). Intervals use the class-1 variance formula (Hyndman et al. 2008,
    ch. 6): var_h = sigma^2 (1 + sum_{j<h} c_j^2), c_j = alpha + beta (phi + ... + phi^j) +
    gamma [j mod m = 0]; it equals statsmodels' ``get_prediction`` (checked to 1e-8) at a fraction
    of its cost.
    """
    alpha, beta, gamma, phi = grid_search(z, seasonal_periods or 1, damped) if params is None else params
    level, slope, season, mse = ets_filter(z, alpha, beta, gamma, phi if damped else 1.0, seasonal_periods)
    # the forecast from the final states (equal to statsmodels' result.forecast, which simulates and costs ~12 ms)
    h = np.arange(1, horizon + 1)
    damping = np.cumsum(phi ** h) if damped else h.astype(float)
    mean = level + damping * slope
    if seasonal_periods:
        mean = mean + season[(h - 1) % seasonal_periods]
    j = np.arange(1, horizon)
    c = alpha + beta * np.cumsum(phi ** j) + (gamma * (j % seasonal_periods == 0) if seasonal_periods else 0.0)
    sd = np.sqrt(mse * np.concatenate([[1.0], 1.0 + np.cumsum(c ** 2)]))
    return mean, {level: (mean - z_of(level) * sd, mean + z_of(level) * sd) for level in levels}


def ets_filter(z: np.ndarray, alpha: float, beta: float, gamma: float, phi: float,
               seasonal_periods: int | None) -> tuple[float, float, np.ndarray, float]:
    """The ETS(A, Ad, A|N) filter with fixed parameters from statsmodels' heuristic initial states:
    (last level, last slope, the last ``m`` seasonal states oldest first, one-step MSE).

    The recursion of statsmodels' ``_ets_smooth_add_add`` (``ETSModel(..., initialization_method=
    "heuristic")`` with every parameter fixed), as a scalar loop: building and fitting the
    statsmodels model costs ~10 ms of pandas and results wrapping per call; this costs ~0.3 ms and
    agrees with it to 1e-9 (``tests/models/test_ets_filter.py``).
    """
    m = seasonal_periods or 1
    level, slope, initial = initial_states(z, seasonal_periods)
    ring = [float(v) for v in initial] if seasonal_periods and initial is not None else [0.0]   # ring[t % m] holds s[t - m]
    beta_star, gamma_star = beta / alpha, (gamma / (1 - alpha) if seasonal_periods else 0.0)
    lv, b, sse = float(level), float(slope), 0.0
    for i, y in enumerate(z.tolist()):
        k = i % m
        s_old = ring[k]
        base = lv + phi * b
        e = y - base - s_old
        sse += e * e
        new_level = alpha * (y - s_old) + (1 - alpha) * base
        b = beta_star * (new_level - lv) + (1 - beta_star) * phi * b
        lv = new_level
        ring[k] = gamma_star * (y - new_level) + (1 - gamma_star) * s_old
    n = len(z)
    season = np.array([ring[t % m] for t in range(n - m, n)]) if seasonal_periods else np.zeros(1)
    return lv, b, season, sse / n


def bounded(values: np.ndarray, ceiling: float) -> np.ndarray:
    """Keep a transformed-scale forecast within [0, ceiling]: a runaway trend must not explode expm1."""
    return np.clip(np.nan_to_num(values, nan=0.0), 0.0, max(ceiling, 0.0))


@register_model("ets")
class ETS(ForecastModel):
    name = "ets"
    predicts_arrays = True
    forecasts_folds = True   # forecast_folds: every fold's grid search at once

    def __init__(self, step: pd.Timedelta | None = None, seed: int = 0, transform: str = "log1p",
                 damped: bool = True, window: pd.Timedelta | str | None = "14D"):
        if transform not in TRANSFORMS:
            raise ValueError(f"transform must be one of {sorted(TRANSFORMS)}, got {transform!r}")
        self.step, self.seed, self.transform, self.damped = step, seed, transform, damped
        self.window = pd.Timedelta(window) if window is not None else None
        self._data: Prepared | None = None

    def fit(self, history: HistoryLike, regressors: pd.DataFrame | None = None) -> "ETS":
        data = prepare(history, self.step)
        daily, _ = periods(data.step)
        require(data, max(2 * daily, 10), self.name, f"2 daily seasons at {data.step}")
        self._data = data
        return self

    def predict_arrays(self, horizon: int, levels: tuple[int, ...] = (80, 95),
                       future_regressors: pd.DataFrame | None = None) -> Arrays:
        data, index, flat = start_predict(self, horizon, levels)
        if flat is not None:
            return flat
        return self._forecast(data, index, levels, self._z(data), None)

    def forecast_folds(self, trainings: list[Training], horizon: int, levels: tuple[int, ...] = (80, 95)) -> list[Arrays]:
        """``fit(train).predict_arrays(horizon)`` of this model for each ``(train, regressors, future
        regressors)`` of a backtest, with the grid searches of equal-length windows run at once
        (:func:`grid_search_many`): the same forecasts, for about the cost of one."""
        fitted = [ETS(self.step, self.seed, self.transform, self.damped, self.window).fit(train, regs)
                  for train, regs, _future in trainings]
        starts = [start_predict(m, horizon, levels) for m in fitted]
        zs = {i: m._z(data) for i, (m, (data, _index, flat)) in enumerate(zip(fitted, starts)) if flat is None}
        params: dict[int, np.ndarray] = {}
        for key in {(len(z), self._season(starts[i][0])) for i, z in zs.items()}:
            same = [i for i, z in zs.items() if (len(z), self._season(starts[i][0])) == key]
            for i, row in zip(same, grid_search_many(np.stack([zs[i] for i in same]), key[1] or 1, self.damped)):
                params[i] = row
        return [flat if flat is not None else m._forecast(data, index, levels, zs[i], params[i])
                for i, (m, (data, index, flat)) in enumerate(zip(fitted, starts))]

    def _z(self, data: Prepared) -> np.ndarray:
        """The fitted window of the history on the transformed scale, gaps interpolated."""
        forward, _ = TRANSFORMS[self.transform]
        daily, _ = periods(data.step)
        y = data.y[-max(2 * daily, int(self.window / data.step)):] if self.window is not None else data.y
        return forward(interpolated(y))

    @staticmethod
    def _season(data: Prepared) -> int | None:
        daily, _ = periods(data.step)
        return daily if daily > 1 else None

    def _forecast(self, data: Prepared, index: pd.DatetimeIndex, levels: tuple[int, ...], z: np.ndarray,
                  params: np.ndarray | None) -> Arrays:
        forward, back = TRANSFORMS[self.transform]
        mean, bounds = ets_kernel(z, len(index), levels, self._season(data), self.damped, params)
        ceiling = float(forward(np.array([10 * np.nanmax(data.y)]))[0])
        yhat = back(bounded(mean, ceiling))
        out = {lv: (back(bounded(lo, ceiling)), back(bounded(hi, ceiling))) for lv, (lo, hi) in bounds.items()}
        return finish_arrays(index, yhat, out, levels)

