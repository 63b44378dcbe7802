"""AWS API Gateway access logs: REST (JSON and CLF templates), HTTP API, WebSocket API.

Field names follow the ``$context`` variables of the templates AWS documents
(https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html and
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html);
common alternative key names people give them are accepted too.
"""

from __future__ import annotations

from .base import LogFormat, json_select, register, ts_clf, ts_epoch_auto, ts_iso
from .detect import json_share


def ts_apigw(x: str) -> str:
    """requestTimeEpoch (ms or s) when numeric, else requestTime in CLF, else ISO 8601."""
    return (
        f"CASE WHEN regexp_full_match({x}, '[0-9]+(\\.[0-9]+)?') THEN {ts_epoch_auto(x)} "
        f"ELSE coalesce({ts_clf(x)}, {ts_iso(x)}) END"
    )


_COMMON = {
    "ts": ("requestTimeEpoch", "requestTime"),
    "api": ("apiId", "api_id"),
    "stage": ("stage",),
    "method": ("httpMethod", "method"),
    "path": ("path", "requestPath"),
    "status": ("status",),
    "latency_ms": ("responseLatency", "latency"),
    "integration_latency_ms": ("integrationLatency", "integration.latency"),
    "bytes_out": ("responseLength",),
    "region": ("region", "awsRegion"),
    "client": ("apiKeyId", "apiKey", "caller", "ip", "sourceIp", "identity.sourceIp"),
    "request_id": ("requestId",),
}

REST_JSON = register(LogFormat(
    name="apigw_rest_json",
    description="API Gateway REST API access log, JSON template ($context.resourcePath as the route)",
    select_sql=json_select({**_COMMON, "route": ("resourcePath",)}, {"api_type": "rest"}),
    detect=lambda lines: json_share(
        lines, (("requestId",), ("resourcePath",), ("requestTime", "requestTimeEpoch")), ("status", "httpMethod")
    ),
    ts_sql=ts_apigw,
    api_type="rest",
    examples=(
        '{"requestId":"c6af9ac6-7b61-11e6-9a41-93e8deadbeef","ip":"192.0.2.1","caller":"-","user":"-",'
        '"requestTime":"22/Nov/2026:05:00:01 +0000","httpMethod":"GET","resourcePath":"/pets/{petId}",'
        '"status":"200","protocol":"HTTP/1.1","responseLength":"512"}',
    ),
))
