"""Spikes in the forecast window (pure): where the forecast rises above the route's expected shape and level.

Expected traffic (the spike baseline): for each forecast step, the median of the history at the
same hour of the week over the last ``baseline_weeks`` weeks (NaN skipped, the hours of calendar
events that apply to the series left out: a weekly flash sale is a spike every week, not the
shape) times the series' current **level**: the last ``LEVEL_HOURS`` of actuals over that shape
on the same hours or the median daily ratio of the last week, whichever is larger, clipped to
``LEVEL_CLIP`` (:func:`current_level`), times the calendar's known dips (:func:`known_dips`). A forecast that only carries the usual shape at
today's level (a seasonal profile scaled up on a ramp, a weekend level carried into Monday) is
then *not* a spike; one that rises above it is. A step is in a spike when

- ``yhat > min_ratio x expected``, ``yhat - expected >= min_excess`` (an absolute volume: a quiet
  route's burst of 20 requests is not a spike), the lower 80% bound above the expected traffic
  (the model itself is confident the step is unusual), ``yhat >= min_peak`` and ``yhat`` reaches
  the series' typical level (the median of the expected traffic over the horizon), and, where no
  calendar event (other than a known dip) is on, ``yhat > min_ratio x`` the **recent level** (the
  median of the last ``RECENT_DAYS`` of history, event hours left out: :func:`recent_level`). A
  spike nothing announces must be a peak as a person reads one, well above both what the hour of
  the week usually carries and what the route carries now (the issue's "sharp peak": > 2x both);
  an hour that is quiet by shape (a Saturday afternoon, a night hour after the holidays' weeks
  dragged its median down) forecast at an ordinary weekday level is not. Or
- ``yhat_hi_80 > capacity`` when a capacity/throttle limit (requests per second) is given.

Adjacent flagged steps merge into one spike: start, peak hour and end point at the flagged hours
only, never the whole horizon. ``ratio`` is ``peak / max(expected, 1)``: always finite.

Probability: the chance that the actual exceeds the spike's threshold at the likeliest step. With
the backtest's out-of-sample log residuals (``log1p(y) - log1p(yhat)`` of the chosen model, what
calibrates its intervals) it is the share of those residuals that would carry ``yhat`` over the
threshold. Without them (a named model, a fallback) the forecast is taken as lognormal with
median ``yhat`` and 90th percentile ``yhat_hi_80``. That is the *model-stated* probability: the
residuals of ordinary hours say little about the hours a model forecasts a spike (a one-off peak
repeated a week later), so a forecast run recalibrates it on the model's own backtest spikes
(``forecaster.forecast.spike_calibration``). Lead time: from the as-of point to the spike's start, never negative.
"""

from __future__ import annotations

import fnmatch
from dataclasses import asdict, dataclass
from statistics import NormalDist
from typing import Mapping

import numpy as np
import pandas as pd

_N = NormalDist()
Z90 = _N.inv_cdf(0.90)   # yhat_hi_80 is the 90th percentile
LEVEL_HOURS = 48          # actuals that set the current level of the expected shape
LEVEL_CLIP = (0.25, 4.0)  # how far the current level may move the shape (a route that died or tripled)
RECENT_DAYS = 7           # history behind the recent level an unexplained spike must rise above
MIN_RESIDUALS = 20        # backtest residuals needed to state an empirical probability

SPIKE_COLUMNS = ("series", "start_ts", "end_ts", "peak_ts", "peak", "baseline", "ratio", "threshold",
                 "probability", "lead_time_hours", "reason", "event")


@dataclass(frozen=True)
class Spike:
    series: str
    start_ts: pd.Timestamp
    end_ts: pd.Timestamp          # exclusive: the end of the last step in the spike
    peak_ts: pd.Timestamp
    peak: float                   # yhat at the peak, requests per step
    baseline: float               # expected traffic (shape x level) at the peak, requests per step
    ratio: float                  # peak / max(baseline, 1): finite
    threshold: float              # requests per step the peak is compared with
    probability: float            # P(actual > threshold) at the likeliest step, lognormal
    lead_time_hours: float        # start - as_of, at least 0
    reason: str
    event: str | None

    def to_dict(self) -> dict:
        return asdict(self)


def _hours(ds) -> np.ndarray:
    """Whole hours since the epoch of naive UTC timestamps (numpy: pandas' field accessors cost ~30 us each)."""
    return np.asarray(ds, dtype="datetime64[ns]").astype("datetime64[h]").astype(np.int64)


def hour_of_week(ds: pd.DatetimeIndex | pd.Series | np.ndarray) -> np.ndarray:
    """0 (Monday 00h) .. 167 (Sunday 23h) of each timestamp."""
    hours = _hours(ds)
    return ((hours // 24 + 3) % 7) * 24 + hours % 24   # 1970-01-01 was a Thursday (day 3)


def hour_of_day(ds: pd.DatetimeIndex | pd.Series | np.ndarray) -> np.ndarray:
    """0 .. 23 of each timestamp."""
    return _hours(ds) % 24


def baseline(history: pd.DataFrame | Mapping[str, np.ndarray], future_ds: pd.DatetimeIndex | pd.Series, weeks: int = 4,
             exclude: np.ndarray | None = None) -> np.ndarray:
    """Median of the history at each future step's hour of the week, over the last ``weeks`` weeks.

    ``exclude``: history rows to leave out (event hours: a weekly flash sale must not become its own
    baseline). An hour of the week with nothing left takes the median of its hour of the day, then
    of the whole window (0 when the history holds no value at all).
    """
    y_all = np.asarray(history["y"], dtype=float)
    ds_all = np.asarray(history["ds"], dtype="datetime64[ns]")
    keep = ~np.isnan(y_all)
    if exclude is not None:
        keep = keep & ~np.asarray(exclude, dtype=bool)
    if not keep.any():
        return np.zeros(len(future_ds))
    end = ds_all.max()
    recent = keep & (ds_all > end - np.timedelta64(7 * weeks, "D"))
    if not recent.any():
        recent = keep
    rds = ds_all[recent]
    fds = np.asarray(future_ds, dtype="datetime64[ns]")
    y = y_all[recent]
    return _shape(y, rds, fds)


def _shape(y: np.ndarray, rds: np.ndarray, fds: np.ndarray) -> np.ndarray:
    """Hour-of-week medians of ``y`` (at ``rds``) looked up at ``fds``; hour of day, then the whole
    window's median where an hour of the week has no value."""
    by_week = _medians(y, hour_of_week(rds), hour_of_week(fds))
    by_day = _medians(y, hour_of_day(rds), hour_of_day(fds))
    out = np.where(np.isfinite(by_week), by_week, by_day)
    return np.where(np.isfinite(out), out, float(np.median(y)))


def expected_traffic(series: str, history, ds: pd.DatetimeIndex, step: pd.Timedelta, events: list | None = None,
                     weeks: int = 4, exclude: np.ndarray | None = None) -> np.ndarray:
    """The expected traffic at each step of ``ds`` (the spike baseline): the hour-of-week shape
    (:func:`baseline`) x the current level (:func:`current_level`) x the calendar's known dips,
    the series' event hours left out of the history (``exclude``: that mask, when already built)."""
    mask = event_mask(events, series, history["ds"], step) if exclude is None else exclude
    base = baseline(history, ds, weeks, mask) * current_level(history, weeks, mask)
    return base * known_dips(events, series, ds, step)


def current_level(history, weeks: int = 4, exclude: np.ndarray | None = None, hours: int = LEVEL_HOURS) -> float:
    """The series' level now relative to its seasonal shape (:func:`baseline`), clipped to ``LEVEL_CLIP``;
    1 when it cannot be told.

    The larger of two ratios of actuals to the shape: over the last ``hours`` (follows a level shift
    or a ramp at once) and the median of the last 7 days' daily ratios (a one- or two-day dip, a
    storm or an outage, does not make the next ordinary day look like a spike). Each recent hour is
    held against the same hour of the week in the weeks *before* the last 7 days: a median that
    held the hour itself would pull the ratio towards 1 (with two weeks of history, a doubling
    measured 1.33 against the mean of itself and the week before). Hours with no earlier week
    are left out; with none at all the level is 1."""
    y_all = np.asarray(history["y"], dtype=float)
    ds_all = np.asarray(history["ds"], dtype="datetime64[ns]")
    keep = np.isfinite(y_all)
    if exclude is not None:
        keep &= ~np.asarray(exclude, dtype=bool)
    if keep.sum() < 2 * hours or len(ds_all) == 0:
        return 1.0
    end = ds_all.max()
    recent = keep & (ds_all > end - np.timedelta64(7, "D"))
    window = keep & (ds_all > end - np.timedelta64(7 * weeks, "D"))
    if not recent.any():
        return 1.0
    before = window & ~recent
    shape = _medians(y_all[before], hour_of_week(ds_all[before]), hour_of_week(ds_all[recent]))
    seen = np.isfinite(shape)
    if not seen.any():
        return 1.0
    shape, actual, when = shape[seen], y_all[recent][seen], ds_all[recent][seen]
    last = when > end - np.timedelta64(hours, "h")
    ratios = []
    if shape[last].sum() > 0:
        ratios.append(actual[last].sum() / shape[last].sum())
    age = ((end - when) // np.timedelta64(1, "D")).astype(np.int64)
    daily = [actual[age == d].sum() / shape[age == d].sum() for d in np.unique(age) if shape[age == d].sum() > 0]
    if daily:
        ratios.append(float(np.median(daily)))
    if not ratios:
        return 1.0
    return float(np.clip(max(ratios), *LEVEL_CLIP))


def recent_level(history, exclude: np.ndarray | None = None, days: int = RECENT_DAYS) -> float:
    """The median of the history's last ``days`` days (NaN and ``exclude``d rows, event hours,
    skipped): the level the route carries now, whatever the hour. 0 when nothing is left."""
    y = np.asarray(history["y"], dtype=float)
    ds = np.asarray(history["ds"], dtype="datetime64[ns]")
    keep = np.isfinite(y)
    if exclude is not None:
        keep &= ~np.asarray(exclude, dtype=bool)
    if not keep.any():
        return 0.0
    keep &= ds > ds[keep].max() - np.timedelta64(days, "D")
    return float(np.median(y[keep]))


def _medians(y: np.ndarray, keys: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Median of ``y`` per key, looked up for ``wanted`` keys (NaN where a key has no value).

    All groups at once: sort by (key, value), then each group's median is the mean of its middle
    one or two values, exactly what ``np.median`` gives per group (a loop of medians cost ~5 ms a series)."""
    out = np.full(len(wanted), np.nan)
    if y.size == 0:
        return out
    order = np.lexsort((y, keys))
    k, v = keys[order], y[order]
    uniq, start, count = np.unique(k, return_index=True, return_counts=True)
    med = (v[start + (count - 1) // 2] + v[start + count // 2]) / 2
    pos = np.minimum(np.searchsorted(uniq, wanted), len(uniq) - 1)
    hit = uniq[pos] == wanted
    out[hit] = med[pos[hit]]
    return out


def event_mask(events: list | None, series: str, ds: pd.Series | pd.DatetimeIndex | np.ndarray, step: pd.Timedelta) -> np.ndarray | None:
    """True where a step of ``ds`` overlaps an event that applies to ``series``."""
    if not events:
        return None
    ds = pd.DatetimeIndex(ds)
    if len(ds) == 0:
        return None
    mask = np.zeros(len(ds), dtype=bool)
    for ev in events:
        if ev.applies_to(series):
            for start, end in ev.occurrences(ds[0], ds[-1] + step):
                mask |= np.asarray((ds < end) & (ds + step > start))
    return mask


def empirical_exceed_probability(yhat: np.ndarray, threshold: np.ndarray, residuals: np.ndarray) -> np.ndarray:
    """P(actual > threshold) as the share of backtest log residuals ``r`` with
    ``expm1(log1p(yhat) + r) > threshold``, elementwise (``residuals`` sorted or not)."""
    r = np.sort(np.asarray(residuals, dtype=float))
    need = np.log1p(np.clip(np.asarray(threshold, dtype=float), 0, None)) - np.log1p(np.clip(np.asarray(yhat, dtype=float), 0, None))
    return 1.0 - np.searchsorted(r, need, side="right") / len(r)


def known_dips(events: list | None, series: str, ds: pd.DatetimeIndex, step: pd.Timedelta) -> np.ndarray:
    """Per step, the product of the ``expected_uplift`` of calendar events below 1 (a holiday's dip)
    that apply to ``series``: part of the expected traffic, so that a sale on a quiet holiday is
    measured against the holiday, not against an ordinary day. 1 where none is."""
    out = np.ones(len(ds))
    for ev in events or ():
        if ev.expected_uplift is None or ev.expected_uplift >= 1 or not ev.applies_to(series):
            continue
        for start, end in ev.occurrences(ds[0], ds[-1] + step):
            out[np.asarray((ds < end) & (ds + step > start))] *= ev.expected_uplift
    return out


def upward_event_steps(events: list | None, series: str, ds: pd.DatetimeIndex, step: pd.Timedelta) -> np.ndarray:
    """True at the steps a calendar event of ``series`` overlaps that is not a known dip
    (``expected_uplift`` None or >= 1): what announces a spike (the spike calibration's ``explained``)."""
    out = np.zeros(len(ds), dtype=bool)
    for ev in events or ():
        if (ev.expected_uplift is not None and ev.expected_uplift < 1) or not ev.applies_to(series):
            continue
        for start, end in ev.occurrences(ds[0], ds[-1] + step):
            out |= np.asarray((ds < end) & (ds + step > start))
    return out


def exceed_probability(yhat: np.ndarray, hi80: np.ndarray, threshold: np.ndarray) -> np.ndarray:
    """P(actual > threshold) with actual ~ lognormal(median yhat, 90th percentile hi80), elementwise in [0, 1]."""
    yhat, hi80, threshold = (np.asarray(a, dtype=float) for a in (yhat, hi80, threshold))
    out = np.where(yhat > threshold, 1.0, 0.0)
    ok = (yhat > 0) & (threshold > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        sigma = np.where(ok & (hi80 > 0), np.log(np.where(hi80 > 0, hi80, 1.0)) - np.log(np.where(yhat > 0, yhat, 1.0)), 0.0) / Z90
    ok &= sigma > 1e-12
    if ok.any():
        zs = (np.log(threshold[ok]) - np.log(yhat[ok])) / sigma[ok]
        out[ok] = [1.0 - _N.cdf(z) for z in zs]
    out[threshold <= 0] = 1.0
    return np.clip(out, 0.0, 1.0)


def capacity_for(series: str, limits: Mapping[str, float]) -> float | None:
    """The capacity (requests/s) that applies to ``series`` from a table keyed by series id or glob.

    The most specific key wins: the series id itself, else the same route in every region
    (``route:api|stage|route``), else the longest glob that matches (``route:shop|prod|*``,
    ``region:*``). Keys name the traffic a limit applies to: an API Gateway stage's per-method
    throttle is a ``route:`` glob, its account-level regional limit a ``region:`` key.
    """
    if not limits:
        return None
    if series in limits:
        return float(limits[series])
    if series.startswith("route:") and series.count("|") == 3:
        any_region = series.rsplit("|", 1)[0]
        if any_region in limits:
            return float(limits[any_region])
    globs = [k for k in limits if any(ch in k for ch in "*?[") and fnmatch.fnmatchcase(series, k)]
    return float(limits[max(globs, key=len)]) if globs else None


def find_spikes(series: str, forecast: pd.DataFrame | Mapping[str, np.ndarray],
                history: pd.DataFrame | Mapping[str, np.ndarray], as_of: pd.Timestamp,
                step: pd.Timedelta, min_ratio: float = 1.5, min_peak: float = 0.0,
                capacity_rps: float | None = None, events: list | None = None,
                baseline_weeks: int = 4, min_excess: float = 0.0,
                residuals: np.ndarray | None = None) -> list[Spike]:
    """Spikes of one series' forecast (see module doc). ``forecast`` and ``history`` are frames or
    mappings of column arrays (what the forecast run passes). ``events``:
    :class:`forecaster.events.Event` list used to name the event overlapping each spike.
    ``min_excess``: requests per step the forecast must rise above the expected traffic.
    ``residuals``: the chosen model's backtest log residuals (the probability's calibration)."""
    f_ds = np.asarray(forecast["ds"], dtype="datetime64[ns]")
    if len(f_ds) == 0:
        return []
    order = np.argsort(f_ds, kind="stable") if bool((f_ds[1:] < f_ds[:-1]).any()) else slice(None)
    ds = pd.DatetimeIndex(f_ds[order])
    yhat = np.asarray(forecast["yhat"], dtype=float)[order]
    hi80 = np.asarray(forecast["yhat_hi_80"], dtype=float)[order]
    mask = event_mask(events, series, history["ds"], step)
    base = expected_traffic(series, history, ds, step, events, baseline_weeks, mask)
    ratio_thr = np.maximum(min_ratio * base, base + min_excess)
    typical = float(np.nanmedian(base)) if np.isfinite(base).any() else 0.0
    lo80 = np.asarray(forecast["yhat_lo_80"], dtype=float)[order] if "yhat_lo_80" in forecast else yhat
    announced = upward_event_steps(events, series, ds, step)
    peak_now = announced | (yhat > min_ratio * recent_level(history, mask))
    by_ratio = ((yhat > ratio_thr) & (lo80 > base) & (yhat >= max(min_peak, typical)) & peak_now & np.isfinite(yhat))
    step_s = step.total_seconds()
    cap_thr = np.full(len(ds), np.inf) if capacity_rps is None else np.full(len(ds), capacity_rps * step_s)
    by_cap = hi80 > cap_thr
    flagged = by_ratio | by_cap
    spikes: list[Spike] = []
    i, n = 0, len(ds)
    while i < n:
        if not flagged[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and flagged[j + 1]:
            j += 1
        spikes.append(_one(series, ds, yhat, hi80, base, ratio_thr, cap_thr, by_cap, i, j, as_of, step,
                           min_ratio, capacity_rps, events, residuals))
        i = j + 1
    return spikes


def _one(series, ds, yhat, hi80, base, ratio_thr, cap_thr, by_cap, i, j, as_of, step, min_ratio,
         capacity_rps, events, residuals=None) -> Spike:
    window = slice(i, j + 1)
    k = i + int(np.argmax(yhat[window]))
    capacity = bool(by_cap[window].any())
    threshold = np.where(by_cap[window], cap_thr[window], ratio_thr[window])
    if residuals is not None and len(residuals) >= MIN_RESIDUALS:
        probs = empirical_exceed_probability(yhat[window], threshold, residuals)
    else:
        probs = exceed_probability(yhat[window], hi80[window], threshold)
    b = float(base[k])
    ratio = float(yhat[k] / max(b, 1.0))
    if capacity:
        reason = f"80% upper bound {hi80[window].max() / step.total_seconds():.3g} rps exceeds throttle {capacity_rps:.3g} rps"
    else:
        reason = f"{ratio:.1f}x expected ({yhat[k]:.0f} vs {b:.0f} per step)"
    start, end = ds[i], ds[j] + step
    event = None
    if events:
        from .events import event_at
        event = event_at(events, series, start, end)
    return Spike(series=series, start_ts=start, end_ts=end, peak_ts=ds[k], peak=float(yhat[k]), baseline=b,
                 ratio=ratio, threshold=float(threshold[k - i]), probability=float(probs.max()),
                 lead_time_hours=max(0.0, (start - pd.Timestamp(as_of)) / pd.Timedelta(hours=1)), reason=reason,
                 event=event)


def spikes_frame(spikes: list[Spike]) -> pd.DataFrame:
    """A tidy frame (the ``spikes`` table's columns, without run_id)."""
    return pd.DataFrame([s.to_dict() for s in spikes], columns=list(SPIKE_COLUMNS))
