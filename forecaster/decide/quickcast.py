"""Cheap re-forecasts for replay: the forecast each decision time would have made, for every
decision at once, from data strictly before that time (no peeking).

Model: the seasonal profile (median of the same step of the day over the last ``days`` days),
level-adjusted by how the last ``level_steps`` steps before the decision time ran against their
profile; interval: split-conformal on multiplicative residuals (actual / forecast) of the forecasts
made at earlier decision times over the last ``window_days``. Everything a decision at time ``t``
uses has an index below ``t``, which the no-peeking test checks by truncating the data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import BadInput


@dataclass
class QuickForecast:
    yhat: np.ndarray      # per step: the forecast made at that step's decision time
    upper: np.ndarray     # its upper bound at ``level``
    decisions: np.ndarray  # step index of each decision time
    daily: np.ndarray     # per step: the daily profile (only data at least a day older)
    weekly: np.ndarray    # per step: the weekly profile (only data at least a week older)
    use_weekly: np.ndarray  # per decision: which profile it chose
    level: np.ndarray     # per decision: level factor
    band: np.ndarray      # per decision: upper / yhat factor
    uplift: np.ndarray    # per step: the calendar's expected uplift (1 outside events)

    def ahead(self, j: int, start: int, stop: int) -> np.ndarray:
        """Upper bounds decision ``j`` forecasts for steps ``start .. stop`` (NaN where unknown)."""
        w, d = self.weekly[start:stop], self.daily[start:stop]
        prof = np.where(self.use_weekly[j] & ~np.isnan(w), w, d)
        p = prof * self.level[j] * self.band[j] * self.uplift[start:stop]
        return p


def _profile(y: np.ndarray, period: int, days: int) -> np.ndarray:
    """prof[s] = nanmedian(y[s - k * period] for k in 1..days) (NaN where none is known)."""
    n = len(y)
    stack = np.full((days, n), np.nan)
    for k in range(1, days + 1):
        lag = k * period
        if lag < n:
            stack[k - 1, lag:] = y[:n - lag]
    with np.errstate(all="ignore"):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.nanmedian(stack, axis=0)


def _choose_profile(y: np.ndarray, period: int, every: int, decisions: np.ndarray, days: int,
                    window_days: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per decision, the daily profile (last ``days`` days) or the weekly one (same step of the week
    over the last 3 weeks), whichever had the smaller absolute error over the ``window_days`` before
    it: a cheap model choice that, like everything here, looks only at the past."""
    daily = _profile(y, period, days)
    weekly = _profile(y, 7 * period, 3)
    n = len(y)
    if np.isnan(weekly).all():
        return daily, daily, weekly, np.zeros(len(decisions), dtype=bool)
    err_d = np.nan_to_num(np.abs(y - daily), nan=0.0)
    err_w = np.abs(y - weekly)
    both = ~np.isnan(err_w) & ~np.isnan(y) & ~np.isnan(daily)
    cd = np.concatenate([[0.0], np.cumsum(np.where(both, err_d, 0.0))])
    cw = np.concatenate([[0.0], np.cumsum(np.where(both, np.nan_to_num(err_w), 0.0))])
    cn = np.concatenate([[0], np.cumsum(both)])
    lo = np.maximum(decisions - window_days * period, 0)
    enough = (cn[decisions] - cn[lo]) >= period
    use_weekly = enough & ((cw[decisions] - cw[lo]) < (cd[decisions] - cd[lo]))
    owner = np.arange(n) // every
    pick = use_weekly[owner] & ~np.isnan(weekly)
    return np.where(pick, weekly, daily), daily, weekly, use_weekly


def quickcast(y: np.ndarray, period: int, every: int, horizon: int, level: float = 0.95, days: int = 7,
              level_steps: int | None = None, window_days: int = 14,
              uplift: np.ndarray | None = None) -> QuickForecast:
    """Forecasts for steps ``t .. t + horizon`` made at each decision ``t = 0, every, 2 every, ...``.

    Returns per-step arrays as forecast at the latest decision at or before each step, plus the
    profile, level and band factor per decision (``ahead``), so a decision can look further ahead
    (up to ``horizon`` steps: the profile of a step ``horizon`` ahead still uses only older data).
    """
    if horizon > period:
        raise BadInput(f"replay re-forecasts reach at most one season ({period} steps) ahead, asked {horizon}")
    y = np.asarray(y, dtype=float)
    n = len(y)
    # known events (a calendar, not the traffic): learn from the history with them divided out,
    # and multiply them back into the forecasts
    u = np.ones(n) if uplift is None else np.asarray(uplift, dtype=float)
    y = y / u
    decisions = np.arange(0, n, every)
    prof, daily, weekly, use_weekly = _choose_profile(y, period, every, decisions, days, window_days)
    level_steps = level_steps or period
    # level factor at each decision: sum(y) / sum(profile) over the level_steps before it
    ok = ~np.isnan(y) & ~np.isnan(prof)
    cy = np.concatenate([[0.0], np.cumsum(np.where(ok, y, 0.0))])
    cp = np.concatenate([[0.0], np.cumsum(np.where(ok, prof, 0.0))])
    lo = np.maximum(decisions - level_steps, 0)
    num, den = cy[decisions] - cy[lo], cp[decisions] - cp[lo]
    lvl = np.where(den > 0, num / np.where(den > 0, den, 1.0), 1.0)
    lvl = np.clip(lvl, 0.5, 2.0)
    owner = np.arange(n) // every                      # the decision each step belongs to
    yhat = prof * lvl[owner]
    # fallback where no profile yet: the last value before the decision (naive)
    last = _last_before(y, decisions)
    yhat = np.where(np.isnan(yhat), last[owner], yhat)
    ratio = np.where((yhat > 0) & ~np.isnan(y), y / np.where(yhat > 0, yhat, 1.0), np.nan)   # event-free terms
    window = window_days * period
    q = np.full(len(decisions), np.nan)
    for j, t in enumerate(decisions):
        r = ratio[max(0, t - window):t]
        r = r[~np.isnan(r)]
        if len(r) >= 12:
            k = min(len(r) - 1, int(np.ceil((len(r) + 1) * level)) - 1)
            q[j] = np.partition(r, k)[k]
    q = np.where(np.isnan(q), 2.0, np.maximum(q, 1.0))   # no residuals yet: a wide default band
    upper = yhat * q[owner] * u
    yhat = yhat * u
    return QuickForecast(yhat=yhat, upper=upper, decisions=decisions, daily=daily, weekly=weekly, use_weekly=use_weekly,
                         level=lvl, band=q, uplift=u)


def _last_before(y: np.ndarray, decisions: np.ndarray) -> np.ndarray:
    """The last non-NaN value strictly before each decision time (NaN if none)."""
    idx = np.where(~np.isnan(y), np.arange(len(y)), -1)
    run_max = np.maximum.accumulate(idx) if len(idx) else idx
    out = np.full(len(decisions), np.nan)
    for j, t in enumerate(decisions):
        if t > 0 and run_max[t - 1] >= 0:
            out[j] = y[run_max[t - 1]]
    return out
