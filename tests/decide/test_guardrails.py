"""Guardrails: check_change's reasons, and clamp_limits never producing a change check_change refuses."""

from __future__ import annotations

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from forecaster.config import Settings
from forecaster.decide.guardrails import burst_for, check_change, clamp_limits, floor_rps
from forecaster.errors import UnknownName

S = Settings(decide_max_step_factor=4.0, decide_max_rps_by_target={"shop|prod|*": 900.0},
             decide_min_rps_by_target={"shop|prod": 5.0})
P = {"api": "shop", "stage": "prod", "route": None}


def thr(rate, burst=10, **kw):
    return {**P, "rate_limit_rps": rate, "burst_limit": burst, **kw}


def test_allowed_change_has_no_reasons():
    assert check_change("throttle", thr(100.0), thr(300.0), S) == []
    assert check_change("throttle", None, thr(300.0), S) == []


def test_each_guardrail_says_its_numbers():
    assert "rises more than x4" in check_change("throttle", thr(100.0), thr(401.0), S)[0]
    assert "falls more than x4" in check_change("throttle", thr(100.0), thr(24.0), S)[0]
    assert "account limit 10,000" in check_change("throttle", None, thr(10001.0), S)[0]
    assert "account burst limit 5,000" in check_change("throttle", None, thr(100.0, burst=5001), S)[0]
    assert "below the minimum 5.00" in check_change("throttle", None, thr(4.0), S)[0]
    r = {**thr(901.0), "route": "GET /orders"}
    assert "above the maximum 900.00 rps set for shop|prod|GET /orders" in check_change("throttle", None, r, S)[0]
    assert "observed peak 50.00" in check_change("throttle", None, thr(40.0), S, observed_peak_rps=50.0)[0]
    assert check_change("throttle", None, thr(0.0), S)[0].startswith("rate_limit_rps must be a number > 0")
    assert any("burst_limit must be an integer" in m for m in check_change("throttle", None, thr(10.0, burst=1.5), S))
    assert check_change("throttle", None, {"rate_limit_rps": 1.0, "burst_limit": 1}, S) == ["params lack 'api'"]


def test_other_kinds():
    assert check_change("cache", None, {**P, "cache_enabled": True, "cache_size_gb": 0.5, "ttl_s": 300}, S) == []
    assert "cache_size_gb must be one of" in check_change("cache", None, {**P, "cache_enabled": True,
                                                                          "cache_size_gb": 1.0, "ttl_s": 300}, S)[0]
    assert check_change("websocket", None, {**P, "idle_timeout_s": 601}, S)[0].startswith("idle_timeout_s")
    assert check_change("prewarm", None, {**P, "provisioned_concurrency": -1, "region": "us-east-1"}, S)
    assert check_change("route", None, {**P, "weights": {"us-east-1": 0}}, S)
    assert "residency" in check_change("route", {**P, "weights": {"eu-west-1": 100}},
                                       {**P, "weights": {"eu-west-1": 100, "us-east-1": 20}}, S)[0]
    eu = Settings(decide_route_regions={"shop": ["eu-west-1", "eu-north-1"]})
    assert "outside its regions" in check_change("route", None, {**P, "weights": {"us-east-1": 5}}, eu)[0]
    with pytest.raises(UnknownName, match="known: cache, prewarm, route, throttle, websocket"):
        check_change("scale", None, P, S)


finite = st.floats(min_value=0.0, max_value=1e6, allow_nan=False, allow_infinity=False)


@hsettings(max_examples=300, deadline=None)
@given(desired=st.lists(finite, min_size=1, max_size=48),
       peaks=st.lists(st.one_of(st.none(), finite), min_size=48, max_size=48),
       before=st.one_of(st.none(), st.floats(min_value=0.01, max_value=1e5)),
       n=st.floats(min_value=1.1, max_value=10), margin=st.floats(min_value=0.5, max_value=3),
       hi=st.one_of(st.none(), st.floats(min_value=1, max_value=1e5)), route=st.booleans())
def test_clamped_limits_never_break_a_guardrail(desired, peaks, before, n, margin, hi, route):
    s = Settings(decide_max_step_factor=n, decide_floor_margin=margin,
                 decide_max_rps_by_target={"shop|prod|*": hi} if hi else {})
    params = {**P, "route": "GET /x" if route else None}
    peaks = peaks[:len(desired)]
    limits = clamp_limits(desired, s, params, peaks=peaks, before_rps=before)
    prev = before
    for rate, peak in zip(limits, peaks):
        after = {**params, "rate_limit_rps": rate, "burst_limit": burst_for(rate, s)}
        b = {**params, "rate_limit_rps": prev, "burst_limit": 1} if prev else None
        assert check_change("throttle", b, after, s, observed_peak_rps=peak) == []
        prev = rate


@given(peak=finite, before=st.floats(min_value=0.01, max_value=1e5))
def test_floor_never_above_what_the_step_allows(peak, before):
    f = floor_rps(S, P, peak, before)
    assert f <= max(before * S.decide_max_step_factor, 5.0) + 1e-9
