"""``apigw_usage_plan``: throttle and daily quota of an API Gateway usage plan (``UpdateUsagePlan``)."""

from __future__ import annotations

from ..aws import call
from ..errors import ControlError, TargetNotFound
from .base import META, Adapter, num, register

KEY = "plan"


@register
class UsagePlan(Adapter):
    name = "apigw_usage_plan"
    handles = ("throttle",)

    def matches(self, target, rec) -> bool:
        return super().matches(target, rec) and rec["target"].startswith("usage_plan:")

    def label(self, target) -> str:
        return f"usage-plan {target.usage_plan_id}" + (f" ({target.region})" if target.region else "")

    def key(self, target, rec) -> str:
        return KEY

    def desired(self, target, rec, settings) -> dict:
        p = rec["params"]
        q = p.get("quota_per_day")
        return {"rate_limit_rps": float(p["rate_limit_rps"]), "burst_limit": int(p["burst_limit"]),
                "quota_per_day": None if q is None else int(q)}

    @staticmethod
    def _values(plan: dict) -> dict | None:
        t, q = plan.get("throttle") or {}, plan.get("quota") or {}
        if not t and not q:
            return None
        rate = t.get("rateLimit")
        limit = q.get("limit") if q.get("period") == "DAY" else None
        return {"rate_limit_rps": None if rate is None else float(rate), "burst_limit": t.get("burstLimit"),
                "quota_per_day": None if limit is None else int(limit)}

    def read(self, clients, target, keys):
        what = f"apigw_usage_plan {target.api}: {self.label(target)}"
        try:
            plan = call(clients.settings, clients("apigateway", target.region), "get_usage_plan", what, usagePlanId=target.usage_plan_id)
        except ControlError as e:
            if e.aws_code == "NotFoundException":
                raise TargetNotFound(f"{what}: no usage plan with id {target.usage_plan_id!r}") from e
            raise
        return {k: self._values(plan) for k in keys}

    def request(self, target, key, before, after) -> dict:
        ops: list[dict] = []
        if after is None:
            ops += [{"op": "remove", "path": "/throttle"}, {"op": "remove", "path": "/quota"}]
        else:
            ops.append({"op": "replace", "path": "/throttle/rateLimit", "value": num(after["rate_limit_rps"])})
            ops.append({"op": "replace", "path": "/throttle/burstLimit", "value": num(after["burst_limit"])})
            if after.get("quota_per_day") is not None:
                ops.append({"op": "replace", "path": "/quota/limit", "value": num(after["quota_per_day"])})
                ops.append({"op": "replace", "path": "/quota/period", "value": "DAY"})
            elif before and before.get("quota_per_day") is not None:
                ops.append({"op": "remove", "path": "/quota"})
        return {"operation": "update_usage_plan", "usagePlanId": target.usage_plan_id, "patchOperations": ops}

    def send(self, clients, target, key, request):
        params = {k: v for k, v in request.items() if k not in META}
        what = f"apigw_usage_plan {target.api}: {self.label(target)}"
        return self._values(call(clients.settings, clients("apigateway", target.region), "update_usage_plan", what, **params))
