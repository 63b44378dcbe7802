"""The demo's last step: ``plan`` against a local moto server the demo starts itself.

No AWS account needed: moto (in server mode, on a loopback port) plays the gateway's control
plane. ``demo_settings`` creates there, for every api the recommendations name, the resources a real
deployment would have — a REST API stage (throttling, cache), a usage plan, a Route 53 weighted
record per region, a Lambda alias for pre-warming — seeded with live limits 50% above today's
recommendations and even route weights (so that the diff is visible), and declares them as
``[[targets]]``; the CLI's demo then prints the plan: the diff forecaster would push.
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

from ..config import Settings, Target
from .aws import Clients

DEMO_ENV = {"AWS_ACCESS_KEY_ID": "demo", "AWS_SECRET_ACCESS_KEY": "demo", "AWS_REGION": "us-east-1",
            "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_EC2_METADATA_DISABLED": "true"}


@contextlib.contextmanager
def local_moto() -> Iterator[str]:
    """A moto server on 127.0.0.1 (free port), with dummy credentials while it runs: its URL."""
    import logging

    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    saved = {k: os.environ.get(k) for k in DEMO_ENV}
    os.environ.update(DEMO_ENV)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _num(v: float) -> str:
    return str(int(v)) if float(v).is_integer() else str(v)


def seed_targets(recs: list[dict], clients: Clients) -> list[dict]:
    """Create on the emulator what serves each recommendation; the ``[[targets]]`` entries for them."""
    ag = clients("apigateway")
    targets: list[dict] = []
    stages: dict[tuple, str] = {}
    for r in recs:
        p = r["params"]
        api, stage = p.get("api"), p.get("stage") or "prod"
        if p.get("cache_scope") == "model_response" or (r["kind"] == "route" and "weights" not in p):
            continue      # model-response caches and model routing: the AI gateway's, no AWS target plays them
        if r["kind"] in ("throttle", "cache") and not r["target"].startswith("usage_plan:") and (api, stage) not in stages:
            rid = ag.create_rest_api(name=f"{api}")["id"]
            root = ag.get_resources(restApiId=rid)["items"][0]["id"]
            ag.put_method(restApiId=rid, resourceId=root, httpMethod="ANY", authorizationType="NONE")
            ag.put_integration(restApiId=rid, resourceId=root, httpMethod="ANY", type="MOCK")
            ag.create_stage(restApiId=rid, stageName=stage, deploymentId=ag.create_deployment(restApiId=rid)["id"])
            stages[(api, stage)] = rid
            targets.append({"kind": "apigw_rest_stage", "api": api, "rest_api_id": rid, "stage": stage})
        if r["kind"] == "throttle" and not r["target"].startswith("usage_plan:"):
            key = "*/*"
            if p.get("route"):
                from .adapters.rest_stage import method_key
                key = method_key(p["route"])
            ag.update_stage(restApiId=stages[(api, stage)], stageName=stage, patchOperations=[
                {"op": "replace", "path": f"/{key}/throttling/rateLimit", "value": _num(round(p["rate_limit_rps"] * 1.5, 1))},
                {"op": "replace", "path": f"/{key}/throttling/burstLimit", "value": str(int(p["burst_limit"] * 1.5))}])
        elif r["kind"] == "throttle" and not any(t["kind"] == "apigw_usage_plan" and t["api"] == api for t in targets):
            up = ag.create_usage_plan(name=f"{api}-plan", throttle={"rateLimit": round(p["rate_limit_rps"] * 1.5),
                                                                 "burstLimit": int(p["burst_limit"] * 1.5)})["id"]
            targets.append({"kind": "apigw_usage_plan", "api": api, "usage_plan_id": up})
        elif r["kind"] == "route" and not any(t["kind"] == "route53_weights" and t["api"] == api for t in targets):
            r53 = clients("route53")
            zone = r53.create_hosted_zone(Name=f"{api}.example.com", CallerReference=f"demo-{api}")["HostedZone"]["Id"]
            record = f"api.{api}.example.com."
            set_ids = {region: region.replace("-", "") for region in p["weights"]}
            r53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": [
                {"Action": "CREATE", "ResourceRecordSet": {"Name": record, "Type": "CNAME", "TTL": 60, "SetIdentifier": sid,
                                                           "Weight": 128, "ResourceRecords": [{"Value": f"{region}.{api}.example.com"}]}}
                for region, sid in set_ids.items()]})
            targets.append({"kind": "route53_weights", "api": api, "zone_id": zone.split("/")[-1], "record": record,
                            "set_ids": set_ids})
        elif r["kind"] == "prewarm" and not any(t["kind"] == "lambda_provisioned_concurrency" and t["api"] == api
                                                and t["route"] == p.get("route") and t["region"] == p.get("region")
                                                for t in targets):
            fn = "-".join(w for w in "".join(ch if ch.isalnum() else " " for ch in f"{api} {p.get('route')}".lower()).split())
            targets.append({"kind": "lambda_provisioned_concurrency", "api": api, "route": p.get("route"),
                            "function": fn, "qualifier": "live", "region": p.get("region")})
    return targets


def demo_settings(settings: Settings, url: str, recs: list[dict]) -> Settings:
    """``settings`` pointed at the emulator at ``url``, with targets seeded there for ``recs``."""
    aws = settings.aws.model_copy(update={"endpoint_url": url, "region": "us-east-1"})
    base = settings.model_copy(update={"aws": aws})
    return base.model_copy(update={"targets": [Target(**t) for t in seed_targets(recs, Clients(base))]})
