"""AWS API Gateway REST API access logs, in the JSON and the CLF templates AWS documents.

(HTTP and WebSocket API logs live in :mod:`.apigateway_v2`.)

Field names follow the ``$context`` variables of the templates AWS documents
(https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html and
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html);
common alternative key names people give them are accepted too.
"""

from __future__ import annotations

from .base import LogFormat, json_select, regex_select, register, ts_clf, ts_epoch_auto, ts_iso
from .detect import json_share, regex_share


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
        lines, (("requestId",), ("resourcePath",), ("requestTime", "requestTimeEpoch")), ("status", "httpMethod"),
        absent=("routeKey", "eventType", "connectionId"),
    ),
    ts_sql=ts_apigw,
    api_type="rest",
    examples=(
        '{"requestId":"c6af9ac6-7b61-11e6-9a41-93e8deadbeef","ip":"192.0.2.1","caller":"-","user":"-",'
        '"requestTime":"22/Nov/2026:05:00:01 +0000","httpMethod":"GET","resourcePath":"/pets/{petId}",'
        '"status":"200","protocol":"HTTP/1.1","responseLength":"512"}',
    ),
))

# The CLF template of the console's "CLF" button and of the docs:
# $context.identity.sourceIp $context.identity.caller $context.identity.user [$context.requestTime]
# "$context.httpMethod $context.resourcePath $context.protocol" $context.status
# $context.responseLength $context.requestId $context.extendedRequestId
# The two trailing ids (unquoted, no spaces) tell it apart from plain CLF and from Combined.
REST_CLF_RE = (
    r'^(?P<ip>\S+) (?P<caller>\S+) (?P<user>\S+) \[(?P<ts>[^\]]+)\] '
    r'"(?P<method>[A-Za-z]+) (?P<route>[^\s"]+)(?: [^"]*)?" (?P<status>\d{3}) (?P<bytes>\d+|-) '
    r'(?P<rid>[^\s"]+) (?P<xrid>[^\s"]+)\s*$'
)

REST_CLF = register(LogFormat(
    name="apigw_rest_clf",
    description="API Gateway REST API access log, CLF template with requestId and extendedRequestId",
    select_sql=regex_select(
        REST_CLF_RE,
        {"ts": "ts", "method": "method", "route": "route", "path": "route", "status": "status",
         "bytes_out": "bytes", "request_id": "rid"},
        "the API Gateway REST CLF template", required="ts", constants={"api_type": "rest"},
        exprs={"client": "coalesce(nullif(nullif(_m.caller, '-'), ''), nullif(nullif(_m.ip, '-'), ''))"},
    ),
    detect=lambda lines: regex_share(lines, REST_CLF_RE),
    ts_sql=ts_clf,
    api_type="rest",
    examples=(
        '192.0.2.1 - - [22/Nov/2026:05:00:01 +0000] "GET /pets/{petId} HTTP/1.1" 200 512 '
        'c6af9ac6-7b61-11e6-9a41-93e8deadbeef Bk3mEFt2IAMF1zw=',
        '198.51.100.7 AIDACKCEVSQ6C2EXAMPLE - [22/Nov/2026:05:00:02 +0000] "POST /pets HTTP/1.1" 201 88 '
        'd7f1a2b3-7b61-11e6-9a41-93e8deadbeef Bk3mFGu3IAMF9xQ=',
    ),
))
