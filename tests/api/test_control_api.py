"""POST /v1/plan, /v1/apply, /v1/rollback over real HTTP against a real moto server (operator only)."""

from __future__ import annotations

import httpx

from service_helpers import AS_OF, insert_recommendations, serve

from forecaster.api import create_app
from forecaster.config import Settings
from forecaster.runtime import Runtime
from forecaster.store import api_keys


def _rest_stage(c) -> str:
    api = c.create_rest_api(name="svc-control")["id"]
    root = c.get_resources(restApiId=api)["items"][0]["id"]
    res = c.create_resource(restApiId=api, parentId=root, pathPart="orders")["id"]
    c.put_method(restApiId=api, resourceId=res, httpMethod="POST", authorizationType="NONE")
    c.put_integration(restApiId=api, resourceId=res, httpMethod="POST", type="MOCK")
    c.create_stage(restApiId=api, stageName="prod", deploymentId=c.create_deployment(restApiId=api)["id"])
    c.update_stage(restApiId=api, stageName="prod", patchOperations=[
        {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "100"},
        {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": "200"}])
    return api


def _rate(c, api) -> float:
    return c.get_stage(restApiId=api, stageName="prod")["methodSettings"]["*/*"]["throttlingRateLimit"]


def test_plan_apply_rollback_over_http(moto_endpoint, aws_client, tmp_path):
    gw = aws_client("apigateway")
    api = _rest_stage(gw)
    settings = Settings(db=tmp_path / "ctl.duckdb", as_of=AS_OF,
                        aws={"region": "us-east-1", "endpoint_url": moto_endpoint, "max_attempts": 3,
                             "retry_base_s": 0.01, "timeout_s": 20.0},
                        targets=[{"kind": "apigw_rest_stage", "api": "shop", "stage": "prod", "rest_api_id": api}])
    rt = Runtime(settings)
    app = create_app(settings, runtime=rt, dashboards=False)
    con = rt.cursor()
    keys = {r: api_keys.create(con, r, r)[1] for r in ("reader", "operator")}
    insert_recommendations(con, [("rec-t", "throttle", "shop|prod", {"api": "shop", "stage": "prod", "route": None,
                                  "rate_limit_rps": 150.0, "burst_limit": 300}, "2026-11-25T00:00:00",
                                  "2026-11-26T00:00:00", "proposed")])
    with serve(app) as url:
        def client(role):
            return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {keys[role]}"}, timeout=60)

        with client("reader") as reader:
            r = reader.post("/v1/plan")
            assert r.status_code == 403 and r.json()["error"]["code"] == "forbidden"
        with client("operator") as op:
            plan = op.post("/v1/plan").json()
            assert any(c["before"] == 100.0 and c["after"] == 150.0 and c["recommendation_id"] == "rec-t"
                       for c in plan["changes"]), plan
            dry = op.post("/v1/apply", json={}).json()
            assert dry["dry_run"] is True and dry["applied"] and _rate(gw, api) == 100.0
            real = op.post("/v1/apply", json={"dry_run": False}).json()
            assert real["dry_run"] is False and real["applied"] and not real["failed"] and _rate(gw, api) == 150.0
            assert op.post("/v1/plan").json()["changes"] == []            # plan right after apply is empty
            back = op.post("/v1/rollback", json={"last": True, "dry_run": False})
            assert back.status_code == 200, back.text
            assert _rate(gw, api) == 100.0
            assert op.post("/v1/rollback", json={}).status_code == 400
            assert op.post("/v1/apply", json={"dry_run": "maybe"}).status_code == 422
    kinds = {k for (k,) in con.execute("SELECT DISTINCT kind FROM runs").fetchall()}
    assert {"pipeline", "step:plan", "step:apply"} <= kinds
    assert con.execute("SELECT count(*) FROM actions WHERE dry_run = false").fetchone()[0] >= 2
    rt.close()
