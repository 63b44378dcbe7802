"""Each adapter reads and writes live state on a real moto server (HTTP on 127.0.0.1)."""

from __future__ import annotations

import pytest

from forecaster.config import Target
from forecaster.control.adapters import get
from forecaster.control.aws import Clients
from forecaster.control.errors import TargetNotFound
from forecaster.errors import UnknownName


def roundtrip(adapter, clients, target, key, after):
    before = adapter.read(clients, target, [key])[key]
    got = adapter.send(clients, target, key, adapter.request(target, key, before, after))
    assert adapter.read(clients, target, [key])[key] == got
    return before, got


def test_unknown_adapter_name_lists_the_known_ones():
    with pytest.raises(UnknownName, match="apigw_rest_stage.*webhook"):
        get("kong_admin")


def test_rest_stage_default_and_method_throttles(control_settings, rest_stage):
    s = control_settings()
    c = Clients(s)
    t = Target(kind="apigw_rest_stage", api="shop", rest_api_id=rest_stage, stage="prod")
    a = get("apigw_rest_stage")
    before, got = roundtrip(a, c, t, "*/*", {"rate_limit_rps": 120.0, "burst_limit": 240})
    assert before == {"rate_limit_rps": 100.0, "burst_limit": 200}
    assert got == {"rate_limit_rps": 120.0, "burst_limit": 240}
    before, got = roundtrip(a, c, t, "~1orders/POST", {"rate_limit_rps": 12.5, "burst_limit": 30})
    assert before == {"rate_limit_rps": 50.0, "burst_limit": 80} and got == {"rate_limit_rps": 12.5, "burst_limit": 30}
    assert a.request(t, "~1orders/POST", got, None)["patchOperations"] == [{"op": "remove", "path": "/~1orders/POST"}]


def test_rest_stage_cache(control_settings, rest_stage):
    c = Clients(control_settings())
    t = Target(kind="apigw_rest_stage", api="shop", rest_api_id=rest_stage, stage="prod")
    a = get("apigw_rest_stage")
    before, got = roundtrip(a, c, t, "cache */*", {"cache_enabled": True, "cache_size_gb": 1.6, "ttl_s": 120})
    assert before["cache_enabled"] is False
    assert got == {"cache_enabled": True, "cache_size_gb": 1.6, "ttl_s": 120}


def test_rest_stage_missing_api_and_wrong_stage_are_clear(control_settings, rest_stage):
    c = Clients(control_settings())
    a = get("apigw_rest_stage")
    with pytest.raises(TargetNotFound, match="no REST API with id 'nosuchapi'"):
        a.read(c, Target(kind="apigw_rest_stage", api="shop", rest_api_id="nosuchapi", stage="prod"), ["*/*"])
    with pytest.raises(TargetNotFound, match=f"REST API '{rest_stage}' has no stage 'prd'; its stages: prod"):
        a.read(c, Target(kind="apigw_rest_stage", api="shop", rest_api_id=rest_stage, stage="prd"), ["*/*"])


def test_usage_plan_throttle_and_quota(control_settings, usage_plan):
    c = Clients(control_settings())
    t = Target(kind="apigw_usage_plan", api="shop", usage_plan_id=usage_plan)
    a = get("apigw_usage_plan")
    before, got = roundtrip(a, c, t, "plan", {"rate_limit_rps": 55.0, "burst_limit": 90, "quota_per_day": 200000})
    assert before == {"rate_limit_rps": 40.0, "burst_limit": 60, "quota_per_day": 100000}
    assert got == {"rate_limit_rps": 55.0, "burst_limit": 90, "quota_per_day": 200000}
    with pytest.raises(TargetNotFound, match="no usage plan with id 'nope'"):
        a.read(c, Target(kind="apigw_usage_plan", api="shop", usage_plan_id="nope"), ["plan"])


def test_route53_weights_move_together(control_settings, zone):
    zid, rec = zone
    c = Clients(control_settings())
    t = Target(kind="route53_weights", api="shop", zone_id=zid, record=rec,
               set_ids={"us-east-1": "use1", "eu-north-1": "eun1"})
    a = get("route53_weights")
    before, got = roundtrip(a, c, t, "weights", {"weights": {"us-east-1": 100, "eu-north-1": 155}})
    assert before == {"weights": {"us-east-1": 200, "eu-north-1": 55}}
    assert got == {"weights": {"us-east-1": 100, "eu-north-1": 155}}
    bad = Target(kind="route53_weights", api="shop", zone_id=zid, record=rec, set_ids={"us-east-1": "use9"})
    with pytest.raises(TargetNotFound, match="no weighted record with set identifier use9"):
        a.read(c, bad, ["weights"])
    with pytest.raises(TargetNotFound, match="no hosted zone 'ZNOSUCHZONE'"):
        a.read(c, Target(kind="route53_weights", api="shop", zone_id="ZNOSUCHZONE", record=rec,
                         set_ids={"us-east-1": "use1"}), ["weights"])


def test_prewarm_window_is_two_scheduled_actions(control_settings, aws_client, aws_name):
    c = Clients(control_settings())
    t = Target(kind="lambda_provisioned_concurrency", api="shop", route="POST /orders", function=aws_name,
               qualifier="live")
    a = get("lambda_provisioned_concurrency")
    key = "2026-11-27T00:00/2026-11-27T06:00"
    before, got = roundtrip(a, c, t, key, {"provisioned_concurrency": 25, "after_window": 2})
    assert before is None and got == {"provisioned_concurrency": 25, "after_window": 2}
    aas = aws_client("application-autoscaling")
    acts = {x["ScheduledActionName"]: x for x in aas.describe_scheduled_actions(
        ServiceNamespace="lambda", ResourceId=f"function:{aws_name}:live")["ScheduledActions"]}
    start, end = acts["forecaster-20261127T0000-start"], acts["forecaster-20261127T0000-end"]
    assert start["Schedule"] == "at(2026-11-27T00:00:00)" and end["Schedule"] == "at(2026-11-27T06:00:00)"
    assert start["ScalableTargetAction"] == {"MinCapacity": 25, "MaxCapacity": 25}
    assert end["ScalableTargetAction"] == {"MinCapacity": 2, "MaxCapacity": 2}
    targets = aas.describe_scalable_targets(ServiceNamespace="lambda", ResourceIds=[f"function:{aws_name}:live"])
    assert targets["ScalableTargets"][0]["ScalableDimension"] == "lambda:function:ProvisionedConcurrency"
    assert a.send(c, t, key, a.request(t, key, got, None)) is None     # rollback of a new window: deleted


def test_http_stage_reads_from_moto_and_writes_through_stubbed_update(control_settings, http_api):
    """moto implements apigatewayv2 GetStage but not UpdateStage: the read goes to moto, the write
    alone to botocore's Stubber, which checks the exact request and answers as AWS documents."""
    from botocore.stub import Stubber

    s = control_settings()
    c = Clients(s)
    t = Target(kind="apigw_http_stage", api="catalog", api_id=http_api, stage="$default")
    a = get("apigw_http_stage")
    live = a.read(c, t, ["$default-route-settings", "GET /items", "POST /items"])
    assert live == {"$default-route-settings": {"rate_limit_rps": 30.0, "burst_limit": 60},
                    "GET /items": {"rate_limit_rps": 10.0, "burst_limit": 20}, "POST /items": None}
    req = a.request(t, "GET /items", live["GET /items"], {"rate_limit_rps": 15.0, "burst_limit": 25})
    assert req == {"operation": "update_stage", "ApiId": http_api, "StageName": "$default",
                   "RouteSettings": {"GET /items": {"ThrottlingRateLimit": 15.0, "ThrottlingBurstLimit": 25}}}
    stubbed = Clients(s)
    client = stubbed("apigatewayv2")
    with Stubber(client) as stub:
        stub.add_response("update_stage", {"StageName": "$default", "RouteSettings": {
            "GET /items": {"ThrottlingRateLimit": 15.0, "ThrottlingBurstLimit": 25}}},
            expected_params={k: v for k, v in req.items() if k != "operation"})
        assert a.send(stubbed, t, "GET /items", req) == {"rate_limit_rps": 15.0, "burst_limit": 25}
        stub.assert_no_pending_responses()
    assert a.request(t, "POST /items", None, None) == {"operation": "delete_route_settings", "ApiId": http_api,
                                                       "StageName": "$default", "RouteKey": "POST /items"}
    with pytest.raises(TargetNotFound, match="has no stage 'prod'; its stages: \\$default"):
        a.read(c, Target(kind="apigw_http_stage", api="catalog", api_id=http_api, stage="prod"), ["x"])


def test_a_prewarm_target_serves_its_region_only():
    a = get("lambda_provisioned_concurrency")
    t = Target(kind="lambda_provisioned_concurrency", api="shop", route="POST /orders", function="orders",
               qualifier="live", region="eu-west-1")
    rec = {"kind": "prewarm", "target": "shop|prod|POST /orders",
           "params": {"api": "shop", "stage": "prod", "route": "POST /orders", "region": "eu-west-1"}}
    assert a.matches(t, rec) and a.label(t) == "lambda orders:live (eu-west-1)"
    assert not a.matches(t, {**rec, "params": {**rec["params"], "region": "us-east-1"}})
