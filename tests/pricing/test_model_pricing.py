"""Model (token) prices: the shipped catalog, hand-computed bills per model and route, discounts and
flags, unknown models never at a silent zero, the overlay, the month-end projection and token budgets."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pandas as pd
import pytest
from typer.testing import CliRunner

from forecaster.errors import ConfigError
from forecaster.pricing.model_spend import check_model_budgets, model_spend, run_rate_tokens, token_spikes
from forecaster.pricing.models import (FLAG_LOGGED_COST, FLAG_NO_BATCH_PRICE, FLAG_NORMALIZED, FLAG_REGION_FALLBACK,
                                       FLAG_UNKNOWN, builtin_model_catalogs, load_model_catalog, parse_model_catalog,
                                       price_tokens, summarize_models, unpriced_models)

T0 = dt.datetime(2026, 11, 1)

CAT = parse_model_catalog({"catalog": {"name": "t", "as_of": "2026-12-01", "default_region": "us-east-1"}, "model_price": [
    {"provider": "openai", "model": "gpt-x", "region": "*", "input": "0.20", "output": "0.80",
     "cached_input": "0.05", "batch_discount": "0.5", "source": "https://example.test/openai"},
    {"provider": "bedrock", "model": "anthropic.m", "region": "us-east-1", "input": "3", "output": "15",
     "source": "https://example.test/bedrock"},
]})


def tok(**r) -> dict:
    base = dict(ts=T0, api="a", stage="prod", route="POST /chat", provider="openai", model="gpt-x", region="us-east-1",
                client="k1", tier="on_demand", requests=1, input_tokens=0, output_tokens=0, cached_input_tokens=0)
    return {**base, **r}


def frame(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame(list(rows))


def test_shipped_catalog_rows_have_sources_dates_and_notes():
    cat = load_model_catalog()
    assert builtin_model_catalogs() and cat.prices
    for p in cat.prices.values():
        assert p.source.startswith("https://") and p.as_of and p.note
        assert p.input_per_1m > 0 and p.output_per_1m > 0


def test_hand_computed_bill_per_model_and_route():
    f = frame(
        # chat on gpt-x: 10,000 in (2,000 cached) + 1,000 out -> 8,000 x 0.20 + 2,000 x 0.05 + 1,000 x 0.80 = 2,500 micro$
        tok(requests=4, input_tokens=10_000, cached_input_tokens=2_000, output_tokens=1_000),
        # summarize on Bedrock: 1,000 in x 3 + 200 out x 15 = 6,000 micro$
        tok(route="POST /sum", provider="bedrock", model="anthropic.m", input_tokens=1_000, output_tokens=200, client="k2"),
        # chat, batch tier: (3,000 x 0.20 + 500 x 0.80) x 0.5 = 500 micro$
        tok(tier="batch", input_tokens=3_000, output_tokens=500, client="k2"),
    )
    p = price_tokens(f, CAT)
    assert list(p["usd_micros"]) == [2_500, 6_000, 500]
    assert list(p["input_usd_micros"]) == [1_700, 3_000, 300]
    by_route = {r["key"]: r["usd"] for r in summarize_models(p, "route")}
    assert by_route == {"a|prod|POST /chat": 0.003, "a|prod|POST /sum": 0.006}
    by_model = {r["key"]: (r["usd"], r["input_tokens"]) for r in summarize_models(p, "model")}
    assert by_model == {"openai/gpt-x": (0.003, 13_000), "bedrock/anthropic.m": (0.006, 1_000)}
    assert {r["key"]: r["usd"] for r in summarize_models(p, "client")} == {"k1": 0.0025, "k2": 0.0065}


def test_flags_region_fallback_normalized_ids_and_no_batch_price():
    p = price_tokens(frame(
        tok(provider="bedrock", model="us.anthropic.m", input_tokens=1_000),
        tok(provider="bedrock", model="arn:aws:bedrock:eu-west-1::foundation-model/anthropic.m", region="eu-west-1",
            input_tokens=1_000, tier="batch")), CAT)
    assert list(p["usd_micros"]) == [3_000, 3_000]
    assert p["flags"][0] == FLAG_NORMALIZED
    assert set(p["flags"][1].split(",")) == {FLAG_NORMALIZED, FLAG_REGION_FALLBACK, FLAG_NO_BATCH_PRICE}


def test_unknown_model_is_flagged_never_zero():
    p = price_tokens(frame(tok(model="gpt-unknown", input_tokens=5_000, output_tokens=100),
                           tok(model="other", input_tokens=10, logged_cost_usd=0.0123),
                           tok(input_tokens=1_000)), CAT)
    assert pd.isna(p["usd_micros"][0]) and p["flags"][0] == FLAG_UNKNOWN
    assert p["usd_micros"][1] == 12_300 and p["flags"][1] == f"{FLAG_UNKNOWN},{FLAG_LOGGED_COST}"
    un = unpriced_models(p)
    assert [(u["model"], u["input_tokens"]) for u in un] == [("gpt-unknown", 5_000), ("other", 10)]
    rows = summarize_models(p, "model")
    assert {r["key"]: r["unpriced"] for r in rows} == {"openai/gpt-unknown": True, "openai/other": False,
                                                       "openai/gpt-x": False}


def test_overlay_replaces_and_adds_model_rows(tmp_path):
    overlay = tmp_path / "over.toml"
    overlay.write_text('[[model_price]]\nprovider = "openai"\nmodel = "gpt-4o-mini"\nregion = "*"\ninput = "0.10"\n'
                       'output = "0.40"\nsource = "contract"\n\n[[model_price]]\nprovider = "acme"\nmodel = "m1"\n'
                       'region = "*"\ninput = "1"\noutput = "2"\nsource = "contract"\n')
    cat = load_model_catalog(overlay=overlay)
    assert cat.prices[("openai", "gpt-4o-mini", "*")].input_per_1m == Decimal("0.10")
    assert cat.prices[("openai", "gpt-4o-mini", "*")].note == "user override"
    assert ("acme", "m1", "*") in cat.prices and ("openai", "gpt-4o", "*") in cat.prices


def test_bad_catalog_collects_every_problem():
    with pytest.raises(ConfigError) as e:
        parse_model_catalog({"model_price": [{"provider": "p", "model": "m", "region": "*", "input": "-1", "output": "1",
                                              "source": "s"}, {"provider": "p", "model": "n"}]})
    assert "prices must be >= 0" in str(e.value) and "missing region, input, output, source" in str(e.value)


def daily_spend(days: int) -> pd.DataFrame:
    """$9 a day: 24 hourly lines of 25,000 output tokens of anthropic.m (x 15 $/1M = $0.375 an hour)."""
    rows = []
    for d in range(days):
        for h in range(24):
            rows.append(tok(ts=T0 + dt.timedelta(days=d, hours=h), provider="bedrock", model="anthropic.m",
                            output_tokens=25_000))
    return frame(*rows)


def test_budget_alert_fires_on_the_right_day():
    """$9 a day for five days, then the run-rate: a $100 budget is crossed during day 12 (12 x 9 = 108 > 100 >= 99)."""
    hourly = daily_spend(5)
    as_of = T0 + dt.timedelta(days=5)
    spend = model_spend(hourly, CAT, T0, as_of, as_of=as_of, budgets={"*": 100.0, "client:k1": 500.0,
                                                                       "model:anthropic.m": 200.0}, project=True)
    assert spend.to_dict()["total_usd"] == 45.0
    proj = spend.projected
    assert int(proj["usd_micros"].sum()) == 30 * 9_000_000   # 30 days of November at $9
    alerts = {a.scope: a for a in spend.alerts}
    assert set(alerts) == {"model spend *", "model spend model:anthropic.m"}
    assert alerts["model spend *"].crosses_at == dt.datetime(2026, 11, 12)
    assert alerts["model spend model:anthropic.m"].crosses_at == dt.datetime(2026, 11, 23)
    assert not alerts["model spend *"].already_crossed


def test_run_rate_per_key_and_day():
    rr = run_rate_tokens(daily_spend(2), T0 + dt.timedelta(days=2), T0 + dt.timedelta(days=4))
    assert list(rr["output_tokens"]) == [600_000, 600_000] and list(rr["ts"]) == [T0 + dt.timedelta(days=2),
                                                                                   T0 + dt.timedelta(days=3)]


def test_model_budget_scopes():
    p = price_tokens(frame(tok(output_tokens=1_000_000, client="big")), CAT)   # $0.80
    assert check_model_budgets(p, {"client:big": 0.5, "client:small": 0.5, "a": 1.0, "a|prod|POST /chat": 0.7},
                               "2026-11")[0].scope == "model spend a|prod|POST /chat"
    with pytest.raises(ValueError):
        check_model_budgets(p, {"a|b": 1.0}, "2026-11")


def test_token_spike_with_its_dollars():
    rows = [tok(ts=T0 + dt.timedelta(days=d, hours=2), provider="bedrock", model="anthropic.m",
                input_tokens=100_000 * (3 if d == 4 else 1)) for d in range(6)]
    spikes = token_spikes(frame(*rows), CAT)
    assert len(spikes) == 1
    s = spikes[0]
    assert (s.start, s.tokens, s.ratio, s.usd) == (T0 + dt.timedelta(days=4, hours=2), 300_000, 3.0, 0.9)
    assert "0.30M tokens, $0.90, 3.0x" in s.message


def test_costs_cli_shows_model_spend_and_flags_unknown_models(tmp_path):
    from forecaster.cli import app

    db = tmp_path / "c.duckdb"
    log = tmp_path / "u.log"
    log.write_text("".join(json.dumps({"created": 1795323600 + i, "model": m, "request_id": f"r{i}",
                                       "usage": {"prompt_tokens": 1000, "completion_tokens": 100}}) + "\n"
                           for i, m in enumerate(["gpt-4o-mini", "gpt-4o-mini", "my-finetune"])))
    assert CliRunner().invoke(app, ["ingest", "--db", str(db), str(log)]).exit_code == 0
    res = CliRunner().invoke(app, ["costs", "--db", str(db), "--json", "--no-save"])
    assert res.exit_code == 0, res.output
    m = json.loads(res.output)["models"]
    # gpt-4o-mini at 0.15 / 0.60 $ per 1M: 2 x (1,000 x 0.15 + 100 x 0.60) = 420 micro$
    assert m["total_usd"] == 0.00042 and m["all_priced"] is False
    assert [(u["model"], u["input_tokens"]) for u in m["unpriced_models"]] == [("my-finetune", 1000)]
    text = CliRunner().invoke(app, ["costs", "--db", str(db), "--no-save"], env={"COLUMNS": "200"}).output
    assert "unknown model openai/my-finetune" in text and "[[model_price]]" in text
