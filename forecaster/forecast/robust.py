"""Robust history (pure): outliers and one-off bursts found and damped before any model sees them.

A 1e12 logging glitch a day back, or one burst of 20 requests on a route that is otherwise idle,
would otherwise pass straight into every model (ETS forecasting 2.5M/h against ~1,500 normal) and
into the spikes' history. For each observed step:

- **expected**: the median of the same phase of the week in the other weeks (up to ``WEEKS`` each
  side; of the day when the history is shorter than two weeks), moved to the local level: times
  the centred rolling median (``WINDOW_HOURS``) of the series' ratio to that shape, so that a
  level shift or a ramp is followed, not flagged;
- **outlier**: ``log1p(y) - log1p(expected)`` above ``K`` robust standard deviations of those
  log residuals and above ``log(MIN_FACTOR)``, and ``y - expected`` at least ``MIN_EXCESS``
  requests (noise on a near-idle route is left alone);
- steps inside a calendar event that applies to the series are never touched (a sale is traffic);
- an outlier is replaced by its expected value, and the run's notes name it (count, first and last
  step, the largest value against what was expected).

Only upward outliers are damped: a dip below the usual range (an outage, a holiday not on the
calendar) is left to the models and the intervals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .models.common import season_steps

WEEKS = 4
WINDOW_HOURS = 48
K = 6.0
MIN_FACTOR = 2.5
MIN_EXCESS = 10.0


def damp_outliers(ds: np.ndarray, y: np.ndarray, step: pd.Timedelta,
                  protected: np.ndarray | None = None) -> tuple[np.ndarray, str | None]:
    """``(y with upward outliers replaced by their expected values, a note naming them or None)``.

    ``protected``: True at steps that must be kept as they are (calendar events of the series).
    ``y`` is never modified; when nothing is damped it is returned as is."""
    y = np.asarray(y, dtype=float)
    n = len(y)
    observed = np.isfinite(y)
    if n < 2 or observed.sum() < 2 * season_steps(step, pd.Timedelta("1D")):
        return y, None
    week = season_steps(step, pd.Timedelta("7D"))
    period = week if n >= 2 * week else season_steps(step, pd.Timedelta("1D"))
    lags = [k * period for k in range(1, WEEKS + 1)]
    cols = np.full((n, 2 * len(lags)), np.nan)
    for i, lag in enumerate(lags):
        if lag < n:
            cols[lag:, 2 * i] = y[:-lag]      # the same phase, ``k`` seasons before
            cols[:-lag, 2 * i + 1] = y[lag:]  # and after
    from .models.profile import row_nanmedian

    shape = row_nanmedian(cols)
    shape = np.where(np.isfinite(shape), shape, np.nanmedian(y))
    with np.errstate(invalid="ignore"):
        r = np.log1p(y) - np.log1p(shape)
    window = max(3, season_steps(step, pd.Timedelta(hours=WINDOW_HOURS)) | 1)
    level = pd.Series(r).rolling(window, center=True, min_periods=1).median().to_numpy()
    level = np.where(np.isfinite(level), level, 0.0)
    e = r - level
    fin = np.isfinite(e)
    if fin.sum() < 10:
        return y, None
    mad = float(np.median(np.abs(e[fin] - np.median(e[fin])))) * 1.4826
    threshold = max(K * mad, float(np.log(MIN_FACTOR)))
    expected = np.expm1(np.log1p(shape) + level)
    with np.errstate(invalid="ignore"):
        out = fin & (e > threshold) & (y - expected >= MIN_EXCESS)
    if protected is not None:
        out &= ~np.asarray(protected, dtype=bool)
    if not out.any():
        return y, None
    damped = y.copy()
    damped[out] = np.clip(expected[out], 0.0, None)
    idx = np.flatnonzero(out)
    worst = idx[np.argmax(y[idx])]
    when = pd.DatetimeIndex(np.asarray(ds, dtype="datetime64[ns]")[idx[[0, -1]]])
    note = (f"damped {len(idx)} outlier step(s) {when[0]:%Y-%m-%d %H:%M} .. {when[1]:%Y-%m-%d %H:%M} "
            f"(largest {_count(y[worst])} where {_count(expected[worst])} was expected)")
    return damped, note


def _count(v: float) -> str:
    """Requests per step as a person reads them: 91,920 rather than 9.192e+04 (absurd ones stay short)."""
    return f"{v:,.0f}" if abs(v) < 1e12 else f"{v:.3g}"


__all__ = ["damp_outliers"]
