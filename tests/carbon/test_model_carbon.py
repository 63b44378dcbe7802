"""Carbon of model calls: tokens x energy per token (per tier, documented estimates) x PUE x grid,
summed exactly; flagged as estimates; in the route totals and SCI; `forecaster carbon --json`."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from forecaster.carbon.coefficients import load_coefficients
from forecaster.carbon.intensity import load_grid
from forecaster.carbon.models import (COMPONENT, FLAG_ESTIMATE, FLAG_TIER_UNKNOWN, ModelEnergy, TierEnergy,
                                      load_model_energy, model_carbon)
from forecaster.carbon.service import carbon_report
from forecaster.config import Settings
from forecaster.errors import ConfigError
from forecaster.pricing.models import load_model_catalog, parse_model_catalog

T0 = dt.datetime(2026, 11, 2, 10)
C = load_coefficients()
GRID = load_grid(C.unknown_region_g_per_kwh)
CAT = parse_model_catalog({"model_price": [
    {"provider": "bedrock", "model": "big", "region": "us-east-1", "input": "3", "output": "15", "source": "s",
     "family": "f", "tier": "large"},
    {"provider": "bedrock", "model": "little", "region": "*", "input": "1", "output": "4", "source": "s",
     "family": "f", "tier": "small"},
    {"provider": "bedrock", "model": "anon", "region": "*", "input": "1", "output": "4", "source": "s"},
]})
ENERGY = ModelEnergy({"large": TierEnergy("large", 0.2, 0.5, "s"), "small": TierEnergy("small", 0.02, 0.1, "s"),
                      "unknown": TierEnergy("unknown", 0.3, 0.6, "s")})


def tok(**r) -> dict:
    base = dict(ts=T0, api="ai", stage="prod", route="POST /chat", provider="bedrock", model="big",
                region="us-east-1", client="k", tier="on_demand", requests=1, input_tokens=0, output_tokens=0,
                cached_input_tokens=0)
    return {**base, **r}


def test_shipped_estimates_have_sources_and_an_unknown_class():
    e = load_model_energy()
    assert {"large", "small", "unknown"} <= set(e.tiers)
    for t in e.tiers.values():
        assert t.source.startswith("https://") and t.note and t.wh_per_1k_output > 0
    assert e.tiers["small"].wh_per_1k_output < e.tiers["large"].wh_per_1k_output
    assert "uncertain" in e.uncertainty or "order of magnitude" in e.uncertainty
    cat = load_model_catalog()
    assert all(p.tier in ("large", "small") and p.family for p in cat.prices.values())


def test_carbon_per_token_summed_exactly():
    toks = pd.DataFrame([
        # large in us-east-1: (10,000 x 0.2 + 2,000 x 0.5) / 1000 Wh = 3.0 Wh
        tok(requests=4, input_tokens=10_000, output_tokens=2_000, cached_input_tokens=1_000),
        # small in eu-west-1: (5,000 x 0.02 + 1,000 x 0.1) / 1000 = 0.2 Wh
        tok(route="POST /sum", model="little", region="eu-west-1", requests=2, input_tokens=5_000, output_tokens=1_000),
        # no tier in the catalog: the unknown class, flagged: (1,000 x 0.3 + 1,000 x 0.6) / 1000 = 0.9 Wh
        tok(model="anon", input_tokens=1_000, output_tokens=1_000),
    ])
    lines = model_carbon(toks, CAT, ENERGY, C, GRID)
    wh = [3.0, 0.2, 0.9]
    kwh = [w / 1000 * C.pue for w in wh]
    assert list(lines["kwh"]) == pytest.approx(kwh, rel=1e-12)
    g = [kwh[0] * 379.069, kwh[1] * 278.6, kwh[2] * 379.069]
    assert list(lines["g_co2e"]) == pytest.approx(g, rel=1e-12)
    assert lines["g_co2e"].sum() == pytest.approx(sum(g), rel=1e-12)
    assert list(lines["model_tier"]) == ["large", "small", "unknown"]
    assert all(FLAG_ESTIMATE in f for f in lines["flags"])
    assert FLAG_TIER_UNKNOWN in lines["flags"].iloc[2] and FLAG_TIER_UNKNOWN not in lines["flags"].iloc[0]
    assert set(lines["component"]) == {COMPONENT}


def test_report_covers_model_calls_per_route_and_model():
    toks = pd.DataFrame([tok(requests=4, input_tokens=10_000, output_tokens=2_000),
                         tok(ts=T0 + dt.timedelta(days=40), input_tokens=10**6)])    # outside the window
    traffic = pd.DataFrame([dict(ts=T0, api="ai", stage="prod", route="POST /chat", region="us-east-1",
                                 api_type="rest", requests=4, bytes_out=0, integration_n=0, billed_ms_sum=0)])
    lines = model_carbon(toks, CAT, ENERGY, C, GRID)
    rep = carbon_report(traffic, C, GRID, Settings(), T0, T0 + dt.timedelta(days=1), model_lines=lines)
    out = rep.to_dict("route")
    model_g = 3.0 / 1000 * C.pue * 379.069
    assert out["models_total_g_co2e"] == pytest.approx(model_g, rel=1e-12)
    [m] = out["models"]
    assert m["key"] == "ai|prod|POST /chat|bedrock/big" and m["calls"] == 4
    assert m["g_co2e_per_call"] == pytest.approx(model_g / 4, rel=1e-12)
    [row] = out["rows"]
    assert row["components"][COMPONENT] == pytest.approx(model_g, rel=1e-12)
    assert row["g_co2e"] == pytest.approx(out["total_g_co2e"])
    # SCI per gateway request covers the model call
    assert row["g_co2e_per_request"] == pytest.approx(out["total_g_co2e"] / 4, rel=1e-9)
    assert row["g_co2e_per_request"] > model_g / 4


def test_bad_energy_file_is_refused(tmp_path):
    p = tmp_path / "e.toml"
    p.write_text('[[model_energy]]\ntier = "large"\nwh_per_1k_input = -1\nwh_per_1k_output = 1\nsource = "x"\n')
    with pytest.raises(ConfigError, match="unknown"):
        load_model_energy(p)


def test_cli_carbon_json_includes_model_calls(tmp_path):
    from typer.testing import CliRunner

    from forecaster.cli import app

    (tmp_path / "u.jsonl").write_text("".join(json.dumps(
        {"request_id": f"r{i}", "timestamp": f"2026-11-02T10:0{i}:00Z", "api": "ai", "route": "POST /chat",
         "model": "gpt-4o", "provider": "openai", "region": "us-east-1",
         "usage": {"prompt_tokens": 1000, "completion_tokens": 500}}) + "\n" for i in range(3)))
    db = tmp_path / "s.duckdb"
    r = CliRunner().invoke(app, ["ingest", str(tmp_path / "u.jsonl"), "--db", str(db)])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["carbon", "--db", str(db), "--json", "--no-save", "--from", "2026-11-02", "--to", "2026-11-03"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    e = load_model_energy().tiers["large"]
    g = 3 * (1000 * e.wh_per_1k_input + 500 * e.wh_per_1k_output) / 1e6 * C.pue * 379.069
    assert out["models_total_g_co2e"] == pytest.approx(g, rel=1e-9)
    assert out["models"][0]["model"] == "gpt-4o" and out["models"][0]["calls"] == 3
