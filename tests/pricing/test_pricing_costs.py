"""Per-route costs from traffic frames: hand-computed numbers, exact sums, named fallbacks."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import given, settings as hsettings, strategies as st

from forecaster.config import Settings
from forecaster.errors import ConfigError
from forecaster.pricing.catalog import load_catalog
from forecaster.pricing.costs import Window, cost_traffic
from forecaster.pricing.tiers import MICROS_PER_USD, tier_cost_usd, usd_to_micros

from pricing_helpers import T0, traffic

CAT = load_catalog()
NO_LAMBDA = Settings(lambda_integration_default="none")
REST = CAT.prices[("apigw_rest.requests", "us-east-1")].tiers


def price(key: str):
    return CAT.prices[(key, "us-east-1")].tiers


def usd(frame, **where) -> float:
    m = pd.Series(True, index=frame.index)
    for k, v in where.items():
        m &= frame[k] == v
    return int(frame.loc[m, "usd_micros"].sum()) / MICROS_PER_USD


def test_rest_routes_share_the_tiers_and_add_up_to_the_bill():
    # 1B requests in one month over three routes and many hours: the account bill is $3,033.10
    rows = [dict(route=r, ts=T0 + dt.timedelta(hours=h), requests=n)
            for r, n in (("GET /a", 1_000_000), ("GET /b", 2_333_333), ("GET /c", 1_000_000))
            for h in range(100)]
    rows.append(dict(route="GET /a", ts=T0, requests=1_000_000_000 - 100 * 4_333_333))
    c = cost_traffic(traffic(*rows), CAT, NO_LAMBDA)
    gw = c[c["component"] == "gateway"]
    assert usd(gw) == 3033.10
    assert int(gw["usd_micros"].sum()) == 3_033_100_000
    # each route pays the blended rate (3033.10 / 1e9 per request) to within a micro-dollar per line
    per_route = gw.groupby("route")["usd_micros"].sum()
    vol = gw.groupby("route")["quantity"].sum()
    for r in per_route.index:
        assert abs(per_route[r] - vol[r] * 3_033_100_000 / 1e9) <= len(gw)


def test_http_api_500m_requests_cost_480():
    c = cost_traffic(traffic(dict(api_type="http", requests=500_000_000)), CAT, NO_LAMBDA)
    assert usd(c, component="gateway") == 480.0


def test_http_metered_in_512kb_increments_flags_the_average():
    # 1,000 requests averaging 600 KB each -> 2 metered requests each
    c = cost_traffic(traffic(dict(api_type="http", requests=1000, bytes_out=1000 * 600 * 1024)), CAT, NO_LAMBDA)
    gw = c[c["component"] == "gateway"].iloc[0]
    assert gw["quantity"] == 2000 and "metering_from_average_size" in gw["flags"]
    assert gw["usd_micros"] == 2000   # 2,000 x $1.00 / 1M


def test_lambda_cost_from_billed_ms_memory_and_arch():
    s = Settings(lambda_memory_by_route={"a|GET /x": 1024}, lambda_arch="arm64")
    # 1M invocations x 100 ms billed at 1 GB = 100,000 GB-s x $0.0000133334 = $1.33334; requests $0.20
    c = cost_traffic(traffic(dict(requests=1_000_000, integration_n=1_000_000, billed_ms_sum=100_000_000)), CAT, s)
    assert usd(c, component="lambda_duration") == 1.33334
    assert usd(c, component="lambda_requests") == 0.2
    assert c.loc[c["component"] == "lambda_duration", "price_key"].iloc[0] == "lambda.duration.arm64"


def test_free_tier_is_shared_across_regions_and_flagged():
    s = Settings(free_tier=True, lambda_integration_default="none")
    c = cost_traffic(traffic(dict(requests=1_500_000), dict(region="us-west-2", requests=500_000)), CAT, s)
    gw = c[c["component"] == "gateway"]
    # 2M REST requests, 1M free: $3.50 in all, split 3:1 by volume
    assert usd(gw) == 3.5
    assert usd(gw, region="us-east-1") == 2.625 and usd(gw, region="us-west-2") == 0.875
    assert all("free_tier" in f for f in gw["flags"])


def test_data_transfer_first_100_gb_free():
    c = cost_traffic(traffic(dict(requests=1, bytes_out=200 * 1024 ** 3)), CAT, NO_LAMBDA)
    assert usd(c, component="data_transfer") == 9.0   # 100 GB x $0.09


def test_cache_hours_allocated_to_the_stage_routes():
    s = Settings(lambda_integration_default="none", api_cache_gb_by_stage={"a|prod": 6.1})
    t = traffic(dict(route="GET /x", requests=300), dict(route="GET /y", requests=100))
    c = cost_traffic(t, CAT, s, Window(T0, T0 + dt.timedelta(hours=10)))
    cache = c[c["component"] == "cache"]
    assert usd(cache) == 2.0                          # 10 h x $0.20
    assert usd(cache, route="GET /x") == 1.5 and usd(cache, route="GET /y") == 0.5


def test_provisioned_concurrency_charges_while_enabled():
    s = Settings(lambda_provisioned_by_route={"a|prod|GET /x": 2}, lambda_memory_mb=1024)
    t = traffic(dict(requests=1000, integration_n=1000, billed_ms_sum=1_000_000))
    c = cost_traffic(t, CAT, s, Window(T0, T0 + dt.timedelta(hours=1)))
    # 2 x 1 GB x 3,600 s x $0.0000041667 = $0.03000024; duration 1,000 GB-s at $0.0000097222
    assert usd(c, component="lambda_provisioned") == 0.03
    assert usd(c, component="lambda_duration") == 0.009722


def test_unknown_region_falls_back_and_flags():
    c = cost_traffic(traffic(dict(region="xx-moon-1", requests=1_000_000)), CAT, NO_LAMBDA)
    gw = c[c["component"] == "gateway"].iloc[0]
    assert gw["usd"] == 3.5 and "price_region_fallback" in gw["flags"]
    # the unverified regional rows are marked fallback too
    c = cost_traffic(traffic(dict(region="eu-central-1", requests=1)), CAT, NO_LAMBDA)
    assert "price_region_fallback" in c[c["component"] == "gateway"].iloc[0]["flags"]
    c = cost_traffic(traffic(dict(region="us-west-2", requests=1)), CAT, NO_LAMBDA)
    assert "price_region_fallback" not in c[c["component"] == "gateway"].iloc[0]["flags"]


def test_web_traffic_has_no_gateway_price_but_pays_data_transfer():
    c = cost_traffic(traffic(dict(api_type="web", requests=10, bytes_out=300 * 1024 ** 3)), CAT, Settings())
    gw = c[c["component"] == "gateway"].iloc[0]
    assert gw["usd"] == 0 and gw["flags"] == "no_gateway_price"
    assert usd(c, component="data_transfer") == 18.0
    assert not (c["component"] == "lambda_requests").any()


def test_missing_latency_is_flagged_not_silent():
    c = cost_traffic(traffic(dict(requests=100)), CAT, Settings())
    dur = c[c["component"] == "lambda_duration"].iloc[0]
    req = c[c["component"] == "lambda_requests"].iloc[0]
    assert dur["usd"] == 0 and "no_integration_latency" in dur["flags"]
    assert req["quantity"] == 100 and "lambda_requests_from_gateway_count" in req["flags"]


def test_missing_price_is_flagged(tmp_path):
    s = Settings(lambda_integration_default="none", api_cache_gb_by_stage={"a|prod": 3.0})   # no 3 GB cache size
    c = cost_traffic(traffic(dict(requests=5)), CAT, s)
    cache = c[c["component"] == "cache"].iloc[0]
    assert cache["usd"] == 0 and "no_price:apigw_cache.3gb" in cache["flags"]


def test_overlay_replaces_rows_and_discounts(tmp_path):
    overlay = tmp_path / "prices.toml"
    overlay.write_text('''
[discounts]
"apigw_*" = 0.10
[[price]]
key = "apigw_http.requests"
region = "eu-central-1"
unit = "request"
per = 1000000
tiers = [{usd = "1.20"}]
source = "enterprise agreement 2026"
''')
    cat = load_catalog(overlay=overlay)
    c = cost_traffic(traffic(dict(requests=1_000_000), dict(api_type="http", region="eu-central-1",
                                                            requests=1_000_000)), cat, NO_LAMBDA)
    gw = c[c["component"] == "gateway"].set_index("region")
    assert gw.loc["us-east-1", "usd"] == 3.15                 # 3.50 less 10 %
    assert gw.loc["eu-central-1", "usd"] == 1.08              # overlay 1.20 less 10 %, no fallback flag
    assert "price_region_fallback" not in gw.loc["eu-central-1", "flags"]


def test_bad_overlay_lists_every_problem(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('[[price]]\nkey = "x"\nregion = "r"\n[[price]]\nkey = "y"\nregion = "r"\nunit = "u"\n'
                   'source = "s"\ntiers = [{upto = 5, usd = "1"}]\n')
    with pytest.raises(ConfigError) as e:
        load_catalog(overlay=bad)
    assert "price row" in str(e.value) and "missing unit, tiers, source" in str(e.value) and "last" in str(e.value)


@hsettings(max_examples=15, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["GET /a", "GET /b", "POST /c"]), st.integers(0, 23),
                          st.integers(0, 50_000_000), st.integers(0, 10**11), st.integers(0, 10**9)),
                min_size=1, max_size=25), st.booleans())
def test_lines_add_up_to_the_account_bill(rows, free):
    """Property: per route-hour lines sum exactly to the bill of the month's totals, per price."""
    t = traffic(*[dict(route=r, ts=T0 + dt.timedelta(hours=h), requests=n, bytes_out=b, integration_n=n,
                       billed_ms_sum=ms) for r, h, n, b, ms in rows])
    c = cost_traffic(t, CAT, Settings(free_tier=free))
    n, b, ms = int(t["requests"].sum()), int(t["bytes_out"].sum()), int(t["billed_ms_sum"].sum())
    f = (lambda k: CAT.free_tier[k]) if free else (lambda k: Decimal(0))
    expected = {
        "apigw_rest.requests": tier_cost_usd(Decimal(n), REST, f("apigw_rest.requests")),
        "lambda.requests": tier_cost_usd(Decimal(n), price("lambda.requests"), f("lambda.requests")),
        "lambda.duration.x86_64": tier_cost_usd(Decimal(ms) * 128 / Decimal(1024 * 1000),
                                                price("lambda.duration.x86_64"), f("lambda.duration")),
        "data_transfer.out": tier_cost_usd(Decimal(b) / Decimal(1024 ** 3), price("data_transfer.out")),
    }
    got = c.groupby("price_key")["usd_micros"].sum()
    for key, usd_exact in expected.items():
        assert int(got[key]) == usd_to_micros(usd_exact), key


def test_tiers_reset_every_month():
    t = traffic(dict(ts=dt.datetime(2026, 10, 31, 23), requests=1_000_000_000),
                dict(ts=dt.datetime(2026, 11, 1, 0), requests=1_000_000_000))
    c = cost_traffic(t, CAT, NO_LAMBDA)
    assert usd(c, component="gateway") == 2 * 3033.10
