"""Fixtures of the dashboard tests: one real headless chromium for the session, and the directory
screenshots are written to (a test artifact). The samples' store is ``demo_store`` (tests/conftest.py)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import pytest

from .browser import Browser, find_chromium

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """``$FORECASTER_TEST_ARTIFACTS`` or ``test-artifacts/`` at the repo root: screenshots, pages."""
    out = Path(os.environ.get("FORECASTER_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "dashboards"
    out.mkdir(parents=True, exist_ok=True)
    return out


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if find_chromium() is None:
        pytest.fail("chromium is not installed: `./run setup` installs it (apt-get install -y chromium)")
    b = Browser()
    try:
        yield b
    finally:
        b.close()


def check_page(visit, min_charts: int) -> None:
    """What every page must hold in the browser."""
    assert visit.console_errors == [], visit.console_errors
    assert visit.outside_requests() == [], visit.outside_requests()
    assert len(visit.charts) >= min_charts, (len(visit.charts), visit.text[:2000])
    for c in visit.charts:
        assert c["rendered"], c
        assert c["traces"] > 0 and c["points"] > 0, f"chart without data: {c}"
    assert visit.screenshot is not None and visit.screenshot.stat().st_size > 10_000
