"""Bad input and faults: a clear error, nothing half-changed, an ``actions`` row saying what happened."""

from __future__ import annotations

import logging

import pytest

from forecaster.control import apply, plan
from forecaster.store import actions as audit
from forecaster.store.db import run

from .conftest import NOW, insert_recs, rec
from .servers import FaultProxy, Gateway, expired_token, server_error

SECRET = "whsec-faults-9f8e7d6c5b4a"


def three_targets(rest_stage, usage_plan, zone, **extra):
    zid, record = zone
    return [{"kind": "apigw_rest_stage", "api": "shop", "rest_api_id": rest_stage, "stage": "prod", **extra},
            {"kind": "apigw_usage_plan", "api": "shop", "usage_plan_id": usage_plan},
            {"kind": "route53_weights", "api": "shop", "zone_id": zid, "record": record,
             "set_ids": {"us-east-1": "use1", "eu-north-1": "eun1"}}]


THREE = [
    rec("f-stage", "throttle", "shop|prod", {"api": "shop", "stage": "prod", "rate_limit_rps": 150.0, "burst_limit": 300}),
    rec("f-plan", "throttle", "usage_plan:shop", {"api": "shop", "rate_limit_rps": 45.0, "burst_limit": 65}),
    rec("f-route", "route", "region:shop", {"api": "shop", "weights": {"us-east-1": 128, "eu-north-1": 127}}),
]
ORIGINAL = {"stage": (100.0, 200), "plan": (40, 60), "weights": {"use1": 200, "eun1": 55}}


def live(aws_client, rest_stage, usage_plan, zone):
    ag = aws_client("apigateway")
    ms = ag.get_stage(restApiId=rest_stage, stageName="prod")["methodSettings"]["*/*"]
    up = ag.get_usage_plan(usagePlanId=usage_plan)["throttle"]
    rr = aws_client("route53").list_resource_record_sets(HostedZoneId=zone[0])["ResourceRecordSets"]
    return {"stage": (ms["throttlingRateLimit"], ms["throttlingBurstLimit"]),
            "plan": (up["rateLimit"], up["burstLimit"]),
            "weights": {r["SetIdentifier"]: r["Weight"] for r in rr if "SetIdentifier" in r}}


def outcomes(con, batch):
    return [(a.recommendation_id, a.outcome) for a in audit.by_batch(con, batch)]


@pytest.mark.parametrize("bad", ["rest_api_id", "stage"])
def test_missing_api_or_wrong_stage_refuses_the_whole_apply(con, control_settings, aws_client, rest_stage,
                                                            usage_plan, zone, bad):
    targets = three_targets(rest_stage, usage_plan, zone)
    recs = list(THREE)
    if bad == "rest_api_id":
        targets[0]["rest_api_id"] = "nosuchapi"
    else:   # the logs and the config call the stage 'prd'; on AWS it is 'prod'
        targets[0]["stage"] = "prd"
        recs[0] = rec("f-stage", "throttle", "shop|prd", {**THREE[0].params, "stage": "prd"})
    s = control_settings(targets=targets)
    insert_recs(con, *recs)
    p = plan(con, s, now=NOW)
    why = {x["recommendation_id"]: x["why"] for x in p.skipped}
    expected = "no REST API with id 'nosuchapi'" if bad == "rest_api_id" else "has no stage 'prd'; its stages: prod"
    assert expected in why["f-stage"]
    res = apply(con, s, p, dry_run=False, actor="test")
    assert res.applied == [] and expected in res.failed[0]["error"]
    assert dict(outcomes(con, res.batch_id)) == {"f-stage": "refused", "f-plan": "cancelled", "f-route": "cancelled"}
    assert live(aws_client, rest_stage, usage_plan, zone) == ORIGINAL


def test_missing_credentials(con, control_settings, aws_client, rest_stage, usage_plan, zone, monkeypatch):
    insert_recs(con, *THREE)
    s = control_settings(targets=three_targets(rest_stage, usage_plan, zone))
    for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(k, raising=False)
    p = plan(con, s, now=NOW)
    assert p.changes == [] and all("no AWS credentials found" in x["why"] for x in p.skipped)
    res = apply(con, s, p, dry_run=False, actor="test")
    assert res.applied == [] and len(res.failed) == 3
    assert {o for _, o in outcomes(con, res.batch_id)} == {"refused"}
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    assert live(aws_client, rest_stage, usage_plan, zone) == ORIGINAL


def test_credentials_expiring_mid_apply_are_reported_exactly(con, control_settings, moto_endpoint, aws_client,
                                                             rest_stage, usage_plan, zone):
    """The token expires after the first write: the second fails, and so does undoing the first —
    the report says exactly what is left changed."""
    proxy = FaultProxy(moto_endpoint, lambda n, method, path: expired_token() if n >= 2 else None)
    try:
        s = control_settings(targets=three_targets(rest_stage, usage_plan, zone), aws={"endpoint_url": proxy.url})
        insert_recs(con, *THREE)
        res = apply(con, s, plan(con, s, now=NOW), dry_run=False, actor="test")
    finally:
        proxy.close()
    assert res.applied and "ExpiredTokenException" in res.failed[0]["error"]
    assert "credentials are expired" in res.failed[0]["error"]
    [left] = res.restore_failed
    assert left["left_as"] == {"rate_limit_rps": 150.0, "burst_limit": 300} and left["was"] == {
        "rate_limit_rps": 100.0, "burst_limit": 200}
    assert outcomes(con, res.batch_id) == [("f-stage", "applied"), ("f-plan", "failed"), ("f-stage", "failed"),
                                           ("f-route", "cancelled")]
    assert live(aws_client, rest_stage, usage_plan, zone)["stage"] == (150.0, 300)


def test_a_500_on_the_second_of_three_calls_undoes_the_first(con, control_settings, moto_endpoint, aws_client,
                                                              rest_stage, usage_plan, zone):
    proxy = FaultProxy(moto_endpoint, lambda n, method, path: server_error() if path.startswith("/usageplans")
                       and method == "PATCH" else None)
    try:
        s = control_settings(targets=three_targets(rest_stage, usage_plan, zone), aws={"endpoint_url": proxy.url})
        insert_recs(con, *THREE)
        res = apply(con, s, plan(con, s, now=NOW), dry_run=False, actor="test")
    finally:
        proxy.close()
    assert "update_usage_plan failed after 3 attempts: InternalFailure (HTTP 500)" in res.failed[0]["error"]
    assert [m for m, p, st in proxy.log if st == 500] == ["PATCH"] * 3        # retried with backoff, then given up
    assert len(res.restored) == 1 and res.restore_failed == []
    assert outcomes(con, res.batch_id) == [("f-stage", "applied"), ("f-plan", "failed"), ("f-stage", "restored"),
                                           ("f-route", "cancelled")]
    assert live(aws_client, rest_stage, usage_plan, zone) == ORIGINAL


def test_a_transient_500_is_retried_and_the_apply_completes(con, control_settings, moto_endpoint, aws_client,
                                                            rest_stage, usage_plan, zone):
    proxy = FaultProxy(moto_endpoint, lambda n, method, path: server_error(503) if n == 2 else None)
    try:
        s = control_settings(targets=three_targets(rest_stage, usage_plan, zone), aws={"endpoint_url": proxy.url})
        insert_recs(con, *THREE)
        res = apply(con, s, plan(con, s, now=NOW), dry_run=False, actor="test")
    finally:
        proxy.close()
    assert res.failed == [] and len(res.applied) == 3
    assert live(aws_client, rest_stage, usage_plan, zone) == {"stage": (150.0, 300), "plan": (45, 65),
                                                              "weights": {"use1": 128, "eun1": 127}}


@pytest.mark.parametrize("rate, burst, expected", [
    (-1.0, 200, "rate_limit_rps must be a number > 0, got -1.0"),
    (1e12, 200, "rate_limit_rps 1,000,000,000,000.00 is above the account limit 10,000 rps"),
    (150.0, 10 ** 12, "burst_limit 1,000,000,000,000 is above the account burst limit 5,000"),
])
def test_hand_edited_limits_are_refused_before_any_call(con, control_settings, aws_client, rest_stage, usage_plan,
                                                        zone, rate, burst, expected):
    s = control_settings(targets=three_targets(rest_stage, usage_plan, zone))
    bad = rec("f-stage", "throttle", "shop|prod", {"api": "shop", "stage": "prod", "rate_limit_rps": rate,
                                                  "burst_limit": burst})
    insert_recs(con, bad, *THREE[1:])
    p = plan(con, s, now=NOW)
    assert expected in {x["recommendation_id"]: x["why"] for x in p.skipped}["f-stage"]
    res = apply(con, s, p, dry_run=False, actor="test")
    assert res.applied == [] and expected in res.failed[0]["error"]
    assert dict(outcomes(con, res.batch_id)) == {"f-stage": "refused", "f-plan": "cancelled", "f-route": "cancelled"}
    assert live(aws_client, rest_stage, usage_plan, zone) == ORIGINAL


def test_a_webhook_timing_out_mid_apply_undoes_the_rest(con, control_settings, aws_client, rest_stage, usage_plan,
                                                        zone, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("FORECASTER_FAULTS_SECRET", SECRET)
    gw = Gateway(SECRET)
    try:
        targets = three_targets(rest_stage, usage_plan, zone)[:1] + [
            {"kind": "webhook", "api": "shop", "url": gw.url, "secret_env": "FORECASTER_FAULTS_SECRET", "timeout_s": 0.3}]
        s = control_settings(targets=targets, aws={"max_attempts": 2})
        insert_recs(con, THREE[0])
        p = plan(con, s, now=NOW)
        assert [c.kind for c in p.changes] == ["apigw_rest_stage"] * 2 + ["webhook"] * 2
        gw.post_delay_s = 1.0
        res = apply(con, s, p, dry_run=False, actor="test")
    finally:
        gw.close()
    assert "webhook POST" in res.failed[0]["error"] and "timed out after 0.3s" in res.failed[0]["error"]
    assert outcomes(con, res.batch_id) == [("f-stage", "applied"), ("f-stage", "failed"), ("f-stage", "restored")]
    assert live(aws_client, rest_stage, usage_plan, zone)["stage"] == (100.0, 200)
    dump = str(run(con, "SELECT * FROM actions"))
    assert SECRET not in dump and SECRET not in caplog.text


def test_a_limit_below_the_observed_peak_is_refused_at_apply(con, control_settings, aws_client, rest_stage,
                                                             tmp_path):
    """The floor guardrail uses the traffic logged before 'now': 30 requests in one second."""
    import datetime as dt
    import json

    from forecaster.ingest import ingest

    t0 = int((NOW - dt.timedelta(hours=1)).replace(tzinfo=dt.timezone.utc).timestamp() * 1000)
    log = tmp_path / "burst.log"
    log.write_text("".join(json.dumps({
        "requestId": f"b{i}", "ip": "192.0.2.1", "requestTimeEpoch": str(t0 + i * 10), "httpMethod": "POST",
        "resourcePath": "/orders", "path": "/orders", "status": "200", "responseLength": "10",
        "responseLatency": "20", "integrationLatency": "15", "apiId": "shop", "stage": "prod"}) + "\n"
        for i in range(30)))
    assert ingest(con, [str(log)], control_settings()).rows_loaded == 30
    s = control_settings(targets=three_targets(rest_stage, "unused", ("Z", "r."))[:1])
    insert_recs(con, rec("f-low", "throttle", "shop|prod|POST /orders",
                         {"api": "shop", "stage": "prod", "route": "POST /orders", "rate_limit_rps": 40.0,
                          "burst_limit": 80}))
    p = plan(con, s, now=NOW)
    assert p.peaks[("shop", "prod", "POST /orders")] == 30.0 and len(p.ops) == 1   # 40 >= 30: allowed
    insert_recs(con, rec("f-lower", "throttle", "shop|prod|POST /orders",
                         {"api": "shop", "stage": "prod", "route": "POST /orders", "rate_limit_rps": 12.0,
                          "burst_limit": 24}, hours=(-0.5, 1), run_id="decide-later"))
    res = apply(con, s, plan(con, s, now=NOW), dry_run=False, actor="test")
    assert res.applied == [] and "below the observed peak 30.00 rps" in res.failed[0]["error"]
    assert dict(outcomes(con, res.batch_id)) == {"f-lower": "refused"}
    ms = aws_client("apigateway").get_stage(restApiId=rest_stage, stageName="prod")["methodSettings"]
    assert ms["~1orders/POST"]["throttlingRateLimit"] == 50.0
