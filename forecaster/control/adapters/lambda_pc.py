"""``lambda_provisioned_concurrency``: pre-warm windows as Application Auto Scaling scheduled actions.

Each window of a ``prewarm`` recommendation becomes two scheduled actions on the function alias's
scalable target (``lambda:function:ProvisionedConcurrency``): at the window's start min = max = the
recommended concurrency, at its end back to the route's baseline (``lambda_provisioned_by_route``,
else 0). AWS runs them on time whether or not forecaster is running. The scalable target is
registered first when it is not yet.
"""

from __future__ import annotations

import datetime as dt

from ..aws import call
from .base import Adapter, register

NAMESPACE = "lambda"
DIMENSION = "lambda:function:ProvisionedConcurrency"
PREFIX = "forecaster-"


def _ts(v) -> dt.datetime:
    t = v if isinstance(v, dt.datetime) else dt.datetime.fromisoformat(str(v))
    return t.replace(tzinfo=None) if t.tzinfo is None else t.astimezone(dt.timezone.utc).replace(tzinfo=None)


def action_names(key: str) -> tuple[str, str]:
    start = key.split("/")[0].replace("-", "").replace(":", "")
    return f"{PREFIX}{start}-start", f"{PREFIX}{start}-end"


@register
class LambdaProvisionedConcurrency(Adapter):
    name = "lambda_provisioned_concurrency"
    handles = ("prewarm",)

    def matches(self, target, rec) -> bool:
        p = rec["params"]
        return (super().matches(target, rec) and p.get("route") == target.route
                and (target.stage is None or p.get("stage") == target.stage)
                and (target.region is None or p.get("region") in (None, target.region)))

    def label(self, target) -> str:
        return f"lambda {target.function}:{target.qualifier}" + (f" ({target.region})" if target.region else "")

    def resource_id(self, target) -> str:
        return f"function:{target.function}:{target.qualifier}"

    def key(self, target, rec) -> str:
        return f"{_ts(rec['valid_from']):%Y-%m-%dT%H:%M}/{_ts(rec['valid_to']):%Y-%m-%dT%H:%M}"

    def desired(self, target, rec, settings) -> dict:
        p = rec["params"]
        by_route = settings.lambda_provisioned_by_route
        base = by_route.get(f"{p.get('api')}|{p.get('stage')}|{p.get('route')}", by_route.get(str(p.get("api")), 0))
        return {"provisioned_concurrency": int(p["provisioned_concurrency"]), "after_window": int(base)}

    def _actions(self, clients, target) -> dict[str, dict]:
        what = f"lambda_provisioned_concurrency {target.api}: {self.label(target)}"
        out, token = {}, None
        while True:
            kw = {"ServiceNamespace": NAMESPACE, "ResourceId": self.resource_id(target), "ScalableDimension": DIMENSION}
            if token:
                kw["NextToken"] = token
            page = call(clients.settings, clients("application-autoscaling", target.region), "describe_scheduled_actions", what, **kw)
            for a in page.get("ScheduledActions", []):
                out[a["ScheduledActionName"]] = a
            token = page.get("NextToken")
            if not token:
                return out

    @staticmethod
    def _values(actions: dict[str, dict], key: str) -> dict | None:
        start, end = (actions.get(n) for n in action_names(key))
        if start is None and end is None:
            return None
        cap = lambda a: None if a is None else a.get("ScalableTargetAction", {}).get("MinCapacity")  # noqa: E731
        return {"provisioned_concurrency": cap(start), "after_window": cap(end)}

    def read(self, clients, target, keys):
        actions = self._actions(clients, target)
        return {k: self._values(actions, k) for k in keys}

    def request(self, target, key, before, after) -> dict:
        start_name, end_name = action_names(key)
        start, end = key.split("/")
        base = {"ServiceNamespace": NAMESPACE, "ResourceId": self.resource_id(target), "ScalableDimension": DIMENSION}
        if after is None:
            return {"operation": "delete_scheduled_actions", "actions": [
                {**base, "ScheduledActionName": n} for n in (start_name, end_name)]}
        n, rest = int(after["provisioned_concurrency"]), int(after.get("after_window") or 0)
        return {"operation": "put_scheduled_actions", "register": {**base, "MinCapacity": 0, "MaxCapacity": max(n, rest, 1)},
                "actions": [
                    {**base, "ScheduledActionName": start_name, "Schedule": f"at({start}:00)",
                     "ScalableTargetAction": {"MinCapacity": n, "MaxCapacity": n}},
                    {**base, "ScheduledActionName": end_name, "Schedule": f"at({end}:00)",
                     "ScalableTargetAction": {"MinCapacity": rest, "MaxCapacity": rest}}]}

    def send(self, clients, target, key, request):
        c = clients("application-autoscaling", target.region)
        what = f"lambda_provisioned_concurrency {target.api}: {self.label(target)} {key}"
        s = clients.settings
        if request["operation"] == "put_scheduled_actions":
            reg = request["register"]
            found = call(s, c, "describe_scalable_targets", what, ServiceNamespace=NAMESPACE,
                         ResourceIds=[reg["ResourceId"]], ScalableDimension=DIMENSION)
            if not found.get("ScalableTargets"):
                call(s, c, "register_scalable_target", what, **reg)
            for a in request["actions"]:
                call(s, c, "put_scheduled_action", what, **a)
        else:
            existing = self._actions(clients, target)
            for a in request["actions"]:
                if a["ScheduledActionName"] in existing:
                    call(s, c, "delete_scheduled_action", what, **a)
        return self._values(self._actions(clients, target), key)
