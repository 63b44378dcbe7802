"""The shipped catalog's coverage and sources; budget alerts on hand-made cost lines."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from forecaster.pricing.budget import check_budgets, scope_mask
from forecaster.pricing.catalog import builtin_catalogs, load_catalog

REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2", "ap-northeast-1")


def test_shipped_catalog_covers_the_regions_with_sources():
    cat = load_catalog()
    assert builtin_catalogs()[-1].name == f"aws-{cat.as_of}.toml"
    for key in ("apigw_rest.requests", "apigw_http.requests", "apigw_ws.messages", "data_transfer.out",
                "lambda.requests", "lambda.duration.x86_64", "lambda.duration.arm64"):
        for region in REGIONS:
            p = cat.prices[(key, region)]
            assert p.source.startswith("https://aws.amazon.com/") and p.as_of
    assert set(cat.free_tier) >= {"apigw_rest.requests", "lambda.duration"}
    cache = sorted(float(k.split(".", 1)[1][:-2]) for k, r in cat.prices if k.startswith("apigw_cache.")
                   and r == "us-east-1")
    assert cache == [0.5, 1.6, 6.1, 13.5, 28.4, 58.2, 118, 237]


def lines(rows):
    base = dict(kind="actual", api="a", stage="prod", route="GET /x", usd_micros=0)
    return pd.DataFrame([{**base, **r} for r in rows])


def test_budget_alert_crossing_time_and_scopes():
    t0 = dt.datetime(2026, 11, 1)
    c = lines([dict(ts=t0, usd_micros=600_000), dict(ts=t0 + dt.timedelta(days=1), kind="forecast",
                                                      usd_micros=600_000),
               dict(ts=t0, api="b", usd_micros=5_000_000)])
    alerts = {a.scope: a for a in check_budgets(c, {"a": 1.0, "a|prod|GET /x": 0.5, "b": 10.0, "*": 100}, "2026-11")}
    assert set(alerts) == {"a", "a|prod|GET /x"}
    assert alerts["a"].crosses_at == t0 + dt.timedelta(days=1) and not alerts["a"].already_crossed
    assert alerts["a|prod|GET /x"].already_crossed and alerts["a"].ratio == pytest.approx(1.2)
    assert "120%" in alerts["a"].message
    with pytest.raises(ValueError, match="a|b"):
        scope_mask(c, "a|b")
