"""``GET /v1/costs/models``: model (token) spend over real HTTP, as ``forecaster costs --json`` gives it."""

from __future__ import annotations

import httpx

from service_helpers import AS_OF, SAMPLES, copy_db, sample_settings, serve


def test_model_costs_endpoint(sample_db, tmp_path):
    from forecaster.api import create_app
    from forecaster.ingest import ingest
    from forecaster.pricing.model_store import model_spend_from_db
    from forecaster.store import api_keys, open_store

    db = copy_db(sample_db, tmp_path / "m.duckdb")
    settings = sample_settings(db)
    app = create_app(settings)
    cur = app.state.runtime.cursor()
    key = api_keys.create(cur, "test-reader", "reader")[1]
    with serve(app) as url, httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as c:
        assert c.get("/v1/costs/models").json() == {"models": None}
        ingest(cur, [str(SAMPLES / "kong_ai.log")], settings)
        r = c.get("/v1/costs/models")
        assert r.status_code == 200, r.text
        got = r.json()["models"]
        want = model_spend_from_db(cur, settings, project=True, as_of=AS_OF).to_dict()
        assert got["total_usd"] == want["total_usd"] > 0
        assert {x["key"] for x in got["by_route"]} == {x["key"] for x in want["by_route"]}
        assert "projection" in got
        assert httpx.get(f"{url}/v1/costs/models").status_code == 401
