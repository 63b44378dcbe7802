"""``apigw_http_stage``: default and per-route throttling of an HTTP API stage (API Gateway v2).

Reads ``GetStage``; writes ``UpdateStage`` (``DefaultRouteSettings`` or ``RouteSettings``) and, to
put back a route that had no setting of its own, ``DeleteRouteSettings``.
"""

from __future__ import annotations

from ..aws import call
from ..errors import ControlError, TargetNotFound
from .base import META, Adapter, register

DEFAULT_KEY = "$default-route-settings"
FIELDS = {"rate_limit_rps": "ThrottlingRateLimit", "burst_limit": "ThrottlingBurstLimit"}


@register
class HttpStage(Adapter):
    name = "apigw_http_stage"
    handles = ("throttle",)

    def matches(self, target, rec) -> bool:
        p = rec["params"]
        return (super().matches(target, rec) and (p.get("stage") or target.stage) == target.stage
                and not rec["target"].startswith("usage_plan:"))

    def label(self, target) -> str:
        return f"http-api {target.api_id}/{target.stage}" + (f" ({target.region})" if target.region else "")

    def key(self, target, rec) -> str:
        return rec["params"].get("route") or DEFAULT_KEY

    def desired(self, target, rec, settings) -> dict:
        p = rec["params"]
        return {"rate_limit_rps": float(p["rate_limit_rps"]), "burst_limit": int(p["burst_limit"])}

    @staticmethod
    def _values(stage: dict, keys: list[str]) -> dict[str, dict | None]:
        out: dict[str, dict | None] = {}
        for key in keys:
            s = stage.get("DefaultRouteSettings") if key == DEFAULT_KEY else (stage.get("RouteSettings") or {}).get(key)
            if not s or all(s.get(f) is None for f in FIELDS.values()):
                out[key] = None
            else:
                rate = s.get(FIELDS["rate_limit_rps"])
                out[key] = {"rate_limit_rps": None if rate is None else float(rate),
                            "burst_limit": s.get(FIELDS["burst_limit"])}
        return out

    def read(self, clients, target, keys):
        what = f"apigw_http_stage {target.api}: {self.label(target)}"
        c = clients("apigatewayv2", target.region)
        try:
            stage = call(clients.settings, c, "get_stage", what, ApiId=target.api_id, StageName=target.stage)
        except ControlError as e:
            if e.aws_code != "NotFoundException":
                raise
            try:
                stages = call(clients.settings, c, "get_stages", what, ApiId=target.api_id)
            except ControlError as e2:
                if e2.aws_code == "NotFoundException":
                    raise TargetNotFound(f"{what}: no HTTP API with id {target.api_id!r}") from e2
                raise
            names = sorted(s.get("StageName", "") for s in stages.get("Items", []))
            raise TargetNotFound(f"{what}: HTTP API {target.api_id!r} has no stage {target.stage!r}; "
                                 f"its stages: {', '.join(names) or 'none'}") from e
        return self._values(stage, keys)

    def request(self, target, key, before, after) -> dict:
        base = {"ApiId": target.api_id, "StageName": target.stage}
        if after is None and key != DEFAULT_KEY:
            return {"operation": "delete_route_settings", **base, "RouteKey": key}
        settings = {f: (after or {}).get(n) for n, f in FIELDS.items()}
        settings = {f: (float(v) if f == "ThrottlingRateLimit" else int(v)) for f, v in settings.items() if v is not None}
        if key == DEFAULT_KEY:
            return {"operation": "update_stage", **base, "DefaultRouteSettings": settings}
        return {"operation": "update_stage", **base, "RouteSettings": {key: settings}}

    def send(self, clients, target, key, request):
        op = request["operation"]
        params = {k: v for k, v in request.items() if k not in META}
        what = f"apigw_http_stage {target.api}: {self.label(target)} {key}"
        out = call(clients.settings, clients("apigatewayv2", target.region), op, what, **params)
        if op == "delete_route_settings":   # returns nothing: read the stage back
            return self.read(clients, target, [key])[key]
        return self._values(out, [key])[key]
