"""`forecaster NAME` imports only command NAME's module: `forecaster ingest` never pays for pandas or the
forecasting stack (start-up is part of what the ingest benchmark measures against DuckDB)."""

from __future__ import annotations

import subprocess
import sys


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
