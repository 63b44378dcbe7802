"""Gateway resources on the session's moto server, and settings whose targets point at them."""

from __future__ import annotations

import pytest

from forecaster.config import Settings


@pytest.fixture
def rest_stage(aws_client, aws_name):
    """A REST API with stage 'prod' whose stage default and POST /orders throttles are set."""
    c = aws_client("apigateway")
    api = c.create_rest_api(name=aws_name)["id"]
    root = c.get_resources(restApiId=api)["items"][0]["id"]
    res = c.create_resource(restApiId=api, parentId=root, pathPart="orders")["id"]
    c.put_method(restApiId=api, resourceId=res, httpMethod="POST", authorizationType="NONE")
    c.put_integration(restApiId=api, resourceId=res, httpMethod="POST", type="MOCK")
    dep = c.create_deployment(restApiId=api)["id"]
    c.create_stage(restApiId=api, stageName="prod", deploymentId=dep)
    c.update_stage(restApiId=api, stageName="prod", patchOperations=[
        {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "100"},
        {"op": "replace", "path": "/*/*/throttling/burstLimit", "value": "200"},
        {"op": "replace", "path": "/~1orders/POST/throttling/rateLimit", "value": "50"},
        {"op": "replace", "path": "/~1orders/POST/throttling/burstLimit", "value": "80"}])
    return api


@pytest.fixture
def usage_plan(aws_client, aws_name):
    c = aws_client("apigateway")
    return c.create_usage_plan(name=aws_name, throttle={"rateLimit": 40, "burstLimit": 60},
                               quota={"limit": 100000, "period": "DAY"})["id"]


@pytest.fixture
def zone(aws_client, aws_name):
    """A hosted zone with a weighted A record in two regions (weights 200 / 55)."""
    c = aws_client("route53")
    zid = c.create_hosted_zone(Name=f"{aws_name}.example.com", CallerReference=aws_name)["HostedZone"]["Id"]
    zid = zid.split("/")[-1]
    rec = f"api.{aws_name}.example.com."
    c.change_resource_record_sets(HostedZoneId=zid, ChangeBatch={"Changes": [
        {"Action": "CREATE", "ResourceRecordSet": {"Name": rec, "Type": "A", "TTL": 60, "SetIdentifier": sid,
                                                   "Weight": w, "ResourceRecords": [{"Value": ip}]}}
        for sid, w, ip in (("use1", 200, "192.0.2.10"), ("eun1", 55, "192.0.2.20"))]})
    return zid, rec


@pytest.fixture
def http_api(aws_client, aws_name):
    c = aws_client("apigatewayv2")
    api = c.create_api(Name=aws_name, ProtocolType="HTTP")["ApiId"]
    c.create_stage(ApiId=api, StageName="$default",
                   DefaultRouteSettings={"ThrottlingRateLimit": 30.0, "ThrottlingBurstLimit": 60},
                   RouteSettings={"GET /items": {"ThrottlingRateLimit": 10.0, "ThrottlingBurstLimit": 20}})
    return api


@pytest.fixture
def control_settings(moto_endpoint, tmp_path):
    """Build Settings whose control-plane clients go to moto: ``control_settings(targets=[...], ...)``."""

    def make(targets=(), **kw):
        aws = {"region": "us-east-1", "endpoint_url": moto_endpoint, "max_attempts": 3, "retry_base_s": 0.01,
               "timeout_s": 20.0, **kw.pop("aws", {})}
        return Settings(db=tmp_path / "control.duckdb", aws=aws, targets=list(targets), **kw)

    return make
