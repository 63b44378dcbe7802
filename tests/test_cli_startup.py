"""`forecaster NAME` imports only command NAME's module: `forecaster ingest` never pays for pandas or the
forecasting stack (start-up is part of what the ingest benchmark measures against DuckDB)."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest

from forecaster import entry
from forecaster.store.db import connect


def _imported(args: list[str], tmp_path) -> set[str]:
    out = subprocess.run([sys.executable, "-X", "importtime", "-m", "forecaster", *args],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    return {line.rsplit("|", 1)[1].strip() for line in out.stderr.splitlines() if line.startswith("import time:")}


def test_ingest_imports_neither_pandas_nor_the_other_commands(tmp_path):
    log = tmp_path / "a.log"   # over ingest_batch_kb: the streaming path, the one big logs take
    log.write_text("".join(f'203.0.113.5 - - [22/Nov/2026:05:{i // 600 % 60:02d}:{i // 10 % 60:02d} +0000] '
                           f'"GET /api/orders/{i} HTTP/1.1" 200 2326 "-" "curl/8.4.0 (bench)"\n' for i in range(12000)))
    assert log.stat().st_size > 1024 * 1024
    mods = _imported(["ingest", str(log), "--db", str(tmp_path / "x.duckdb"), "--json"], tmp_path)
    assert "forecaster.ingest.loader" in mods
    assert not {m for m in mods if m == "pandas" or m.startswith(("forecaster.forecast", "forecaster.pipeline",
                                                                   "forecaster.cli.demo", "statsmodels"))}


def test_help_still_lists_every_command(tmp_path):
    out = subprocess.run([sys.executable, "-m", "forecaster", "--help"], capture_output=True, text=True, timeout=120,
                         cwd=tmp_path)
    assert out.returncode == 0
    for name in ("ingest", "forecast", "backtest", "costs", "demo", "serve"):
        assert name in out.stdout


def _ingest(tmp_path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "forecaster", "ingest", *args, "--db", str(tmp_path / "x.duckdb")],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)


def test_ingest_skips_the_interpreter_teardown_with_everything_written_and_the_same_status(tmp_path):
    good, bad = tmp_path / "good.log", tmp_path / "bad.log"
    good.write_text("".join(f'203.0.113.5 - - [22/Nov/2026:05:00:{i % 60:02d} +0000] "GET /a/{i} HTTP/1.1" 200 5 "-" '
                            f'"curl/8"\n' for i in range(3000)) + "not a log line\n")
    bad.write_text("nothing any format reads\n" * 5)
    out = _ingest(tmp_path, str(good), "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)            # the whole report reached stdout
    assert (report["rows_loaded"], report["rows_rejected"]) == (3000, 1)
    out = _ingest(tmp_path, str(bad), "--json")
    assert out.returncode == 1 and json.loads(out.stdout)["by_source"][0]["status"] == "failed"
    out = _ingest(tmp_path, str(good), "--format", "nope")
    assert out.returncode == 2 and out.stderr.startswith("error: unknown log format 'nope'")
    con = connect(tmp_path / "x.duckdb")        # the file was closed whole: the rows and the reject are there
    assert con.execute("SELECT (SELECT count(*) FROM requests), (SELECT count(*) FROM rejects)").fetchall() == [(3000, 1)]
    con.close()


def test_the_fast_exit_falls_back_to_the_usual_one_while_another_thread_runs():
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        with pytest.raises(SystemExit) as e:
            entry._exit(3)
        assert e.value.code == 3
    finally:
        stop.set()
        t.join()
