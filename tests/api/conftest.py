from __future__ import annotations

import sys
from pathlib import Path

import httpx
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from service_helpers import copy_db, insert_recommendations, sample_settings, serve  # noqa: E402


@pytest.fixture(scope="session")
def sample_db(tmp_path_factory) -> Path:
    """A store with the pipeline run once on a few sample logs (ingest, forecast, price, carbon)."""
    from forecaster.pipeline import run_pipeline

    db = tmp_path_factory.mktemp("sample") / "sample.duckdb"
    result = run_pipeline(sample_settings(db), ["ingest", "forecast", "price", "carbon"])
    assert result.status == "ok"
    return db


class Api:
    """A running server and keys of every role."""

    def __init__(self, url: str, app, keys: dict[str, str]):
        self.url, self.app, self.keys = url, app, keys
        self.runtime = app.state.runtime

    def client(self, role: str | None = "reader", **kw) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.keys[role]}"} if role else {}
        headers.update(kw.pop("headers", {}))
        return httpx.Client(base_url=self.url, headers=headers, timeout=60, **kw)


@pytest.fixture(scope="module")
def api(sample_db, tmp_path_factory):
    from forecaster.api import create_app
    from forecaster.store import api_keys

    db = copy_db(sample_db, tmp_path_factory.mktemp("api") / "api.duckdb")
    settings = sample_settings(db, api_upload_max_mb=0.05, api_page_max=50)
    app = create_app(settings)
    con = app.state.runtime.cursor()
    keys = {role: api_keys.create(con, f"test-{role}", role)[1] for role in ("reader", "operator", "admin")}
    insert_recommendations(con)
    with serve(app) as url:
        yield Api(url, app, keys)
