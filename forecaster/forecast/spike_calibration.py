"""The probability of a spike, calibrated against the chosen model's own backtests (pure).

A forecast spike that no calendar event and no capacity limit explains is the model extrapolating
its history: a daily naive repeating a Saturday night into the weekdays, a weekly one repeating
last week's one-off peak, ETS on a week of history carrying weekday hours into a weekend. Whether
*this model's* spikes on *this series* happen is what its backtests can tell:

1. **Fold spikes.** The spike rule (:func:`forecaster.forecast.spikes.find_spikes`, same settings)
   is applied to each backtest fold's forecast of the chosen model, against the history the fold
   trained on. A fold spike *happened* when the fold's actual rose above the spike's threshold
   anywhere in its window (+-1 step). Only unexplained fold spikes count (no event, no capacity).
   The backtest folds the run already fitted (selection and interval calibration) are used as they
   are only when more cannot be cut; when the forecast holds an unexplained spike, the run fits
   the chosen model from rolling origins a day apart over the whole history (``SPIKE_FOLDS``; one
   cheap fit each for the naive and profile models, batched for ETS), so the evidence covers the
   weeks the history holds, not only its last days. Origins a day apart overlap (72 h ahead): one
   repeated one-off can count up to three times, as it would in three daily runs.
2. **Beta posterior.** With ``n`` fold spikes of which ``k`` happened, the calibrated probability
   of a spike whose model-stated probability is ``p`` (read from the model's backtest residuals,
   :func:`forecaster.forecast.spikes.find_spikes`) is the posterior mean of a Beta prior centred
   on ``p`` with ``strength`` pseudo-spikes (``PRIOR_STRENGTH``):
   ``(k + strength * p) / (n + strength)``. With many it tends to the model's hit rate on this
   series, ``k / n``.
3. **No fold spike at all ("0 of 0")**: the model never did this in its backtests, so its own
   stated probability (read from the residuals of ordinary hours) has nothing behind it. The
   probability is then the series' **base rate** of such spikes (:func:`base_rate`): the share of
   its history hours that were, out of sample, a spike by the same rule (above ``min_ratio`` x and
   ``min_excess`` over the median of the same hour of the week in the 4 weeks before, above
   ``min_ratio`` x the median of the 7 days before, no calendar event), +-1 step as a spike's
   window is judged. It needs two weeks of history (one to judge against, one judged); with less
   nothing can be measured and the model-stated probability stands.
4. Spikes under ``min_probability`` are dropped from the report (the run's notes say how many and
   why); spikes on a calendar event (one that is not a known dip) or over a capacity limit keep
   their own probability: the event or the limit is their evidence.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

from .models.common import season_steps
from .models.profile import row_nanmedian
from .spikes import Spike, event_mask, find_spikes

#: rolling origins (a day apart) behind the spike evidence, when the forecast holds an unexplained spike: as
#: many as 56 days of history allow (3 days of training, 72 h ahead). Measured (bench_spikes --cases real,
#: the 64 spikes of 486 runs): 21 origins left 26 of them without a single fold spike (the model-stated
#: probability stands) and a Brier score of 0.333 against what happened; 49 left 15 and scored 0.244.
SPIKE_FOLDS = 49
#: pseudo-spikes behind the model-stated probability (the Beta prior's strength)
PRIOR_STRENGTH = 2.0
#: weeks of the same hour of the week behind the base rate's expected traffic (the spike baseline's 4)
BASE_RATE_WEEKS = 4


@dataclass(frozen=True)
class SpikeEvidence:
    """Unexplained spikes the chosen model flagged in its backtest folds, and how many happened."""

    flagged: int = 0
    happened: int = 0

    def __add__(self, other: "SpikeEvidence") -> "SpikeEvidence":
        return SpikeEvidence(self.flagged + other.flagged, self.happened + other.happened)

    def rate(self, prior: float, strength: float = PRIOR_STRENGTH) -> float:
        """The Beta posterior mean of the hit rate (a prior mean ``prior`` worth ``strength`` spikes)."""
        return (self.happened + strength * prior) / (self.flagged + strength)

    def describe(self) -> str:
        return f"{self.happened} of {self.flagged} such spikes in its backtests happened"


def explained(spike: Spike, events: list | None) -> bool:
    """True when a calendar event that is not a known dip (``expected_uplift`` None or >= 1) overlaps
    the spike, or the spike is over a capacity limit: its own evidence, not the model's habit."""
    if spike.reason.startswith("80% upper bound"):
        return True
    for ev in events or ():
        if ev.expected_uplift is not None and ev.expected_uplift < 1:
            continue
        if ev.applies_to(spike.series) and ev.occurrences(spike.start_ts, spike.end_ts):
            return True
    return False


def fold_evidence(series: str, ds: np.ndarray, y: np.ndarray, backtest: Mapping | None, step: pd.Timedelta,
                  rule: Mapping, events: list | None = None) -> SpikeEvidence:
    """The unexplained spikes of each backtest fold's forecast (the spike rule ``rule``: min_ratio,
    min_peak, min_excess, baseline_weeks) and how many of them happened in the fold's actuals.

    ``ds``/``y``: the series' history (what the folds were cut from); ``backtest``: fold, h, ds (or
    cutoff), yhat, yhat_lo_80, yhat_hi_80 and y columns, one row per fold and step ahead."""
    if backtest is None or len(np.asarray(backtest["fold"])) == 0:
        return SpikeEvidence()
    ds = np.asarray(ds, dtype="datetime64[ns]")
    y = np.asarray(y, dtype=float)
    fold_ids = np.asarray(backtest["fold"])
    if "ds" in backtest:
        f_ds_all = np.asarray(backtest["ds"], dtype="datetime64[ns]")
    else:
        f_ds_all = (np.asarray(backtest["cutoff"], dtype="datetime64[ns]")
                    + np.asarray(backtest["h"], dtype=np.int64) * np.timedelta64(int(step.value), "ns"))
    cols = {c: np.asarray(backtest[c], dtype=float) for c in ("yhat", "yhat_lo_80", "yhat_hi_80", "y")}
    out = SpikeEvidence()
    for fold in np.unique(fold_ids):
        rows = fold_ids == fold
        f_ds = f_ds_all[rows]
        order = np.argsort(f_ds, kind="stable")
        f_ds = f_ds[order]
        fc = {"ds": f_ds, **{c: v[rows][order] for c, v in cols.items()}}
        train = ds < f_ds[0]
        if not train.any():
            continue
        found = find_spikes(series, fc, {"ds": ds[train], "y": y[train]}, pd.Timestamp(f_ds[0]), step,
                            rule.get("min_ratio", 1.5), rule.get("min_peak", 0.0), events=list(events or ()),
                            baseline_weeks=rule.get("baseline_weeks", 4), min_excess=rule.get("min_excess", 0.0))
        actual = fc["y"]
        for s in found:
            if explained(s, events):
                continue
            near = ((f_ds >= (s.start_ts - step).to_datetime64()) & (f_ds < (s.end_ts + step).to_datetime64())
                    & np.isfinite(actual))
            if not near.any():
                continue   # no actuals to judge it by
            out += SpikeEvidence(1, int(bool((actual[near] > s.threshold).any())))
    return out


def base_rate(series: str, y: np.ndarray, start: np.datetime64, step: pd.Timedelta, rule: Mapping,
              events: list | None = None) -> float | None:
    """The share of history steps that were, out of sample, an unexplained spike by the spike rule
    (``rule``: min_ratio, min_peak, min_excess), within +-1 step; None under two weeks of history.

    ``y``: the history on its regular grid from ``start`` at ``step`` (NaN = no data). A step is
    judged against the median of the same phase of the week in the ``BASE_RATE_WEEKS`` weeks before
    it and the median of the 7 days before it, calendar event steps left out of both and not judged."""
    y = np.asarray(y, dtype=float)
    n, week = len(y), season_steps(step, pd.Timedelta("7D"))
    if n < 2 * week:
        return None
    width = np.timedelta64(int(step.value), "ns")
    ds = pd.DatetimeIndex(np.asarray(start, dtype="datetime64[ns]") + np.arange(n) * width)
    on_event = event_mask(list(events or ()), series, ds, step)
    on_event = np.zeros(n, dtype=bool) if on_event is None else on_event
    usual = np.where(on_event, np.nan, y)
    lags = np.full((n, BASE_RATE_WEEKS), np.nan)
    for k in range(1, BASE_RATE_WEEKS + 1):
        if k * week < n:
            lags[k * week:, k - 1] = usual[:-k * week]
    how = row_nanmedian(lags)
    recent = pd.Series(usual).shift(1).rolling(week, min_periods=week // 2).median().to_numpy()
    judged = np.isfinite(y) & ~on_event & np.isfinite(how) & np.isfinite(recent)
    if judged.sum() < week:
        return None
    ratio = rule.get("min_ratio", 1.5)
    with np.errstate(invalid="ignore"):
        peak = (judged & (y > np.maximum(ratio * how, how + rule.get("min_excess", 0.0))) & (y > ratio * recent)
                & (y >= rule.get("min_peak", 0.0)))
    near = peak.copy()
    near[1:] |= peak[:-1]
    near[:-1] |= peak[1:]
    return float((near & judged).sum() / judged.sum())


def calibrate_spikes(spikes: list[Spike], evidence: SpikeEvidence, events: list | None, min_probability: float,
                     strength: float = PRIOR_STRENGTH, base: float | None = None) -> tuple[list[Spike], list[Spike]]:
    """(kept, dropped): unexplained spikes get the backtest-calibrated probability (see module doc;
    ``base``: the series' :func:`base_rate`, what a spike stands at when its model's backtests hold
    none) and are dropped under ``min_probability``; explained ones pass unchanged."""
    kept: list[Spike] = []
    dropped: list[Spike] = []
    for s in spikes:
        if explained(s, events):
            kept.append(s)
            continue
        if evidence.flagged == 0 and base is not None:
            p = base
            why = (f"model-stated probability {s.probability:.2f}, but {evidence.describe()}: the series' base rate "
                   f"of such spikes, {base:.1%} of its hours")
        else:
            p = evidence.rate(s.probability, strength)
            why = f"model-stated probability {s.probability:.2f}, {evidence.describe()}"
        s = dataclasses.replace(s, probability=float(p), reason=f"{s.reason}; {why}")
        (kept if p >= min_probability else dropped).append(s)
    return kept, dropped


def dropped_note(dropped: list[Spike], evidence: SpikeEvidence, min_probability: float,
                 base: float | None = None) -> str | None:
    """The run note for spikes not reported (None when none was dropped)."""
    if not dropped:
        return None
    why = evidence.describe()
    if evidence.flagged == 0 and base is not None:
        why += f"; the series' base rate of such spikes, {base:.1%} of its hours"
    return (f"{len(dropped)} forecast spike(s) not reported: calibrated probability "
            f"{max(s.probability for s in dropped):.2f} or less < spike_min_probability {min_probability:g} "
            f"(no event or capacity limit explains them; {why})")


__all__ = ["BASE_RATE_WEEKS", "PRIOR_STRENGTH", "SPIKE_FOLDS", "SpikeEvidence", "base_rate", "calibrate_spikes", "dropped_note",
           "explained", "fold_evidence"]
