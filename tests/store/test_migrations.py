"""Schema migrations against a database file written by a released schema (``fixtures/``).

``fixtures/schema-v1.duckdb`` was written by forecaster at schema version 1 (how:
``make_fixture.py``); every test works on a copy of it.
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import duckdb
import pytest

from forecaster.config import Settings
from forecaster.errors import MigrationFailed, SchemaTooNew
from forecaster.forecast.run import load_spikes
from forecaster.pricing.store import load_latest_forecasts
from forecaster.store import connect, migrations, runs, traffic
from forecaster.store.db import one, run
from forecaster.store.migrations import Step

FIXTURES = Path(__file__).parent / "fixtures"
V1 = FIXTURES / "schema-v1.duckdb"

# What the fixture holds (make_fixture.py), checked after every migration.
COUNTS = {"sources": 3, "requests": 237, "rejects": 3, "traffic_1m": 1243, "runs": 2, "forecasts": 312,
          "backtests": 6, "spikes": 3, "costs": 10850, "carbon": 5516}


@pytest.fixture
def v1(tmp_path: Path) -> Path:
    db = tmp_path / "v1.duckdb"
    shutil.copyfile(V1, db)
    return db


def settings_for(db: Path) -> Settings:
    return Settings(db=db, db_lock_timeout_s=0)


def raw_version(db: Path) -> int:
    c = duckdb.connect(str(db), read_only=True)
    try:
        return c.execute("SELECT max(version) FROM schema_version").fetchall()[0][0]
    finally:
        c.close()


def columns(con, table: str) -> list[str]:
    return [r[0] for r in run(con, "SELECT column_name FROM information_schema.columns WHERE table_name = ? "
                                   "ORDER BY ordinal_position", [table])]


def assert_v1_data(con) -> None:
    for table, n in COUNTS.items():
        assert one(con, f"SELECT count(*) FROM {table}")[0] == n, table
    assert run(con, "SELECT source_id, uri, format, rows_loaded, rows_rejected FROM sources ORDER BY source_id") == [
        (1, "fixture/apigw_rest_json.log", "apigw_rest_json", 123, 0),
        (2, "fixture/combined_with_bad_lines.log", "combined", 114, 3),
        (3, "fixture/counts_two_routes.csv", "counts", 1008, 0)]
    assert one(con, "SELECT request_id, ts, route, status, latency_ms FROM requests ORDER BY source_id, line_no "
                    "LIMIT 1") == ("33e271a5-f723-48e2-9330-6755da53722c", dt.datetime(2026, 11, 23, 1, 40, 34, 821000),
                                   "GET /products/{id}", 200, 21.0)
    assert run(con, "SELECT line_no, raw FROM rejects ORDER BY line_no") == [
        (101, "this is not a log line"), (102, '{"requestId": "broken json'), (103, "GET / HTTP/1.1 missing fields")]
    assert one(con, "SELECT sum(requests) FROM traffic_1m")[0] == 18732434
    assert one(con, "SELECT sum(usd_micros) FROM costs")[0] == 138191533
    assert one(con, "SELECT round(sum(yhat), 3) FROM forecasts")[0] == 834130.0
    assert one(con, "SELECT round(sum(g_co2e), 6) FROM carbon")[0] == pytest.approx(34.859187)
    assert one(con, "SELECT count(*) FROM traffic_1h")[0] > 0          # the view survives
    # and the code reads it through its repositories
    assert traffic.totals(con) == traffic.Totals(16, 18732434, dt.datetime(2026, 11, 4, 5), dt.datetime(2026, 11, 29, 23, 33))
    assert runs.get(con, "fo-fixture-forecast").status == "ok"
    assert load_latest_forecasts(con)[0] == "fo-fixture-forecast"
    run_id, spikes = load_spikes(con)
    assert run_id == "fo-fixture-forecast" and len(spikes) == 3
    assert spikes["reason"].str.contains("exceeds throttle 5 rps").all()


def test_fixture_is_version_1_and_migrates_to_latest_with_data_intact(v1):
    assert raw_version(v1) == 1
    con = connect(v1, settings_for(v1))
    try:
        assert migrations.current_version(con) == migrations.latest_version()
        assert_v1_data(con)
        # the writer keeps working on the migrated file
        runs.start(con, "fo-after-migration", "forecast", {"x": 1})
        assert runs.exists(con, "fo-after-migration")
    finally:
        con.close()


def test_a_new_step_adds_a_column_to_existing_rows(v1, monkeypatch):
    latest = migrations.latest_version()
    step = Step(latest + 1, "test: runs.note", sql=("ALTER TABLE runs ADD COLUMN note VARCHAR DEFAULT 'from v1'",))
    monkeypatch.setattr(migrations, "STEPS", [*migrations.STEPS, step])
    con = connect(v1, settings_for(v1))
    try:
        assert "note" in columns(con, "runs")
        assert run(con, "SELECT run_id, note FROM runs ORDER BY run_id") == [
            ("costs-fixture", "from v1"), ("fo-fixture-forecast", "from v1")]
        assert [r[0] for r in run(con, "SELECT version FROM schema_version ORDER BY version")] == [
            *range(1, latest + 2)]
        assert migrations.current_version(con) == latest + 1
        assert_v1_data(con)
    finally:
        con.close()
    # opening again applies nothing
    con = connect(v1, settings_for(v1))
    try:
        assert migrations.migrate(con, lambda: dt.datetime(2026, 1, 1)) == []
    finally:
        con.close()


def test_a_step_function_rewrites_data_in_the_same_transaction(v1, monkeypatch):
    latest = migrations.latest_version()

    def backfill(con) -> None:
        run(con, "UPDATE sources SET format = upper(format)")

    monkeypatch.setattr(migrations, "STEPS", [*migrations.STEPS, Step(latest + 1, "test: upper formats", fn=backfill)])
    con = connect(v1, settings_for(v1))
    try:
        assert [r[0] for r in run(con, "SELECT format FROM sources ORDER BY source_id")] == [
            "APIGW_REST_JSON", "COMBINED", "COUNTS"]
    finally:
        con.close()


def test_a_failing_step_leaves_the_file_at_the_last_good_version(v1, monkeypatch):
    latest = migrations.latest_version()
    good = Step(latest + 1, "test: costs.note", sql=("ALTER TABLE costs ADD COLUMN note VARCHAR",))
    bad = Step(latest + 2, "test: half a change", sql=("ALTER TABLE spikes ADD COLUMN half INTEGER",
                                                        "UPDATE spikes SET half = 1",
                                                        "SELECT * FROM no_such_table"))
    monkeypatch.setattr(migrations, "STEPS", [*migrations.STEPS, good, bad])
    with pytest.raises(MigrationFailed) as e:
        connect(v1, settings_for(v1))
    msg = str(e.value)
    assert f"schema migration {latest + 2} (test: half a change) failed on {v1}" in msg
    assert f"stays at version {latest + 1}" in msg and "no_such_table" in msg
    assert raw_version(v1) == latest + 1
    con = connect(v1, settings_for(v1), read_only=True)
    try:
        assert "note" in columns(con, "costs")
        assert "half" not in columns(con, "spikes")
        assert_v1_data(con)
    finally:
        con.close()


def test_a_file_newer_than_the_code_is_refused(v1):
    future = migrations.latest_version() + 3
    c = duckdb.connect(str(v1))
    c.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)", [future, dt.datetime(2027, 1, 1)])
    c.close()
    for read_only in (False, True):
        with pytest.raises(SchemaTooNew) as e:
            connect(v1, settings_for(v1), read_only=read_only)
        assert str(e.value).startswith(f"DuckDB file {v1} has schema version {future}, newer than this "
                                       f"forecaster's {migrations.latest_version()}")
        assert "upgrade forecaster" in str(e.value)
    assert raw_version(v1) == future                       # untouched
    # and the file was let go: it opens again
    duckdb.connect(str(v1)).close()


def test_opening_read_only_never_migrates(v1, monkeypatch):
    latest = migrations.latest_version()
    step = Step(latest + 1, "test: runs.note", sql=("ALTER TABLE runs ADD COLUMN note VARCHAR DEFAULT 'x'",))
    monkeypatch.setattr(migrations, "STEPS", [*migrations.STEPS, step])
    con = connect(v1, settings_for(v1), read_only=True)
    try:
        assert migrations.current_version(con) == 1
        assert "note" not in columns(con, "runs")
        assert_v1_data(con)
        with pytest.raises(duckdb.Error):
            run(con, "DELETE FROM runs")
    finally:
        con.close()
    assert raw_version(v1) == 1


def test_migration_steps_must_be_numbered_in_order(v1, monkeypatch):
    monkeypatch.setattr(migrations, "STEPS", [*migrations.STEPS, Step(migrations.latest_version() + 2, "gap")])
    with pytest.raises(Exception, match="numbered 1, 2, 3"):
        connect(v1, settings_for(v1))


def test_a_new_file_gets_every_step(tmp_path):
    db = tmp_path / "new.duckdb"
    con = connect(db, settings_for(db))
    try:
        assert migrations.current_version(con) == migrations.latest_version()
        assert one(con, "SELECT count(*) FROM schema_version")[0] == len(migrations.STEPS)
        for table in COUNTS:
            assert one(con, f"SELECT count(*) FROM {table}")[0] == 0
    finally:
        con.close()
