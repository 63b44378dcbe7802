"""Exported pages, opened from disk in a real headless chromium."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

import dashboards
from dashboards.html import plotly_js

from .conftest import ROOT, check_page

MIN_CHARTS = {"overview.html": 6, "cost-carbon.html": 8, "decisions.html": 1, "route.html": 3}


@pytest.mark.slow
def test_exported_pages_load_offline_with_data_in_every_chart(demo_store, browser, artifacts, tmp_path):
    con, settings = demo_store
    out = tmp_path / "pages"
    paths = dashboards.export(out, con, settings, routes=3)
    names = [p.name for p in paths]
    assert names[0] == "overview.html"
    assert {"overview.html", "cost-carbon.html", "decisions.html", "route.html"} <= set(names)
    assert len([n for n in names if n.startswith("route")]) == 3
    banner = plotly_js()[:200]
    for path in paths:
        text = path.read_text(encoding="utf-8")
        assert path.stat().st_size < 10_000_000, f"{path.name} is {path.stat().st_size / 1e6:.1f} MB"
        assert text.count(banner) == 1, f"plotly.js must be inlined exactly once in {path.name}"
        assert "<script src" not in text
        visit = browser.visit(path.as_uri(), screenshot=artifacts / "export" / path.with_suffix(".png").name)
        check_page(visit, MIN_CHARTS.get(path.name, 3))
        assert "Nothing to show" not in visit.text or path.name != "overview.html", visit.text[:1500]
    overview = browser.visit((out / "overview.html").as_uri())
    for words in ("requests, next 72 h", "spikes ahead", "month-end projection", "last run", "Black Friday"):
        assert words.lower() in overview.text.lower(), words
    decisions = browser.visit((out / "decisions.html").as_uri())
    assert "No recommendations yet" in decisions.text and "No actions yet" in decisions.text


@pytest.mark.slow
def test_dashboard_command_writes_the_pages(demo_store, tmp_path):
    con, settings = demo_store
    con.execute("CHECKPOINT")   # the session holds the file open: the command reads a copy
    db = tmp_path / "copy.duckdb"
    shutil.copyfile(settings.db, db)
    out = tmp_path / "cli"
    env = {**os.environ, "FORECASTER_CONFIG_FILE": str(ROOT / "forecaster" / "data" / "demo.toml")}
    r = subprocess.run([sys.executable, "-m", "forecaster", "dashboard", "--out", str(out), "--db", str(db),
                        "--routes", "1", "--json"], capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    assert '"pages"' in r.stdout
    assert sorted(p.name for p in out.iterdir()) == ["cost-carbon.html", "decisions.html", "overview.html", "route.html"]
