"""The throttle policy over random forecasts: every record passes the guardrails against the one it
follows, and its rationale and impact agree with its params."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from hypothesis import given, settings as hsettings, strategies as st

from forecaster.config import Settings
from forecaster.decide.guardrails import check_change
from forecaster.decide.inputs import DecideInputs
from forecaster.decide.throttle import throttle

T0 = dt.datetime(2026, 11, 25, 5)
ROUTES = ["route:shop|prod|GET /a|us-east-1", "route:shop|prod|GET /a|eu-west-1", "route:shop|prod|POST /b|us-east-1"]


def inputs(levels, spikes, factor, observed, before, s) -> DecideInputs:
    rows = []
    for k, sid in enumerate(ROUTES):
        for h in range(len(levels)):
            y = levels[h] * (k + 1) * (spikes if h in (10, 11) else 1.0)
            rows.append({"series": sid, "ds": T0 + dt.timedelta(hours=h), "model": "m", "yhat": y,
                         "yhat_lo_80": y * 0.8, "yhat_hi_80": y * 1.3, "yhat_lo_95": y * 0.6, "yhat_hi_95": y * 1.6})
    fc = pd.DataFrame(rows)
    stats = pd.DataFrame([{"api": "shop", "stage": "prod", "route": sid.split("|")[2], "region": sid.split("|")[3],
                           "peak_factor": factor} for sid in ROUTES])
    obs = pd.DataFrame([{"api": "shop", "stage": "prod", "route": r, "peak_rps": observed} for r in ("GET /a", "POST /b")])
    return DecideInputs(run_id="fc", as_of=T0, step_s=3600.0, forecasts=fc,
                        accuracy=pd.DataFrame(columns=["series", "rel_mae", "coverage_80"]),
                        spikes=pd.DataFrame(columns=["series", "start_ts", "end_ts", "ratio", "event"]),
                        stats=stats, observed=obs, settings=s,
                        in_force={("throttle", "shop|prod|GET /a"): before} if before else {})


@hsettings(max_examples=40, deadline=None)
@given(levels=st.lists(st.floats(min_value=0, max_value=5e7), min_size=3, max_size=30),
       spikes=st.floats(min_value=1, max_value=50), factor=st.one_of(st.none(), st.floats(min_value=1, max_value=20)),
       observed=st.floats(min_value=0, max_value=2e4), before=st.one_of(st.none(), st.floats(min_value=0.5, max_value=2e4)),
       n=st.floats(min_value=1.5, max_value=8), hi=st.one_of(st.none(), st.floats(min_value=1, max_value=5e3)),
       headroom=st.floats(min_value=1, max_value=3))
def test_random_forecasts_never_break_a_guardrail(levels, spikes, factor, observed, before, n, hi, headroom):
    s = Settings(decide_max_step_factor=n, decide_headroom=headroom,
                 decide_max_rps_by_target={"shop|prod|GET *": hi} if hi else {})
    recs = throttle(inputs(levels, spikes, factor if factor else np.nan, observed, before, s), s)
    assert recs
    for r in recs:
        prev = {**r.params, "rate_limit_rps": r.before} if r.before else None
        assert check_change("throttle", prev, r.params, s, observed_peak_rps=r.observed_peak_rps) == [], r
        if not r.target.startswith("usage_plan:"):
            assert r.expected_impact["limit_rps"] == round(r.params["rate_limit_rps"], 3)
            assert f"{r.params['rate_limit_rps']:,.1f} rps from" in r.rationale
            assert 0 <= r.expected_impact["requests_admitted_share"] <= 1 + 1e-9
            assert ("assumed, counts only" in r.rationale) == (factor is None)
