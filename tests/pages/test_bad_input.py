"""Pages with nothing (or not enough) to show say so, in words, and still load cleanly."""

from __future__ import annotations

import json
import shutil

import pytest

import dashboards
from dashboards.html import Links
from forecaster.config import Settings
from forecaster.ingest import ingest
from forecaster.sample_store import default_samples_dir, demo_settings
from forecaster.store import connect
from forecaster.store.db import run

from .conftest import check_page


def _visit(browser, artifacts, tmp_path, name, html, shot):
    path = tmp_path / f"{shot}.html"
    path.write_text(html, encoding="utf-8")
    return browser.visit(path.as_uri(), screenshot=artifacts / "bad-input" / f"{shot}.png")


@pytest.mark.slow
def test_empty_database_says_so_on_every_page(tmp_path, browser, artifacts):
    settings = Settings(db=tmp_path / "empty.duckdb")
    con = connect(settings.db, settings)
    try:
        for name in dashboards.PAGES:
            visit = _visit(browser, artifacts, tmp_path, name, dashboards.render_page(name, con, settings), f"empty-{name}")
            check_page(visit, 0)
            assert visit.charts == []
            assert "No data yet" in visit.text and "forecaster ingest" in visit.text, visit.text[:500]
    finally:
        con.close()


@pytest.mark.slow
def test_traffic_without_a_forecast(tmp_path, browser, artifacts):
    settings = Settings(db=tmp_path / "noforecast.duckdb")
    con = connect(settings.db, settings)
    try:
        ingest(con, [str(default_samples_dir() / "apigw_rest_json.log")], settings)
        visit = _visit(browser, artifacts, tmp_path, "overview", dashboards.render_page("overview", con, settings),
                       "no-forecast-overview")
        check_page(visit, 1)   # the recorded traffic is drawn; what needs a forecast says so
        assert "No forecast yet" in visit.text and "no forecast yet, so no spikes" in visit.text
        visit = _visit(browser, artifacts, tmp_path, "costs", dashboards.render_page("costs", con, settings),
                       "no-forecast-costs")
        check_page(visit, 0)
        assert "no costs priced yet" in visit.text
    finally:
        con.close()


def test_route_without_data_and_empty_ranges(demo_store):
    con, settings = demo_store
    html = dashboards.render_page("route", con, settings, route="route:nope|prod|GET /x|us-east-1")
    assert "No data for this route" in html and "nope|prod|GET /x|us-east-1 has no traffic" in html
    html = dashboards.render_page("overview", con, settings, start="2026-11-25T00:00", end="2026-11-20T00:00")
    assert "Cannot show this time range" in html and "empty time range" in html
    html = dashboards.render_page("route", con, settings, start="yesterday")
    assert "start must be an ISO date" in html
    html = dashboards.render_page("overview", con, settings, start="2020-01-01", end="2020-01-02")
    assert "no traffic and no forecast for total in 2020-01-01 00:00" in html
    with pytest.raises(Exception, match="unknown dashboard page 'nope'"):
        dashboards.render_page("nope", con, settings)


@pytest.mark.slow
def test_decisions_page_shows_recommendations_limits_and_the_audit_log(demo_store, tmp_path, browser, artifacts):
    con, _ = demo_store
    con.execute("CHECKPOINT")
    db = tmp_path / "decided.duckdb"
    shutil.copyfile(con.execute("SELECT path FROM duckdb_databases() WHERE NOT internal").fetchone()[0], db)
    settings = demo_settings(db)
    c2 = connect(db, settings)
    try:
        params = {"api": "shop", "stage": "prod", "route": "POST /orders", "rate_limit_rps": 12.0, "burst_limit": 24}
        for i, (start, end, rate) in enumerate((("2026-11-25 05:00", "2026-11-27 00:00", 12.0),
                                                 ("2026-11-27 00:00", "2026-11-28 05:00", 40.0))):
            run(c2, """INSERT INTO recommendations (id, run_id, kind, target, params, valid_from, valid_to, rationale,
                                                    expected_impact, status)
                       VALUES (?, 'de-1', 'throttle', 'shop|prod|POST /orders', ?, ?, ?, ?, ?, ?)""",
                [f"rec-{i}", json.dumps({**params, "rate_limit_rps": rate}), start, end,
                 f"Black Friday forecast; limit {rate:.0f} rps", json.dumps({"requests_admitted_share": 0.999}),
                 "proposed" if i else "applied"])
        run(c2, """INSERT INTO actions (id, recommendation_id, adapter, before_state, request, after_state, dry_run,
                                        outcome, error, at_ts, actor)
                   VALUES ('act-1', 'rec-0', 'apigw_rest_stage', '{"rate": 5}', '{}', '{"rate": 12}', false, 'applied',
                           NULL, '2026-11-25 05:10', 'ops@example')""")
        html = dashboards.render_page("decisions", c2, settings, Links())
        visit = _visit(browser, artifacts, tmp_path, "decisions", html, "decisions-with-data")
        check_page(visit, 1)
        for words in ("Black Friday forecast; limit 40 rps", "requests admitted share", "apigw_rest_stage",
                      "ops@example", "Throttle limit vs traffic"):
            assert words in visit.text, words
    finally:
        c2.close()
