"""``forecaster costs / carbon / whatif --json`` through a real subprocess on a small DuckDB file."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pandas as pd
import pytest

from forecaster.store.db import connect, run

T0 = dt.datetime(2026, 11, 1)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "cli.duckdb"
    con = connect(path)
    rows = []
    for h in range(48):
        for route, api_type, region in (("GET /a", "rest", "us-east-1"), ("POST /b", "http", "eu-west-1"),
                                        ("GET /", "web", "us-east-1")):
            rows.append(dict(ts=T0 + dt.timedelta(hours=h), api="shop" if api_type != "web" else "site",
                             route=route, region=region, api_type=api_type, requests=1000 + 10 * h,
                             bytes_out=(1000 + 10 * h) * 2048, n=1000 + 10 * h if api_type != "web" else 0))
    df = pd.DataFrame(rows)
    con.register("df", df)
    run(con, """INSERT INTO traffic_1m (ts, api, stage, route, region, api_type, requests, status_4xx, status_5xx, bytes_out, latency_n, latency_ms_sum, latency_p50_ms, latency_p95_ms, latency_p99_ms, integration_n, integration_ms_sum, billed_ms_sum) SELECT ts, api, 'prod', route, region, api_type, requests, 0, 0, bytes_out,
                n, n * 30.0, NULL, NULL, NULL, n, n * 20.0, n * 21.0 FROM df""")
    run(con, "INSERT INTO runs VALUES ('fc', 'forecast', NULL, ?, ?, 'ok', NULL, NULL)", [T0, T0])
    fc = pd.DataFrame({"ds": [T0 + dt.timedelta(hours=48 + h) for h in range(72)]})
    con.register("fc", fc)
    run(con, "INSERT INTO forecasts SELECT 'fc', 'route:shop|prod|GET /a|us-east-1', ds, 'ets', 1500, 0, 0, 0, 0 "
             "FROM fc")
    con.close()
    return path


def cli(*args: str) -> dict:
    p = subprocess.run([sys.executable, "-c", "from forecaster.cli import main; main()", *args],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


def check_shape(out: dict, total: str, value: str) -> None:
    assert {"from", "to", total, "rows"} <= set(out)
    for r in out["rows"]:
        assert {"key", value, "components", "flags"} <= set(r)
        assert isinstance(r["flags"], list) and isinstance(r["components"], dict)
    assert sum(r[value] for r in out["rows"]) == pytest.approx(out[total], abs=1e-6)


def test_costs_json(db):
    out = cli("costs", "--db", str(db), "--json", "--forecast", "--by", "route")
    check_shape(out, "total_usd", "usd")
    keys = {r["key"]: r for r in out["rows"]}
    assert "no_gateway_price" in keys["site|prod|GET /|us-east-1"]["flags"]
    assert "price_region_fallback" in keys["shop|prod|POST /b|eu-west-1"]["flags"]
    assert out["forecast"]["total_usd"] > 0 and out["forecast_run_id"] == "fc"
    assert out["projection"]["month"] == "2026-11"
    con = connect(db)
    assert run(con, "SELECT count(*) FROM costs WHERE kind = 'actual'")[0][0] > 0
    con.close()


@pytest.mark.slow
def test_costs_json_by_component_in_a_window(db):
    comp = cli("costs", "--db", str(db), "--json", "--by", "component", "--no-save",
               "--from", "2026-11-01", "--to", "2026-11-02T00:00+00:00")
    check_shape(comp, "total_usd", "usd")
    assert {r["key"] for r in comp["rows"]} >= {"gateway", "data_transfer", "lambda_requests", "lambda_duration"}


def test_carbon_json(db):
    out = cli("carbon", "--db", str(db), "--json", "--forecast")
    check_shape(out, "total_g_co2e", "g_co2e")
    assert all(r["g_co2e_per_request"] > 0 for r in out["rows"])
    assert out["forecast"]["total_g_co2e"] > 0 and out["sci"]


@pytest.mark.slow
def test_carbon_json_by_region(db):
    by_region = cli("carbon", "--db", str(db), "--json", "--by", "region", "--no-save")
    check_shape(by_region, "total_g_co2e", "g_co2e")


@pytest.mark.slow
def test_whatif_json(db):
    out = cli("whatif", "move", "shop|prod|GET /a", "--to-region", "eu-north-1", "--share", "0.5",
              "--db", str(db), "--json")
    assert out["saved_g_co2e"] > 0 and "saved_usd" in out


@pytest.mark.slow
def test_bad_date_is_a_clear_error(db):
    p = subprocess.run([sys.executable, "-c", "from forecaster.cli import main; main()", "costs", "--db", str(db),
                        "--from", "yesterday-ish"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and "--from" in p.stderr and "yesterday-ish" in p.stderr
