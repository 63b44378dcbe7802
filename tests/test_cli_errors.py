"""What a person sees when something is wrong: one clear line, nothing created, no crash."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from forecaster.cli import app
from forecaster.cli.common import parse_hours, short
from forecaster.config import settings_from_file
from forecaster.errors import BadInput
from forecaster.store import connect
from forecaster.store.db import run


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "forecaster", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_a_bad_setting_is_one_line(tmp_path):
    res = cli("sources", "list", "--db", str(tmp_path / "x.duckdb"), env={"FORECASTER_INGEST_CHUNK_MB": "abc"})
    assert res.returncode == 2
    assert res.stderr.strip().count("\n") == 0 and "ingest_chunk_mb" in res.stderr and "'abc'" in res.stderr
    (tmp_path / "bad.toml").write_text("bogus_key = 1\n")
    res = cli("sources", "list", "--config", str(tmp_path / "bad.toml"))
    assert res.returncode == 2 and res.stderr.strip().count("\n") == 0 and "bogus_key" in res.stderr


def test_environment_beats_the_config_file(tmp_path, monkeypatch):
    """The README's order: defaults < TOML file < FORECASTER_* variables < command-line options."""
    (tmp_path / "c.toml").write_text('ingest_chunk_mb = 7\nforecast_horizon = "24h"\n')
    monkeypatch.setenv("FORECASTER_INGEST_CHUNK_MB", "9")
    s = settings_from_file(tmp_path / "c.toml")
    assert (s.ingest_chunk_mb, s.forecast_horizon) == (9, "24h")


@pytest.mark.parametrize("cmd", [["forecast"], ["backtest"], ["spikes"], ["costs"], ["carbon"], ["decide"], ["replay"],
                                 ["plan"], ["apply"], ["actions"], ["rollback", "--last"],
                                 ["dashboard", "--out", "pages"]])
def test_read_commands_with_a_missing_db_create_nothing(tmp_path, cmd):
    db = tmp_path / "typo.duckdb"
    res = CliRunner().invoke(app, [*cmd, "--db", str(db)])
    assert res.exit_code != 0 and not db.exists()
    assert "no database at" in str(res.exception)


def test_costs_horizon_takes_a_duration():
    assert parse_hours("72h", "--horizon") == 72 and parse_hours("3d", "--horizon") == 72
    assert parse_hours("48", "--horizon") == 48
    with pytest.raises(BadInput, match="72h or 3d"):
        parse_hours("soon", "--horizon")


def test_spikes_table_with_and_without_event_names(tmp_path):
    """Today: NotRenderableError when a run's spikes mix rows with and without an event."""
    db = tmp_path / "s.duckdb"
    con = connect(db)
    run(con, "INSERT INTO runs (run_id, kind, started, finished, status) VALUES ('r1', 'forecast', now(), now(), 'ok')")
    for i, event in enumerate(["black_friday", None, "launch"]):
        run(con, "INSERT INTO spikes (run_id, series, start_ts, end_ts, peak_ts, peak, baseline, ratio, threshold, "
                 "probability, lead_time_hours, reason, event) VALUES ('r1', ?, ?, ?, ?, 100, 10, 10, 2, 0.9, 5, 'x', ?)",
            [f"route:api|prod|GET /r{i}", f"2026-11-2{5 - i} 00:00", f"2026-11-2{5 - i} 02:00", f"2026-11-2{5 - i} 01:00", event])
    con.close()
    res = CliRunner().invoke(app, ["spikes", "--db", str(db), "--run", "r1"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    out = res.output
    assert out.index("/r2") < out.index("/r1") < out.index("/r0")        # soonest first
    assert "black_friday" in out and "launch" in out
    narrow = CliRunner().invoke(app, ["spikes", "--db", str(db), "--run", "r1"], env={"COLUMNS": "80"})
    lines = narrow.stdout.splitlines()
    assert narrow.exit_code == 0 and max(len(x) for x in lines) <= 80, narrow.stdout
    head = next(x for x in lines if "series (event)" in x)
    assert head.split() == ["series", "(event)", "starts", "hrs", "peak", "at", "peak", "x", "exp", "P", "lead"]
    row = next(x for x in lines if x.lstrip().startswith("route:api|prod|GET"))   # the first, soonest: /r2
    assert row.split()[-8:] == ["11-23", "00:00", "2", "01:00", "100", "10.0x", "90%", "5"], row
    assert "each reason: --why" in narrow.stdout and "x exp" in narrow.stdout
    why = CliRunner().invoke(app, ["spikes", "--db", str(db), "--run", "r1", "--why"], env={"COLUMNS": "80"})
    assert "route:api|prod|GET /r0 from 11-25 00:00: x" in why.stdout
    empty = CliRunner().invoke(app, ["spikes", "--db", str(db), "--run", "r1", "--min-ratio", "50"])
    assert empty.exit_code == 0 and empty.stdout.strip() == "no spikes ahead in run r1"


def test_short_keeps_both_ends():
    key = "route:shop|prod|GET /products/{id}/reviews/{review_id}"
    cut = short(key, 30)
    assert len(cut) == 30 and cut.startswith("route:sho") and cut.endswith("/reviews/{review_id}")
    assert short("/var/log/tomcat/tomcat-access.log.3", 20).endswith("access.log.3")


@pytest.mark.parametrize("name, text", [("ev.yaml", "events: [ {name: x, start: 2026-11-27\n"),
                                        ("ev.csv", b"name,start,end\n\xff\xfe,2026-11-27,2026-11-28\n")])
def test_a_malformed_events_file_is_one_clear_error(tmp_path, name, text):
    from forecaster.forecast.events import load_events

    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    with pytest.raises(BadInput, match="cannot be read as") as e:
        load_events(p)
    assert "\n" not in str(e.value)


def test_money_reads_as_a_person_reads_it():
    """`forecaster costs` printed $314.363031; whatif $0.757907 ($93.108714 -> $92.350807)."""
    from forecaster.cli.common import money

    assert [money(v) for v in (314.363031, 1234567.891, 0.403107, 0.0415, 0.000092, 0.0, -3.5)] == [
        "$314.36", "$1,234,567.89", "$0.40", "$0.042", "$0.000092", "$0.00", "-$3.50"]
