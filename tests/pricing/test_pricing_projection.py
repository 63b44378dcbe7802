"""Forecast pricing, month-end projection and budget alerts, on a real DuckDB file."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from forecaster.config import Settings
from forecaster.pricing.projection import parse_series
from forecaster.pricing.store import load_latest_forecasts, report_from_db, write_report
from forecaster.store.db import connect, run

T0 = dt.datetime(2026, 11, 1)
AS_OF = dt.datetime(2026, 11, 10, 23, 1)


def fill(con, hours=240, per_hour=1000, forecast_per_hour=2000.0, run_id="fc-1"):
    """Hourly traffic from T0 (DataFrame inserts: DuckDB's executemany is slow) and a forecast run."""
    tr = pd.DataFrame({"ts": [T0 + dt.timedelta(hours=h) for h in range(hours)], "requests": per_hour})
    con.register("tr", tr)
    run(con, "INSERT INTO traffic_1m (ts, api, stage, route, region, api_type, requests, status_4xx, status_5xx, bytes_out, latency_n, latency_ms_sum, latency_p50_ms, latency_p95_ms, latency_p99_ms, integration_n, integration_ms_sum, billed_ms_sum) SELECT ts, 'a', 'prod', 'GET /x', 'us-east-1', 'rest', requests, 0, 0, 0, "
             "0, 0, NULL, NULL, NULL, 0, 0, 0 FROM tr")
    if forecast_per_hour is not None:
        run(con, "INSERT INTO runs VALUES (?, 'forecast', NULL, ?, ?, 'ok', NULL, NULL)", [run_id, AS_OF, AS_OF])
        fc = pd.DataFrame({"ds": [T0 + dt.timedelta(hours=hours + h) for h in range(100)], "yhat": forecast_per_hour})
        con.register("fc", fc)
        run(con, "INSERT INTO forecasts SELECT ?, 'route:a|prod|GET /x|us-east-1', ds, 'ets', yhat, 0, 0, 0, 0 "
                 "FROM fc", [run_id])


@pytest.fixture
def con(tmp_path):
    c = connect(tmp_path / "p.duckdb")
    yield c
    c.close()


def test_parse_series():
    assert parse_series("route:a|prod|GET /x|us-east-1") == ("a", "prod", "GET /x", "us-east-1")
    assert parse_series("api:a") is None


def test_projection_is_actual_plus_forecast_plus_run_rate(con):
    fill(con)
    s = Settings(lambda_integration_default="none", budgets={"a": 1.2, "*": 100.0})
    report, fc_run = report_from_db(con, s, forecast=True)
    d = report.to_dict("route")
    assert fc_run == "fc-1" and report.as_of == AS_OF
    assert d["total_usd"] == 0.84                         # 240 h x 1,000 x $3.50/M
    assert d["forecast"]["total_usd"] == 0.504            # 72 h x 2,000 x $3.50/M
    p = d["projection"]
    assert p["actual_usd"] == 0.84 and p["forecast_usd"] == 0.504
    run_rate_hours = (dt.datetime(2026, 12, 1) - (AS_OF + dt.timedelta(hours=72))).total_seconds() / 3600
    assert p["run_rate_usd"] == pytest.approx(run_rate_hours * 1000 * 3.5e-6, rel=0.01)
    assert p["total_usd"] == pytest.approx(p["actual_usd"] + p["forecast_usd"] + p["run_rate_usd"], abs=1e-9)
    assert "run_rate" in p["rows"][0]["flags"] and "forecast" in p["rows"][0]["flags"]
    # the budget of api 'a' is crossed on the forecast path, 52 forecast hours in
    [alert] = d["alerts"]
    assert alert["scope"] == "a" and not alert["already_crossed"]
    assert alert["crosses_at"] == "2026-11-13T03:00:00"


def test_no_forecast_run_projects_from_run_rate(con):
    fill(con, forecast_per_hour=None)
    report, fc_run = report_from_db(con, Settings(lambda_integration_default="none"), forecast=True)
    d = report.to_dict()
    assert fc_run is None and d["forecast"]["total_usd"] == 0
    assert d["projection"]["run_rate_usd"] > 0


def test_latest_forecast_run_wins(con):
    fill(con, run_id="old")
    run(con, "INSERT INTO runs VALUES ('new', 'forecast', NULL, ?, ?, 'ok', NULL, NULL)",
        [AS_OF + dt.timedelta(hours=1)] * 2)
    run(con, "INSERT INTO forecasts VALUES ('new', 'route:a|prod|GET /x|us-east-1', ?, 'ets', 1, 0, 0, 0, 0)",
        [AS_OF])
    assert load_latest_forecasts(con)[0] == "new"


def test_write_replaces_and_records_the_run(con):
    fill(con)
    s = Settings(lambda_integration_default="none", budgets={"*": 0.5})
    for _ in range(2):
        report, fc_run = report_from_db(con, s, forecast=True)
        run_id = write_report(con, report, {"forecast": True}, fc_run)
    kinds = dict(run(con, "SELECT kind, sum(usd_micros) FROM costs GROUP BY kind"))
    assert kinds["actual"] == 840_000 and kinds["forecast"] == 504_000
    assert {"projection:actual", "projection:forecast", "projection:run_rate"} <= set(kinds)
    summary = run(con, "SELECT summary FROM runs WHERE run_id = ?", [run_id])[0][0]
    assert '"scope": "*"' in summary


def test_failed_forecast_runs_are_skipped(con):
    fill(con, run_id="good")
    run(con, "INSERT INTO runs VALUES ('bad', 'forecast', NULL, ?, ?, 'failed', 'boom', NULL)",
        [AS_OF + dt.timedelta(hours=2)] * 2)
    run(con, "INSERT INTO forecasts VALUES ('bad', 'route:a|prod|GET /x|us-east-1', ?, 'ets', 1, 0, 0, 0, 0)",
        [AS_OF])
    assert load_latest_forecasts(con)[0] == "good"
