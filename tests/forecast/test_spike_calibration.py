"""Spike probability calibrated against the chosen model's backtest spikes (issue 12): a model whose
backtest spikes never happen has its unexplained spikes lowered and not reported; a spike on a
calendar event keeps its own probability; the calibration repeats exactly."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.forecast.events import Event
from forecaster.forecast.fit import FitSpec, History, fit_series
from forecaster.forecast.spike_calibration import (PRIOR_STRENGTH, SpikeEvidence, calibrate_spikes, explained,
                                                   fold_evidence)
from forecaster.forecast.spikes import Spike

H = pd.Timedelta("1h")
AS_OF = pd.Timestamp("2026-11-23 00:00")   # a Monday
SERIES = "route:shop|prod|GET /x|us-east-1"


def moving_bursts(weeks: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A daily shape with one 2.2x burst a day, never twice at the same hour of the week: a weekly
    naive repeats every burst a week later, and none of those repeats happens."""
    ds = pd.date_range(AS_OF - weeks * pd.Timedelta("7D"), AS_OF - H, freq="1h")
    rng = np.random.default_rng(seed)
    y = 1500 * (1 + 0.5 * np.sin(2 * np.pi * (ds.hour.to_numpy() - 6) / 24)) * rng.lognormal(0, 0.05, len(ds))
    for day in range(weeks * 7):
        i = day * 24 + (day * 5) % 24
        y[i:i + 2] *= 2.2
    return ds.values, np.round(y)


def spec(min_probability: float, events: tuple = ()) -> FitSpec:
    return FitSpec(horizon=72, step="1h", model="seasonal_naive_weekly", as_of=AS_OF, min_ratio=1.5, min_peak=5.0,
                   min_excess=30.0, min_probability=min_probability, events=events)


def spike(start: pd.Timestamp, probability: float, reason: str = "2.0x expected (300 vs 150 per step)") -> Spike:
    return Spike(series=SERIES, start_ts=start, end_ts=start + H, peak_ts=start, peak=300.0, baseline=150.0, ratio=2.0,
                 threshold=225.0, probability=probability, lead_time_hours=(start - AS_OF) / H, reason=reason, event=None)


def test_a_model_whose_backtest_spikes_never_happen_has_its_spikes_lowered_and_not_reported():
    ds, y = moving_bursts()
    shown = fit_series(SERIES, History(ds, y), spec(0.0))
    assert shown.spikes, "the weekly naive repeats last week's bursts"
    for s in shown.spikes:
        assert s.probability < 0.1 and "0 of " in s.reason and "model-stated probability" in s.reason
    hidden = fit_series(SERIES, History(ds, y), spec(0.8))
    assert hidden.spikes == []
    assert any(f"{len(shown.spikes)} forecast spike(s) not reported" in n for n in hidden.notes)


def test_a_spike_on_a_calendar_event_keeps_its_probability():
    ds, y = moving_bursts()
    sale = Event("Sale", AS_OF + 40 * H, AS_OF + 44 * H, expected_uplift=3.0)
    r = fit_series(SERIES, History(ds, y), spec(0.8, (sale,)))
    (on_event,) = [s for s in r.spikes if s.event == "Sale"]
    assert on_event.probability > 0.95 and "backtests" not in on_event.reason
    assert all(s.event == "Sale" for s in r.spikes)   # the model's unexplained repeats are not reported


def test_spike_calibration_repeats_exactly():
    ds, y = moving_bursts(seed=3)
    a = fit_series(SERIES, History(ds, y), spec(0.0))
    b = fit_series(SERIES, History(ds, y), spec(0.0))
    assert [s.to_dict() for s in a.spikes] == [s.to_dict() for s in b.spikes] and a.notes == b.notes


def test_beta_posterior_starts_at_the_stated_probability_and_tends_to_the_hit_rate():
    assert SpikeEvidence().rate(0.9) == pytest.approx(0.9)
    assert SpikeEvidence(2, 1).rate(0.9) == pytest.approx((1 + PRIOR_STRENGTH * 0.9) / (2 + PRIOR_STRENGTH))
    assert SpikeEvidence(1000, 250).rate(0.99) == pytest.approx(0.25, abs=0.01)
    assert (SpikeEvidence(3, 1) + SpikeEvidence(2, 2)) == SpikeEvidence(5, 3)


def test_calibration_lowers_unexplained_spikes_and_keeps_event_and_capacity_ones():
    sale = Event("Sale", AS_OF + 10 * H, AS_OF + 12 * H, expected_uplift=2.0)
    dip = Event("Holiday", AS_OF, AS_OF + 24 * H, expected_uplift=0.5)   # a known dip explains no spike
    plain, on_sale = spike(AS_OF + 5 * H, 0.99), spike(AS_OF + 10 * H, 0.99)
    over = spike(AS_OF + 30 * H, 0.7, reason="80% upper bound 12 rps exceeds throttle 10 rps")
    kept, dropped = calibrate_spikes([plain, on_sale, over], SpikeEvidence(10, 0), [sale, dip], min_probability=0.5)
    assert kept == [on_sale, over]
    (low,) = dropped
    assert low.probability == pytest.approx(PRIOR_STRENGTH * 0.99 / (10 + PRIOR_STRENGTH))
    assert explained(on_sale, [sale, dip]) and not explained(plain, [sale, dip])


def test_fold_evidence_counts_the_fold_spikes_that_happened():
    ds = pd.date_range(AS_OF - pd.Timedelta("28D"), AS_OF - H, freq="1h").values
    y = np.full(len(ds), 1000.0)
    # two folds of 24 steps at the end of the history; each forecast flags hour 6 at 3x
    rows = {c: [] for c in ("fold", "ds", "yhat", "yhat_lo_80", "yhat_hi_80", "y")}
    for fold, happened in ((0, True), (1, False)):
        f_ds = ds[len(ds) - 24 * (fold + 1): len(ds) - 24 * fold]
        yhat = np.full(24, 1000.0)
        yhat[6] = 3000.0
        actual = np.full(24, 1000.0)
        actual[7] = 2500.0 if happened else 1100.0   # one step after the flagged hour: still inside +-1 step
        for c, v in (("fold", np.full(24, fold)), ("ds", f_ds), ("yhat", yhat), ("yhat_lo_80", yhat * 0.9),
                     ("yhat_hi_80", yhat * 1.1), ("y", actual)):
            rows[c].append(v)
    backtest = {c: np.concatenate(v) for c, v in rows.items()}
    history_y = np.where(np.isin(ds, backtest["ds"]), np.nan, y)   # the folds' actuals are not their own history
    got = fold_evidence(SERIES, ds, history_y, backtest, H, {"min_ratio": 1.5, "min_excess": 30.0})
    assert got == SpikeEvidence(2, 1)
