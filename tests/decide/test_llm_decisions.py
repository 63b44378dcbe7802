"""Decisions on model calls: a token budget -> a usage-plan quota (hand-computed), through decide's
guardrails and the control plane's usage-plan adapter; model-routing advice that appears when the
cheaper model saves more than the threshold and not otherwise; the guardrails on model weights."""

from __future__ import annotations

import datetime as dt
import json
import re

import pandas as pd
import pytest

from forecaster.carbon.models import ModelEnergy, TierEnergy
from forecaster.config import Settings, Target
from forecaster.decide.guardrails import check_change
from forecaster.decide.inputs import DecideInputs
from forecaster.decide.models import model_route_options, model_routes, pays, token_quotas
from forecaster.pricing.models import parse_model_catalog

AS_OF = "2026-11-25T05:00:00"   # as tests/decide/conftest.py

NOW = dt.datetime(2026, 12, 31)   # December: 31 days
CAT = parse_model_catalog({"model_price": [
    {"provider": "bedrock", "model": "big", "region": "us-east-1", "input": "3", "output": "15", "source": "s",
     "family": "f", "tier": "large"},
    {"provider": "bedrock", "model": "little", "region": "us-east-1", "input": "1", "output": "4", "source": "s",
     "family": "f", "tier": "small"},
    {"provider": "bedrock", "model": "other-family", "region": "us-east-1", "input": "0.01", "output": "0.01",
     "source": "s", "family": "g", "tier": "small"},
]})
ENERGY = ModelEnergy({"large": TierEnergy("large", 0.2, 0.5, "s"), "small": TierEnergy("small", 0.02, 0.1, "s"),
                      "unknown": TierEnergy("unknown", 0.2, 0.5, "s")})
GRID = {"us-east-1": 400.0}


def calls(*rows: dict) -> pd.DataFrame:
    base = dict(api="ai", stage="prod", route="POST /chat", client="k1", provider="bedrock", model="big",
                region="us-east-1", tier="on_demand", requests=1, input_tokens=0, output_tokens=0,
                cached_input_tokens=0, latency_p50_ms=None, latency_n=0, first_ts=NOW - dt.timedelta(hours=720))
    return pd.DataFrame([{**base, **r} for r in rows])


def inputs(settings: Settings) -> DecideInputs:
    empty = pd.DataFrame()
    return DecideInputs(run_id="fc", as_of=NOW, step_s=3600.0, forecasts=empty, accuracy=empty, spikes=empty,
                        stats=empty, observed=empty, settings=settings, in_force={})


def test_quota_from_a_token_budget_hand_computed():
    c = calls(
        # k1: 120,000 tokens over 100 calls = 1,200 a call; its own budget 3,100,000 a month = 100,000 a day -> 83
        dict(requests=60, input_tokens=60_000, output_tokens=12_000),
        dict(requests=40, input_tokens=40_000, output_tokens=8_000, model="little"),
        # k2 under the api's budget: 6,200,000 / 31 = 200,000 a day / 500 a call = 400
        dict(client="k2", requests=10, input_tokens=4_000, output_tokens=1_000),
        # another api without a budget: no quota
        dict(api="other", requests=10, input_tokens=1_000, output_tokens=1_000),
    )
    s = Settings(decide_token_budgets={"ai|k1": 3_100_000, "ai": 6_200_000})
    q = token_quotas(c, s, NOW)
    assert set(q) == {"ai"}
    assert (q["ai"].client, q["ai"].tokens_per_request, q["ai"].tokens_per_day, q["ai"].quota_per_day) == \
        ("k1", 1200.0, 100_000.0, 83)
    # 100 calls over 30 days
    assert q["ai"].observed_requests_per_day == pytest.approx(100 / 30)
    assert token_quotas(c, Settings(decide_token_budgets={"ai": 6_200_000}), NOW)["ai"].quota_per_day == 166  # 200,000 / 1,200
    assert token_quotas(c, Settings(), NOW) == {}


def route_calls() -> pd.DataFrame:
    # 30 days of POST /chat on big: 1,000,000 in + 100,000 out = $3 + $1.5 = $4.50 a month;
    # on little $1 + $0.40 = $1.40: moving half saves (4.50 - 1.40) / 2 = $1.55 a month.
    return calls(dict(requests=1000, input_tokens=1_000_000, output_tokens=100_000, latency_p50_ms=1000.0,
                      latency_n=1000))


LATENCY = pd.DataFrame([{"provider": "bedrock", "model": "big", "latency_p50_ms": 1000.0, "latency_n": 1000},
                        {"provider": "bedrock", "model": "little", "latency_p50_ms": 400.0, "latency_n": 50}])


def test_model_route_option_hand_computed():
    s = Settings(decide_model_route_share=0.5)
    [o] = model_route_options(route_calls(), LATENCY, s, CAT, ENERGY, 1.0, GRID, 500.0, NOW)
    assert (o.to_model, o.to_region, o.smaller) == ("little", "us-east-1", True)   # not the other family
    assert o.usd_month_before == pytest.approx(4.5)
    assert o.usd_saved_month == pytest.approx(1.55)
    # energy: big (1e6 x 0.2 + 1e5 x 0.5) / 1e6 kWh = 0.25 kWh; little (1e6 x 0.02 + 1e5 x 0.1) / 1e6 = 0.03 kWh
    assert o.g_co2e_saved_month == pytest.approx(0.5 * (0.25 - 0.03) * 400.0)
    assert o.latency_change_ms == pytest.approx(0.5 * (400 - 1000))
    assert o.calls_month == pytest.approx(1000)


def test_routing_recommended_only_above_the_threshold():
    opts = model_route_options(route_calls(), LATENCY, Settings(), CAT, ENERGY, 1.0, GRID, 500.0, NOW)
    low = Settings(decide_model_route_min_usd_month=1.5, decide_model_route_min_g_co2e_month=1e9)
    high = Settings(decide_model_route_min_usd_month=1.6, decide_model_route_min_g_co2e_month=1e9)
    assert pays(opts[0], low) and not pays(opts[0], high)
    assert model_routes(inputs(high), high, opts) == []
    [r] = model_routes(inputs(low), low, opts)
    assert (r.kind, r.target) == ("route", "model:ai|prod|POST /chat")
    assert r.params == {"api": "ai", "stage": "prod", "route": "POST /chat", "provider": "bedrock",
                        "model_weights": {"big@us-east-1": 0.5, "little@us-east-1": 0.5}}
    assert r.expected_impact["usd_saved"] == pytest.approx(1.55)
    assert r.expected_impact["latency_change_ms"] == pytest.approx(-300)
    assert "$1.55" in r.rationale and "smaller model" in r.rationale
    assert check_change("route", None, r.params, low) == []
    # the carbon threshold alone: a greener option at no extra cost
    green = Settings(decide_model_route_min_usd_month=1e9, decide_model_route_min_g_co2e_month=40)
    assert len(model_routes(inputs(green), green, opts)) == 1


def test_no_advice_for_an_unknown_or_cheapest_model():
    c = calls(dict(model="little", requests=10, input_tokens=1000), dict(model="mystery", requests=10, input_tokens=1000))
    assert model_route_options(c, LATENCY, Settings(), CAT, ENERGY, 1.0, GRID, 500.0, NOW) == []


@pytest.mark.parametrize("weights,msg", [
    ({"big@us-east-1": 1.0}, "at least two"),
    ({"big@us-east-1": 0.7, "little@us-east-1": 0.7}, "add up to"),
    ({"big": 0.5, "little@us-east-1": 0.5}, "model@region"),
    ({"big@us-east-1": -0.5, "little@us-east-1": 1.5}, "in \\[0, 1\\]"),
])
def test_guardrails_refuse_bad_model_weights(weights, msg):
    reasons = check_change("route", None, {"api": "ai", "stage": "prod", "route": "POST /chat",
                                           "model_weights": weights}, Settings())
    assert reasons and any(re.search(msg, x) for x in reasons)


def usage_log(path, n_days: int = 5, per_day: int = 20, model: str = "gpt-4o", n_in: int = 100_000, n_out: int = 2_000):
    t0 = pd.Timestamp(AS_OF) - pd.Timedelta(days=n_days)
    lines = []
    for i in range(n_days * per_day):
        ts = t0 + pd.Timedelta(hours=24 * n_days * i / (n_days * per_day))
        lines.append(json.dumps({"request_id": f"u-{i}", "timestamp": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "api": "shop",
                                 "stage": "prod", "route": "POST /assist", "client": "k1", "provider": "openai",
                                 "model": model, "region": "us-east-1", "latency_ms": 900,
                                 "usage": {"prompt_tokens": n_in, "completion_tokens": n_out}}))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_decide_token_quota_and_model_route_end_to_end(fresh_db, tmp_path):
    from forecaster.control.adapters import get
    from forecaster.decide import decide
    from forecaster.ingest import ingest
    from forecaster.store import open_store

    # 100 calls of 102,000 tokens; budget 30,600,000 a month (November: 30 days) = 1,020,000 a day -> 10 a day
    s = Settings(db=fresh_db, decide_token_budgets={"shop|k1": 30_600_000})
    with open_store(fresh_db, s) as con:
        ingest(con, [str(usage_log(tmp_path / "usage.jsonl"))], s)
        res = decide(con, s, kinds="throttle,route", as_of=pd.Timestamp(AS_OF).to_pydatetime())
    [plan] = [r for r in res.records if r.target == "usage_plan:shop"]
    assert plan.params["quota_per_day"] == 10
    assert plan.expected_impact["tokens_per_request"] == 102_000
    assert "token budget 30,600,000 tokens a month (shop|k1)" in plan.rationale
    assert plan.params["rate_limit_rps"] >= 1.0 and plan.params["burst_limit"] >= 1
    # the control plane's usage-plan adapter takes it as it takes any usage-plan throttle
    a = get("apigw_usage_plan")
    t = Target(kind="apigw_usage_plan", api="shop", usage_plan_id="p1")
    rec = plan.to_dict()
    assert a.matches(t, rec) and a.desired(t, rec, s)["quota_per_day"] == 10
    # 20 calls a day on gpt-4o: 100 calls x ($0.25 + $0.02) = $27 over 5 days = $162 a month; half to
    # gpt-4o-mini ($0.015 + $0.0012 a call) saves (27 - 1.62) / 2 x 6 = $76.14 a month
    [route] = [r for r in res.records if r.target == "model:shop|prod|POST /assist"]
    assert route.params["model_weights"] == {"gpt-4o@us-east-1": 0.5, "gpt-4o-mini@us-east-1": 0.5}
    assert route.expected_impact["usd_saved"] == pytest.approx(76.14)
    assert route.expected_impact["g_co2e_saved"] > 0
    # a route53 target of the same api does not take a model-routing record
    r53 = Target(kind="route53_weights", api="shop", zone_id="Z", record="r.", set_ids={"us-east-1": "a"})
    assert not get("route53_weights").matches(r53, route.to_dict())


def test_absurd_token_budget_is_refused_before_anything_is_written(fresh_db):
    from forecaster.decide import decide
    from forecaster.errors import ConfigError
    from forecaster.store import open_store

    s = Settings(db=fresh_db, decide_token_budgets={"shop": -5})
    with open_store(fresh_db, s) as con:
        before = con.execute("SELECT count(*) FROM recommendations").fetchone()[0]
        with pytest.raises(ConfigError, match=r"decide_token_budgets\['shop'\] must be a number > 0"):
            decide(con, s, as_of=pd.Timestamp(AS_OF).to_pydatetime())
        assert con.execute("SELECT count(*) FROM recommendations").fetchone()[0] == before
