"""Uplift of yearly events (pure): measured in the series' own history when it holds a past
occurrence, else the calendar's ``expected_uplift``; and a note saying which.

Yearly events (calendar rows with ``recurring: yearly``, and the country's public holidays, which
come back every year) in the forecast window lift (or lower) the forecast of models that ignore
regressors. Per event:

- **measured**: the history holds hours of an earlier occurrence (of that event; for holidays, of
  any holiday, which share one regressor): the sum of actuals over them against the same hours one
  week before and after (the median of those two, NaN skipped), clipped to ``CLIP``;
- **calendar**: no past occurrence, but the calendar gives ``expected_uplift`` (applied by the run
  with every other unseen event's, ``series_context.uplift_multiplier``; here only named);
- otherwise nothing (and nothing is said).

Models that read the regressors (``uses_regressors``) learn the multiplier themselves and are
left alone; the run's notes still say where the uplift came from.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .events import Event
from .models.common import season_steps

CLIP = (0.2, 10.0)
MIN_HOURS = 3   # past event steps with a comparison needed to call an uplift measured


def yearly_uplift(events: list[Event] | tuple[Event, ...], series: str, ds: np.ndarray, y: np.ndarray,
                  future: pd.DatetimeIndex, step: pd.Timedelta) -> tuple[np.ndarray | None, list[str]]:
    """``(multiplier per future step or None, notes)`` for the yearly events of ``series``."""
    hist = pd.DatetimeIndex(np.asarray(ds, dtype="datetime64[ns]"))
    if len(hist) == 0 or len(future) == 0:
        return None, []
    y = np.asarray(y, dtype=float)
    week = season_steps(step, pd.Timedelta("7D"))
    mult, notes = np.ones(len(future)), []
    groups: dict[str, list[Event]] = {}
    for ev in events:
        if ev.applies_to(series) and (ev.kind == "holiday" or ev.recurring == "yearly"):
            groups.setdefault(ev.column, []).append(ev)
    for column, evs in groups.items():
        ahead = _mask(evs, future, step)
        if not ahead.any():
            continue
        past = _mask(evs, hist, step)
        name = "holidays" if evs[0].kind == "holiday" else evs[0].name
        factor = _measured(y, past, week)
        if factor is not None:
            mult[ahead] *= factor
            notes.append(f"{name}: uplift x{factor:.2f} measured in history ({int(past.sum())} past steps)")
            continue
        expected = [ev.expected_uplift for ev in evs if ev.expected_uplift]
        if expected:   # applied with the other unseen events' uplift (series_context.uplift_multiplier)
            notes.append(f"{name}: uplift x{expected[0]:g} from the calendar's expected_uplift (no past occurrence)")
    return (None if np.all(mult == 1.0) else mult), notes


def _mask(events: list[Event], ds: pd.DatetimeIndex, step: pd.Timedelta) -> np.ndarray:
    on = np.zeros(len(ds), dtype=bool)
    for ev in events:
        for start, end in ev.occurrences(ds[0], ds[-1] + step):
            on |= np.asarray((ds < end) & (ds + step > start))
    return on


def _measured(y: np.ndarray, past: np.ndarray, week: int) -> float | None:
    t = np.flatnonzero(past)
    if t.size == 0:
        return None
    import warnings

    before = np.where(t - week >= 0, y[np.clip(t - week, 0, None)], np.nan)
    after = np.where(t + week < len(y), y[np.clip(t + week, None, len(y) - 1)], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)   # a step with neither neighbour: NaN, skipped
        ref = np.nanmedian(np.vstack([before, after]), axis=0)
    ok = np.isfinite(y[t]) & np.isfinite(ref)
    if ok.sum() < MIN_HOURS or ref[ok].sum() <= 0:
        return None
    return float(np.clip(y[t][ok].sum() / ref[ok].sum(), *CLIP))


__all__ = ["yearly_uplift"]
