"""``apigw_rest_stage``: throttling (stage default and per method) and caching of a REST API stage.

Reads ``GetStage``; writes ``UpdateStage`` patch operations (``/*/*/throttling/rateLimit`` for the
stage default, ``/~1orders/POST/throttling/burstLimit`` for a method: the resource path with ``/``
escaped as ``~1``, as the API Gateway reference and the AWS CLI examples write it).
"""

from __future__ import annotations

from ...config import Target
from ..aws import Clients, call
from ..errors import ControlError, TargetNotFound
from .base import META, Adapter, num, register

STAGE_KEY = "*/*"
THROTTLE = {"rate_limit_rps": ("throttling/rateLimit", "throttlingRateLimit"),
            "burst_limit": ("throttling/burstLimit", "throttlingBurstLimit")}
CACHE_TTL = ("caching/ttlInSeconds", "cacheTtlInSeconds")


def method_key(route: str) -> str:
    """'POST /orders/{id}' -> '~1orders~1{id}/POST' (the methodSettings key)."""
    method, _, path = route.strip().partition(" ")
    return f"{path.strip().replace('~', '~0').replace('/', '~1')}/{method.upper()}"


@register
class RestStage(Adapter):
    name = "apigw_rest_stage"
    handles = ("throttle", "cache")

    def matches(self, target: Target, rec: dict) -> bool:
        p = rec["params"]
        return (super().matches(target, rec) and (p.get("stage") or target.stage) == target.stage
                and not rec["target"].startswith("usage_plan:")
                # a model-response cache (decide's prompt-cache advice) is the AI gateway's, not the stage's
                and p.get("cache_scope") != "model_response")

    def label(self, target: Target) -> str:
        return f"rest-api {target.rest_api_id}/{target.stage}" + (f" ({target.region})" if target.region else "")

    def key(self, target: Target, rec: dict) -> str:
        route = rec["params"].get("route")
        base = method_key(route) if route else STAGE_KEY
        return base if rec["kind"] == "throttle" else f"cache {base}"

    def desired(self, target, rec, settings) -> dict:
        p = rec["params"]
        if rec["kind"] == "throttle":
            return {"rate_limit_rps": float(p["rate_limit_rps"]), "burst_limit": int(p["burst_limit"])}
        return {"cache_enabled": bool(p["cache_enabled"]), "cache_size_gb": p.get("cache_size_gb"),
                "ttl_s": int(p["ttl_s"])}

    def _stage(self, clients: Clients, target: Target) -> dict:
        c = clients("apigateway", target.region)
        what = f"apigw_rest_stage {target.api}: {self.label(target)}"
        try:
            return call(clients.settings, c, "get_stage", what, restApiId=target.rest_api_id, stageName=target.stage)
        except ControlError as e:
            if e.aws_code != "NotFoundException":
                raise
            try:
                stages = call(clients.settings, c, "get_stages", what, restApiId=target.rest_api_id)
            except ControlError as e2:
                if e2.aws_code == "NotFoundException":
                    raise TargetNotFound(f"{what}: no REST API with id {target.rest_api_id!r} "
                                         f"(rest_api_id of the target for api {target.api!r})") from e2
                raise
            names = sorted(s.get("stageName", "") for s in stages.get("item", []))
            raise TargetNotFound(f"{what}: REST API {target.rest_api_id!r} has no stage {target.stage!r}; "
                                 f"its stages: {', '.join(names) or 'none'}") from e

    def read(self, clients, target, keys):
        return self._values(self._stage(clients, target), keys)

    @staticmethod
    def _values(stage: dict, keys: list[str]) -> dict[str, dict | None]:
        ms = stage.get("methodSettings") or {}
        out: dict[str, dict | None] = {}
        for key in keys:
            if key.startswith("cache "):
                k = key[len("cache "):]
                enabled = bool(stage.get("cacheClusterEnabled"))
                size = stage.get("cacheClusterSize") if enabled else None
                ttl = (ms.get(k) or {}).get(CACHE_TTL[1])
                out[key] = {"cache_enabled": enabled, "cache_size_gb": None if size is None else float(size),
                            "ttl_s": None if ttl is None else int(ttl)}
            elif key in ms:
                out[key] = {name: ms[key].get(field) for name, (_, field) in THROTTLE.items()}
            else:
                out[key] = None
        return out

    def request(self, target, key, before, after) -> dict:
        ops: list[dict] = []
        if key.startswith("cache "):
            k = key[len("cache "):]
            after = after or {"cache_enabled": False, "cache_size_gb": None, "ttl_s": None}
            ops.append({"op": "replace", "path": "/cacheClusterEnabled", "value": str(bool(after["cache_enabled"])).lower()})
            if after.get("cache_size_gb") is not None:
                ops.append({"op": "replace", "path": "/cacheClusterSize", "value": num(float(after["cache_size_gb"]))})
            if after.get("ttl_s") is not None:
                ops.append({"op": "replace", "path": f"/{k}/{CACHE_TTL[0]}", "value": str(int(after["ttl_s"]))})
        elif after is None:   # no override before: drop the method setting again
            ops.append({"op": "remove", "path": f"/{key}"})
        else:
            for name, (path, _) in THROTTLE.items():
                if after.get(name) is not None:
                    ops.append({"op": "replace", "path": f"/{key}/{path}", "value": num(after[name])})
        return {"operation": "update_stage", "restApiId": target.rest_api_id, "stageName": target.stage,
                "patchOperations": ops}

    def send(self, clients, target, key, request):
        params = {k: v for k, v in request.items() if k not in META}
        what = f"apigw_rest_stage {target.api}: {self.label(target)} {key}"
        stage = call(clients.settings, clients("apigateway", target.region), "update_stage", what, **params)
        return self._values(stage, [key])[key]
