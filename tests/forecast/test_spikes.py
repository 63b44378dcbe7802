"""spikes (pure): baseline, thresholds, merging, probability, lead time, event names."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forecaster.forecast.events import Event
from forecaster.forecast.spikes import Z90, baseline, capacity_for, exceed_probability, find_spikes, spikes_frame

H = pd.Timedelta("1h")
AS_OF = pd.Timestamp("2026-11-23 00:00")


def history(weeks: int = 4) -> pd.DataFrame:
    ds = pd.date_range(AS_OF - weeks * pd.Timedelta("7D"), AS_OF - H, freq="1h")
    y = np.asarray(100 + 50 * np.sin(2 * np.pi * ds.hour / 24), dtype=float)
    return pd.DataFrame({"ds": ds, "y": y})


def forecast_from(hist: pd.DataFrame, bumps: dict[int, float], width: float = 0.2) -> pd.DataFrame:
    """72h of 'same as last week' with multiplicative bumps at the given step offsets."""
    ds = pd.date_range(AS_OF, periods=72, freq="1h")
    yhat = np.asarray(100 + 50 * np.sin(2 * np.pi * ds.hour / 24), dtype=float)
    for i, m in bumps.items():
        yhat[i] *= m
    return pd.DataFrame({"ds": ds, "yhat": yhat, "yhat_lo_80": yhat * (1 - width), "yhat_hi_80": yhat * (1 + width),
                         "yhat_lo_95": yhat * (1 - 2 * width), "yhat_hi_95": yhat * (1 + 2 * width)})


def test_baseline_is_the_median_of_the_same_hour_of_week():
    h = history()
    h.loc[h.index[-24 * 7 + 5], "y"] = 10_000          # one outlier at that hour of week: the median ignores it
    h.loc[h.index[-24 * 14 + 6], "y"] = np.nan          # missing data is skipped
    ds = pd.date_range(AS_OF, periods=24, freq="1h")
    b = baseline(h, ds)
    np.testing.assert_allclose(b, np.asarray(100 + 50 * np.sin(2 * np.pi * ds.hour / 24)))
    assert baseline(h.assign(y=np.nan), ds).tolist() == [0.0] * 24


def test_adjacent_steps_merge_and_lead_time_is_from_as_of():
    h = history()
    f = forecast_from(h, {30: 3.0, 31: 3.0, 32: 2.0, 50: 1.8})
    spikes = find_spikes("route:shop|prod|GET /products|us-east-1", f, h, AS_OF, H, min_ratio=1.5)
    assert len(spikes) == 2
    s = spikes[0]
    assert s.start_ts == AS_OF + 30 * H and s.end_ts == AS_OF + 33 * H
    assert s.lead_time_hours == 30
    assert s.peak_ts in (AS_OF + 30 * H, AS_OF + 31 * H) and s.ratio == pytest.approx(3.0)
    assert s.reason == "3.0x expected (450 vs 150 per step)" and s.threshold == pytest.approx(1.5 * s.baseline)
    assert 0.99 < s.probability <= 1.0
    assert spikes[1].reason.startswith("1.8x expected")
    frame = spikes_frame(spikes)
    assert list(frame.columns)[:3] == ["series", "start_ts", "end_ts"] and len(frame) == 2


def test_nothing_flagged_below_ratio_or_min_peak():
    h = history()
    assert find_spikes("total", forecast_from(h, {10: 1.4}), h, AS_OF, H) == []
    tiny = h.assign(y=h["y"] / 100)
    f = forecast_from(tiny, {}).assign(**{c: lambda d, c=c: d[c] / 100 * 3 for c in
                                          ("yhat", "yhat_lo_80", "yhat_hi_80", "yhat_lo_95", "yhat_hi_95")})
    assert len(find_spikes("total", f, tiny, AS_OF, H, min_peak=0)) >= 1
    assert find_spikes("total", f, tiny, AS_OF, H, min_peak=5) == []


def test_capacity_limit_in_requests_per_second():
    h = history()
    f = forecast_from(h, {})
    # 150/h peak * 1.2 = 180 requests in an hour = 0.05 rps; a 0.045 rps throttle is exceeded near the peaks
    spikes = find_spikes("total", f, h, AS_OF, H, capacity_rps=0.045)
    assert spikes and all("exceeds throttle 0.045 rps" in s.reason for s in spikes)
    assert all(s.threshold == pytest.approx(0.045 * 3600) for s in spikes)


def test_event_overlapping_a_spike_is_named():
    h = history()
    ev = Event("Black Friday", AS_OF + 29 * H, AS_OF + 40 * H, routes=("GET /products",), expected_uplift=3)
    f = forecast_from(h, {30: 3.0})
    (s,) = find_spikes("route:shop|prod|GET /products|us-east-1", f, h, AS_OF, H, events=[ev])
    assert s.event == "Black Friday"
    (s,) = find_spikes("route:shop|prod|POST /orders|us-east-1", f, h, AS_OF, H, events=[ev])
    assert s.event is None


def test_lognormal_probability_by_hand():
    # median 100, 90th percentile 100 * e^(0.5 * z90): sigma = 0.5; P(X > 150) = 1 - Phi(ln(1.5) / 0.5)
    p = exceed_probability(np.array([100.0]), np.array([100 * math.exp(0.5 * Z90)]), np.array([150.0]))
    assert p[0] == pytest.approx(1 - NormalDist().cdf(math.log(1.5) / 0.5))
    assert p[0] == pytest.approx(0.2087, abs=1e-3)
    # zero-width interval: certain either way
    assert exceed_probability(np.array([100.0, 100.0]), np.array([100.0, 100.0]), np.array([90.0, 110.0])).tolist() == [1.0, 0.0]


@settings(max_examples=200, deadline=None)
@given(st.floats(0, 1e6), st.floats(0, 10), st.floats(0, 1e7))
def test_probability_is_always_in_0_1(yhat, widen, threshold):
    p = exceed_probability(np.array([yhat]), np.array([yhat * (1 + widen)]), np.array([threshold]))
    assert 0.0 <= p[0] <= 1.0


def test_recurring_event_hours_are_not_their_own_baseline():
    h = history()
    sale = Event("Flash sale", AS_OF - pd.Timedelta("28D") + 42 * H, AS_OF - pd.Timedelta("28D") + 44 * H,
                 expected_uplift=2.5, recurring="weekly")
    ds = pd.DatetimeIndex(h["ds"])
    on = np.zeros(len(h), dtype=bool)
    for s0, s1 in sale.occurrences(ds[0], ds[-1] + H):
        on |= (ds >= s0) & (ds < s1)
    h.loc[on, "y"] *= 2.5                                   # every week's sale hours are 2.5x
    f = forecast_from(h, {42: 2.5, 43: 2.5})
    assert find_spikes("total", f, h, AS_OF, H) == []       # without the calendar it looks usual
    (s,) = find_spikes("total", f, h, AS_OF, H, events=[sale])
    assert s.start_ts == AS_OF + 42 * H and s.ratio == pytest.approx(2.5) and s.event == "Flash sale"


def test_capacity_for_takes_the_most_specific_key():
    limits = {"route:shop|prod|*": 100.0, "route:shop|prod|GET /orders": 50.0,
              "route:shop|prod|GET /orders|eu-west-1": 20.0, "region:*": 10_000.0, "total": 25_000.0}
    assert capacity_for("route:shop|prod|GET /orders|eu-west-1", limits) == 20.0      # the series itself
    assert capacity_for("route:shop|prod|GET /orders|us-east-1", limits) == 50.0      # the route, any region
    assert capacity_for("route:shop|prod|POST /cart|us-east-1", limits) == 100.0      # the stage's glob
    assert capacity_for("region:us-east-1", limits) == 10_000.0
    assert capacity_for("total", limits) == 25_000.0
    assert capacity_for("route:pets|prod|GET /pets|us-east-1", limits) is None
    assert capacity_for("api:shop", {}) is None
    # of two globs that match, the longer (more specific) wins
    assert capacity_for("route:shop|prod|GET /x|r", {"route:*": 1.0, "route:shop|*": 2.0}) == 2.0


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 30), st.floats(0, 1e6, allow_nan=False)), max_size=200),
       st.lists(st.integers(0, 32), min_size=1, max_size=40))
def test_grouped_medians_equal_one_median_per_key(pairs, wanted):
    from forecaster.forecast.spikes import _medians

    keys = np.array([k for k, _ in pairs], dtype=np.int64)
    y = np.array([v for _, v in pairs], dtype=float)
    wanted = np.array(wanted, dtype=np.int64)
    expected = np.array([np.median(y[keys == k]) if (keys == k).any() else np.nan for k in wanted])
    np.testing.assert_array_equal(_medians(y, keys, wanted), expected)


def test_a_quiet_hours_bump_below_the_routes_typical_level_is_not_a_spike():
    """1.8x the trough (hour 18: 50/h) is 90/h, still below the route's typical 100/h: nothing a
    capacity plan would notice. The same 1.8x at the peak (hour 6: 150/h) is a spike."""
    h = history()
    trough, peak = 18, 24 + 6
    assert find_spikes("total", forecast_from(h, {trough: 1.8}), h, AS_OF, H) == []
    (s,) = find_spikes("total", forecast_from(h, {peak: 1.8}), h, AS_OF, H)
    assert s.start_ts == AS_OF + peak * H and s.ratio == pytest.approx(1.8)
