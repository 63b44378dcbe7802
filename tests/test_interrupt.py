"""Ctrl-C and progress as a person sees them: one line and exit status 130 (never a traceback),
nothing half-written, and series done / total while a forecast runs."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from forecaster.cli import app
from forecaster.config import Settings
from forecaster.forecast import engines
from forecaster.forecast.run import run_forecast
from forecaster.ingest import loader
from forecaster.store.db import connect, run

END = pd.Timestamp("2026-11-23")


@pytest.fixture
def settings(tmp_path):
    """Three routes of hourly counts over three weeks, as traffic_1m rows."""
    rng = np.random.default_rng(0)
    ds = pd.date_range(END - pd.Timedelta(days=21), END, freq="1h", inclusive="left")
    frame = pd.concat([pd.DataFrame({"ts": ds, "route": route, "requests": rng.poisson(level, len(ds))})
                       for route, level in (("GET /a", 100), ("GET /b", 30), ("POST /c", 10))])
    path = tmp_path / "f.duckdb"
    con = connect(path)
    con.register("_c", frame)
    run(con, "INSERT INTO traffic_1m (ts, api, stage, route, region, api_type, requests, status_4xx, status_5xx, "
             "bytes_out, latency_n, latency_ms_sum, integration_n, integration_ms_sum, billed_ms_sum) "
             "SELECT ts, 'shop', 'prod', route, 'us-east-1', 'rest', requests, 0, 0, 0, 0, 0, 0, 0, 0 FROM _c")
    con.close()
    return Settings(db=path, forecast_history_days=None)


def _rows(path, sql):
    con = connect(path, read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_progress_reports_every_series_done_out_of_the_total(settings):
    calls: list[tuple[int, int]] = []
    con = connect(settings.db)
    try:
        s = run_forecast(con, settings, model="seasonal_naive_weekly", workers=1, as_of=END, progress=lambda d, t: calls.append((d, t)))
    finally:
        con.close()
    assert calls[0] == (0, s.series) and calls[-1] == (s.series, s.series)
    assert [d for d, _ in calls] == list(range(s.series + 1))


# Ctrl-C arrives as a KeyboardInterrupt, or, while a DuckDB query runs, as DuckDB's own
# RuntimeError("Query interrupted") (test_duckdb_turns_ctrl_c_into_query_interrupted below).
CTRL_C = [KeyboardInterrupt, lambda: RuntimeError("Query interrupted")]


_QUERY_UNTIL_SIGINT = """
import sys
from forecaster.errors import is_interrupt
from forecaster.store.db import connect, run

con = connect(sys.argv[1])
run(con, "SET enable_progress_bar = false")
print("ready", flush=True)
try:
    run(con, "SELECT count(*) FROM range(10000000000) t(x) WHERE x % 7 = 3")   # ~30 s if never interrupted
    print("finished")
except BaseException as e:
    print(is_interrupt(e), repr(e))
"""


def test_duckdb_turns_ctrl_c_into_query_interrupted(tmp_path):
    """What DuckDB raises when SIGINT comes during a query: is_interrupt must know it. (In a process
    of its own: in-process, handlers other tests installed would decide what SIGINT does.)"""
    from forecaster.errors import is_interrupt

    p = subprocess.Popen([sys.executable, "-c", _QUERY_UNTIL_SIGINT, str(tmp_path / "q.duckdb")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    time.sleep(0.3)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert out.startswith("True "), (out, err)
    assert not is_interrupt(RuntimeError("Query failed"))


@pytest.mark.parametrize("ctrl_c", CTRL_C, ids=["KeyboardInterrupt", "duckdb"])
def test_ctrl_c_during_a_forecast_keeps_nothing_and_says_so(settings, monkeypatch, ctrl_c):
    real, fits = engines.fit_series, []

    def interrupted_on_the_third(*args, **kw):
        fits.append(1)
        if len(fits) == 3:
            raise ctrl_c()
        return real(*args, **kw)

    monkeypatch.setattr(engines, "fit_series", interrupted_on_the_third)
    res = CliRunner().invoke(app, ["forecast", "--db", str(settings.db), "--model", "seasonal_naive_weekly",
                                   "--workers", "1", "--as-of", str(END)])
    assert res.exit_code == 130, res.output
    assert "interrupted: the forecast run was marked interrupted" in res.output and "Traceback" not in res.output
    [(rid, status)] = _rows(settings.db, "SELECT run_id, status FROM runs")
    assert status == "interrupted"
    assert _rows(settings.db, f"SELECT count(*) FROM forecasts WHERE run_id = '{rid}'") == [(0,)]
    monkeypatch.setattr(engines, "fit_series", real)   # the next run is whole
    res = CliRunner().invoke(app, ["forecast", "--db", str(settings.db), "--model", "seasonal_naive_weekly",
                                   "--workers", "1", "--as-of", str(END), "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["series"] >= 3


@pytest.mark.parametrize("ctrl_c", CTRL_C, ids=["KeyboardInterrupt", "duckdb"])
def test_ctrl_c_during_an_ingest_keeps_the_finished_sources(tmp_path, monkeypatch, ctrl_c):
    line = '{"requestId":"r%d","requestTime":"03/Dec/2026:10:%02d:00 +0000","httpMethod":"GET","resourcePath":"/a","status":"200","responseLength":"10","apiId":"x","stage":"p"}\n'
    first, second = tmp_path / "a.log", tmp_path / "b.log"
    first.write_text("".join(line % (i, i % 60) for i in range(50)))
    second.write_text("".join(line % (100 + i, i % 60) for i in range(50)))
    real = loader._load_chunk

    def interrupt_on_b(con, state, chunk, fmt, ctx, settings, sr, *rest):
        if sr.uri.endswith("b.log"):
            raise ctrl_c()
        return real(con, state, chunk, fmt, ctx, settings, sr, *rest)

    monkeypatch.setattr(loader, "_load_chunk", interrupt_on_b)
    db = tmp_path / "i.duckdb"
    cfg = tmp_path / "one-by-one.toml"       # small files: each in its own transaction, not one batch
    cfg.write_text("[forecaster]\ningest_batch_files = 0\n")
    res = CliRunner().invoke(app, ["ingest", str(first), str(second), "--db", str(db), "--config", str(cfg)])
    assert res.exit_code == 130, res.output
    assert "the sources loaded before Ctrl-C stay loaded" in res.output and "Traceback" not in res.output
    assert _rows(db, "SELECT count(*) FROM requests") == [(50,)]
    assert [r[0].endswith("a.log") for r in _rows(db, "SELECT uri FROM sources")] == [True]
    monkeypatch.setattr(loader, "_load_chunk", real)
    res = CliRunner().invoke(app, ["ingest", str(first), str(second), "--db", str(db), "--json"])
    assert res.exit_code == 0
    assert _rows(db, "SELECT count(*), count(DISTINCT request_id) FROM requests") == [(100, 100)]


def _sigint_after(args: list[str], after_s: float, timeout: float) -> tuple[int, str]:
    """``python -m forecaster ARGS`` sent SIGINT ``after_s`` seconds after it started: (status, stderr)."""
    p = subprocess.Popen([sys.executable, "-m", "forecaster", *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(after_s)
    p.send_signal(signal.SIGINT)
    _, err = p.communicate(timeout=timeout)
    return p.returncode, err


def _before_our_handler(err: str) -> bool:
    """A traceback from a signal that came while Python itself started (a loaded machine), before
    ``entry.main`` set its handler: no forecaster frame but the module level of __main__/entry."""
    ours = re.findall(r'File "[^"]*/forecaster/([^"]*\.py)", line \d+, in (\S+)', err)
    return "Traceback" in err and all(f in ("__main__.py", "entry.py") and where == "<module>" for f, where in ours)


@pytest.mark.parametrize("after_s", [0.3, 2.5])
def test_a_real_sigint_ends_with_one_line_and_status_130(settings, after_s):
    """SIGINT while the command imports (0.3 s) or while it works (2.5 s): never a traceback.
    (The process may also have finished by 2.5 s on a fast machine: then it simply succeeded.)"""
    returncode, err = _sigint_after(["forecast", "--db", str(settings.db), "--model", "seasonal_naive_weekly",
                                     "--workers", "1", "--as-of", str(END), "--json"], after_s, timeout=120)
    if _before_our_handler(err):
        return
    assert "Traceback" not in err, err
    # 130: our one line; -SIGINT: the signal came before Python set its handler (a loaded machine)
    assert returncode in (0, 130, -signal.SIGINT), (returncode, err)
    if returncode == 130:
        assert "interrupted" in err


_WRAPS_THE_INTERRUPT = """
import os, signal, sys, time, types
from importlib.abc import Loader, MetaPathFinder
from importlib.machinery import ModuleSpec

class Wrapping(Loader):
    # what pydantic-core does to a KeyboardInterrupt raised while it builds a schema
    def create_module(self, spec):
        return None
    def exec_module(self, module):
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(2)
        except BaseException as e:
            raise RuntimeError("SchemaError: Error building serializer") from e
        module.main = lambda: None

class Finder(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        return ModuleSpec(name, Wrapping()) if name == "forecaster.cli" else None

sys.meta_path.insert(0, Finder())
from forecaster.entry import main
main()
"""


def test_sigint_during_import_is_one_line_even_when_a_library_wraps_the_interrupt():
    p = subprocess.run([sys.executable, "-c", _WRAPS_THE_INTERRUPT], capture_output=True, text=True, timeout=60)
    assert p.returncode == 130, (p.returncode, p.stderr)
    assert p.stderr.strip() == "interrupted", p.stderr


def test_sigint_anywhere_in_the_import_phase_is_one_line_and_130():
    """Ctrl-C at several points while pandas, DuckDB, pydantic and typer import: each ends with the one
    line (pydantic-core turns a KeyboardInterrupt raised inside its schema build into a SchemaError,
    which a try/except KeyboardInterrupt never sees)."""
    for after_s in (0.05, 0.15, 0.3, 0.5, 0.8):
        returncode, err = _sigint_after(["--help"], after_s, timeout=60)
        if _before_our_handler(err):
            continue
        assert "Traceback" not in err and "Error" not in err, (after_s, err)
        assert returncode in (0, 130, -signal.SIGINT), (after_s, returncode, err)
        if returncode == 130:
            assert err.strip() == "interrupted", err
