"""plan -> apply (dry, then real) -> plan is empty -> apply again changes nothing -> rollback --last ->
plan shows the same diff again, against live state on a real moto server."""

from __future__ import annotations

import pytest

from forecaster.control import apply, plan, rollback
from forecaster.control.aws import Clients
from forecaster.errors import BadInput
from forecaster.store import actions as audit
from forecaster.store import recommendations

from .conftest import NOW, insert_recs, rec


@pytest.fixture
def world(control_settings, rest_stage, usage_plan, zone, aws_name):
    zid, record = zone
    s = control_settings(targets=[
        {"kind": "apigw_rest_stage", "api": "shop", "rest_api_id": rest_stage, "stage": "prod"},
        {"kind": "apigw_usage_plan", "api": "shop", "usage_plan_id": usage_plan},
        {"kind": "route53_weights", "api": "shop", "zone_id": zid, "record": record,
         "set_ids": {"us-east-1": "use1", "eu-north-1": "eun1"}},
        {"kind": "lambda_provisioned_concurrency", "api": "shop", "route": "POST /orders", "function": aws_name,
         "qualifier": "live"},
    ])
    return s


RECS = [
    rec("r-stage", "throttle", "shop|prod", {"api": "shop", "stage": "prod", "rate_limit_rps": 120.0, "burst_limit": 240}),
    rec("r-orders", "throttle", "shop|prod|POST /orders",
        {"api": "shop", "stage": "prod", "route": "POST /orders", "rate_limit_rps": 60.0, "burst_limit": 96}),
    rec("r-plan", "throttle", "usage_plan:shop",
        {"api": "shop", "rate_limit_rps": 50.0, "burst_limit": 70, "quota_per_day": 120000}),
    rec("r-route", "route", "region:shop", {"api": "shop", "weights": {"us-east-1": 150, "eu-north-1": 105}}),
    rec("r-warm", "prewarm", "shop|prod|POST /orders",
        {"api": "shop", "stage": "prod", "route": "POST /orders", "provisioned_concurrency": 20, "region": "us-east-1"},
        hours=(40, 46)),
    rec("r-poor", "throttle", "shop|prod|GET /slow",
        {"api": "shop", "stage": "prod", "route": "GET /slow", "rate_limit_rps": 9.0, "burst_limit": 18},
        status="forecast_only"),
    rec("r-lost", "throttle", "other|prod", {"api": "other", "stage": "prod", "rate_limit_rps": 9.0, "burst_limit": 18}),
]


def settings_of(p):
    return {(c.target, c.setting): (c.before, c.after) for c in p.changes}


def test_plan_apply_replan_reapply_rollback(con, world):
    insert_recs(con, *RECS)
    p = plan(con, world, now=NOW)
    got = settings_of(p)
    stage = f"rest-api {world.targets[0].rest_api_id}/prod"
    assert got[(f"{stage} */*", "rate_limit_rps")] == (100.0, 120.0)
    assert got[(f"{stage} */*", "burst_limit")] == (200, 240)
    assert got[(f"{stage} ~1orders/POST", "rate_limit_rps")] == (50.0, 60.0)
    assert got[(f"usage-plan {world.targets[1].usage_plan_id} plan", "quota_per_day")] == (100000, 120000)
    r53 = f"route53 {world.targets[2].zone_id} {world.targets[2].record} weights"
    assert got[(r53, "weights.eu-north-1")] == (55, 105)
    warm = [k for k in got if k[0].startswith("lambda ")]
    assert warm == [(f"lambda {world.targets[3].function}:live 2026-11-26T21:00/2026-11-27T03:00",
                     "provisioned_concurrency"),
                    (f"lambda {world.targets[3].function}:live 2026-11-26T21:00/2026-11-27T03:00", "after_window")]
    why = {s["recommendation_id"]: s["why"] for s in p.skipped}
    assert why["r-poor"].startswith("forecast_only")
    assert "no [[targets]] entry serves throttle for api 'other'" in why["r-lost"]
    assert set(p.to_dict()) == {"changes", "skipped"}
    assert set(p.to_dict()["changes"][0]) == {"target", "kind", "setting", "before", "after", "recommendation_id", "reason"}

    dry = apply(con, world, p, actor="test")           # dry run: the default
    assert dry.dry_run and len(dry.applied) == 5 and dry.failed == []
    assert settings_of(plan(con, world, now=NOW)) == got       # nothing changed
    assert {a.outcome for a in audit.by_batch(con, dry.batch_id)} == {"would_apply"}

    real = apply(con, world, plan(con, world, now=NOW), dry_run=False, actor="test")
    assert real.failed == [] and len(real.applied) == 5
    rows = audit.by_batch(con, real.batch_id)
    assert {a.outcome for a in rows} == {"applied"} and all(a.actor == "test" and not a.dry_run for a in rows)
    assert all(a.before_state is not None or a.target.startswith("lambda") for a in rows)
    assert plan(con, world, now=NOW).changes == []                # plan right after apply is empty
    assert recommendations.get(con, "r-stage").status == "applied"

    again = apply(con, world, p, dry_run=False, actor="test")    # the same plan twice: nothing changes
    assert again.applied == [] and len(again.unchanged) == 5
    assert {a.outcome for a in audit.by_batch(con, again.batch_id)} == {"unchanged"}

    with pytest.raises(BadInput, match="only real applied changes"):
        rollback(con, world, action_ids=[dry.applied[0]])
    back_dry = rollback(con, world, last=True)
    assert back_dry.dry_run and len(back_dry.restored) == 5
    assert plan(con, world, now=NOW).changes == []
    back = rollback(con, world, last=True, dry_run=False, actor="test")
    assert back.failed == [] and len(back.restored) == 5
    assert all(a.rollback_of in real.applied for a in audit.by_batch(con, back.batch_id))
    assert settings_of(plan(con, world, now=NOW)) == got            # the same diff again
    assert recommendations.get(con, "r-stage").status == "rolled_back"
    with pytest.raises(BadInput, match="already rolled back"):
        rollback(con, world, last=True, dry_run=False)


def test_rollback_refuses_a_setting_changed_since(con, world, aws_client):
    insert_recs(con, RECS[0])
    res = apply(con, world, plan(con, world, now=NOW), dry_run=False, actor="test")
    aws_client("apigateway").update_stage(restApiId=world.targets[0].rest_api_id, stageName="prod", patchOperations=[
        {"op": "replace", "path": "/*/*/throttling/rateLimit", "value": "333"}])   # someone else's change
    back = rollback(con, world, action_ids=res.applied, dry_run=False)
    assert back.restored == [] and "changed since action" in back.failed[0]["error"]
    assert audit.by_batch(con, back.batch_id)[0].outcome == "refused"
    live = Clients(world)("apigateway").get_stage(restApiId=world.targets[0].rest_api_id, stageName="prod")
    assert live["methodSettings"]["*/*"]["throttlingRateLimit"] == 333.0
