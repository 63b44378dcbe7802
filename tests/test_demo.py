"""The README's first command: the main job on the committed samples, end to end."""

from __future__ import annotations

import os
import subprocess
import sys

import duckdb
import pytest


@pytest.mark.slow
def test_demo_runs_every_stage_on_the_samples(tmp_path):
    db = tmp_path / "demo.duckdb"
    cmd = [sys.executable, "-m", "forecaster", "demo", "--db", str(db)]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "200"})
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout
    for stage in ("1. ingest", "2. forecast", "3. price it", "Black Friday", "month-end projection", "budget alert", "kg CO2e",
                  "4. decide", "5. dashboards", "6. plan", "local moto server", "change(s) on",
                  "top token spenders by route", "unknown model bedrock/mistral", "budget alert model spend",
                  "token spike: assistant|default|POST /v1/summarize: Fri 2026-11-20 02:00"):
        assert stage in text, f"{stage!r} missing from the demo output"
    overview = tmp_path / "demo-dashboards" / "overview.html"
    assert str(overview) in text.replace("\n", "") and overview.stat().st_size > 1_000_000
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM sources").fetchall()[0][0] == 10   # 8 access logs, 2 model-call logs
        assert con.execute("SELECT count(*) FROM llm_calls WHERE gw_route IS NULL AND api = 'bedrock'").fetchall()[0][0] > 0
        assert con.execute("SELECT count(*) FROM rejects").fetchall()[0][0] == 0
        # Black Friday (2026-11-27) is seen at least 24 h ahead of the demo's 'now'
        lead = con.execute("SELECT max(lead_time_hours) FROM spikes WHERE event = 'Black Friday'").fetchall()[0][0]
        assert lead is not None and lead >= 24
        assert con.execute("SELECT count(*) FROM costs").fetchall()[0][0] > 0
        assert con.execute("SELECT count(*) FROM carbon").fetchall()[0][0] > 0
    finally:
        con.close()
    # again: nothing is loaded twice
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "COLUMNS": "200"})
    assert again.returncode == 0, again.stderr[-3000:]
    assert "0 rows loaded" in again.stdout
