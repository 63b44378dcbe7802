"""docs/iam-control-policy.json lists exactly the actions the adapters call (``Indirect*`` statements
are what Application Auto Scaling needs on the caller's behalf, not calls of ours)."""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path

import pytest

from forecaster.config import Target
from forecaster.control.adapters import get
from forecaster.control.aws import Clients
from forecaster.control.errors import TargetNotFound

POLICY = json.loads((Path(__file__).resolve().parents[2] / "docs" / "iam-control-policy.json").read_text())
IAM_PREFIX = {"apigateway": "apigateway", "apigatewayv2": "apigateway", "route53": "route53",
              "application-autoscaling": "application-autoscaling"}


@pytest.fixture
def recorded(monkeypatch):
    """Every AWS call any client makes while the test runs: (iam action, resource path or None)."""
    from botocore.client import BaseClient

    calls: list[tuple[str, str | None]] = []
    orig = BaseClient._make_api_call

    def spy(self, operation_name, api_params):
        service = self.meta.service_model.service_name
        op = self.meta.service_model.operation_model(operation_name)
        if IAM_PREFIX[service] == "apigateway":   # API Gateway's IAM actions are HTTP verbs on resource paths
            uri = op.http["requestUri"].split("?")[0]
            names = {m.serialization.get("name", n): n for n, m in op.input_shape.members.items()}
            path = re.sub(r"\{([^}+]+)\+?\}", lambda g: str(api_params.get(names.get(g.group(1), g.group(1)), "")), uri)
            path = path.replace("/v2/", "/")
            calls.append((f"apigateway:{op.http['method']}", path))
        else:
            calls.append((f"{IAM_PREFIX[service]}:{operation_name}", None))
        return orig(self, operation_name, api_params)

    monkeypatch.setattr(BaseClient, "_make_api_call", spy)
    return calls


def allowed(action: str, path: str | None) -> bool:
    for st in POLICY["Statement"]:
        if st["Sid"].startswith("Indirect"):
            continue
        acts = st["Action"] if isinstance(st["Action"], list) else [st["Action"]]
        if action not in acts:
            continue
        res = st["Resource"] if isinstance(st["Resource"], list) else [st["Resource"]]
        if path is None or any(fnmatch.fnmatchcase(f"arn:aws:apigateway:REGION::{path}", r) for r in res):
            return True
    return False


def test_adapters_call_exactly_what_the_policy_allows(control_settings, recorded, rest_stage, usage_plan, zone,
                                                      http_api, aws_name):
    from botocore.stub import Stubber

    recorded.clear()   # the fixtures' set-up calls are not the adapters'
    s = control_settings()
    c = Clients(s)
    zid, rec = zone
    targets = {
        "*/*": Target(kind="apigw_rest_stage", api="shop", rest_api_id=rest_stage, stage="prod"),
        "plan": Target(kind="apigw_usage_plan", api="shop", usage_plan_id=usage_plan),
        "weights": Target(kind="route53_weights", api="shop", zone_id=zid, record=rec,
                          set_ids={"us-east-1": "use1", "eu-north-1": "eun1"}),
        "2026-11-27T00:00/2026-11-27T06:00": Target(kind="lambda_provisioned_concurrency", api="shop",
                                                    route="POST /orders", function=aws_name, qualifier="live"),
    }
    wants = {"*/*": {"rate_limit_rps": 90.0, "burst_limit": 150},
             "plan": {"rate_limit_rps": 30.0, "burst_limit": 45, "quota_per_day": None},
             "weights": {"weights": {"us-east-1": 120, "eu-north-1": 135}},
             "2026-11-27T00:00/2026-11-27T06:00": {"provisioned_concurrency": 5, "after_window": 0}}
    for key, t in targets.items():   # forward and back, as apply and rollback do
        a = get(t.kind)
        before = a.read(c, t, [key])[key]
        after = a.send(c, t, key, a.request(t, key, before, wants[key]))
        a.send(c, t, key, a.request(t, key, after, before))
    with pytest.raises(TargetNotFound):   # the wrong-stage message lists the stages
        get("apigw_rest_stage").read(c, Target(kind="apigw_rest_stage", api="shop", rest_api_id=rest_stage,
                                               stage="prd"), ["*/*"])
    ht = Target(kind="apigw_http_stage", api="catalog", api_id=http_api, stage="$default")
    h = get("apigw_http_stage")
    h.read(c, ht, ["GET /items"])
    with pytest.raises(TargetNotFound):
        h.read(c, Target(kind="apigw_http_stage", api="catalog", api_id=http_api, stage="prod"), ["x"])
    stubbed = Clients(s)   # moto lacks apigatewayv2 UpdateStage / DeleteRouteSettings: Stubber for those alone
    with Stubber(stubbed("apigatewayv2")) as stub:
        stub.add_response("update_stage", {"RouteSettings": {"GET /items": {"ThrottlingRateLimit": 5.0,
                                                                            "ThrottlingBurstLimit": 9}}})
        stub.add_response("delete_route_settings", {})
        stub.add_response("get_stage", {"RouteSettings": {}})
        h.send(stubbed, ht, "GET /items", h.request(ht, "GET /items", None, {"rate_limit_rps": 5.0, "burst_limit": 9}))
        h.send(stubbed, ht, "GET /items", h.request(ht, "GET /items", None, None))

    outside = sorted({(a, p) for a, p in recorded if not allowed(a, p)})
    assert outside == [], f"calls outside docs/iam-control-policy.json: {outside}"
    direct = {a for st in POLICY["Statement"] if not st["Sid"].startswith("Indirect")
              for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])}
    assert direct == {a for a, _ in recorded}, "the policy allows actions no adapter calls"
