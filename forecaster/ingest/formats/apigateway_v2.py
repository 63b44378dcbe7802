"""AWS API Gateway v2 access logs (JSON templates): HTTP APIs and WebSocket APIs.

Keys follow the ``$context`` variables AWS documents for HTTP APIs
(https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html)
and WebSocket APIs
(https://docs.aws.amazon.com/apigateway/latest/developerguide/websocket-api-logging.html);
the key names are those of the templates in those pages (``ip`` for ``identity.sourceIp``...).

HTTP API: the route is ``routeKey`` ('GET /pets/{id}'); the catch-all ``$default`` route says
nothing about the path, so its route is derived from method + path (route map, else heuristics).
WebSocket API: the route is 'WS ' + routeKey ('WS $connect', 'WS sendMessage'); connect,
message and disconnect events each count as one row, and ``eventType`` is kept as the method.
"""

from __future__ import annotations

from .apigateway import ts_apigw
from .base import LogFormat, json_select, register, replace_columns
from .detect import json_share

_SHARED = {
    "ts": ("requestTimeEpoch", "requestTime"),
    "api": ("apiId", "api_id"),
    "stage": ("stage",),
    "status": ("status",),
    "integration_latency_ms": ("integrationLatency", "integration.latency"),
    "region": ("region", "awsRegion"),
}

_HTTP_KEYS = {
    **_SHARED,
    "route": ("routeKey",),
    "method": ("httpMethod", "method"),
    "path": ("path", "requestPath"),
    "latency_ms": ("responseLatency", "latency"),
    "bytes_out": ("responseLength",),
    "client": ("apiKeyId", "caller", "ip", "sourceIp", "identity.sourceIp"),
    "request_id": ("requestId", "extendedRequestId"),
}

HTTP = register(LogFormat(
    name="apigw_http",
    description="API Gateway HTTP API access log, JSON ($context.routeKey as the route; $default derived)",
    select_sql=replace_columns(
        json_select(_HTTP_KEYS, {"api_type": "http"}),
        {"route": "CASE WHEN route = '$default' THEN NULL ELSE route END"},
    ),
    detect=lambda lines: json_share(lines, (("requestId",), ("routeKey",), ("requestTime", "requestTimeEpoch")),
                                ("httpMethod", "status"), absent=("eventType", "connectionId", "resourcePath")),
    ts_sql=ts_apigw,
    api_type="http",
    examples=(
        '{"requestId":"JKJaXmPLvHcESHA=","ip":"192.0.2.10","requestTime":"22/Nov/2026:05:00:01 +0000",'
        '"requestTimeEpoch":1795323601000,"httpMethod":"GET","routeKey":"GET /pets/{id}","path":"/pets/42",'
        '"status":"200","protocol":"HTTP/1.1","responseLength":"87","integrationLatency":"41",'
        '"responseLatency":"44","apiId":"a1b2c3d4e5","stage":"$default"}',
        '{"requestId":"JKJaYnQMvHcEJKQ=","ip":"192.0.2.11","requestTime":"22/Nov/2026:05:00:02 +0000",'
        '"httpMethod":"GET","routeKey":"$default","path":"/orders/8812/items","status":"404",'
        '"protocol":"HTTP/1.1","responseLength":"23","apiId":"a1b2c3d4e5","stage":"prod"}',
    ),
))

_WS_KEYS = {
    **_SHARED,
    "route": ("routeKey",),
    "method": ("eventType",),
    "latency_ms": ("responseLatency", "latency"),
    "bytes_out": ("responseLength",),
    "client": ("apiKeyId", "ip", "sourceIp", "identity.sourceIp", "connectionId"),
    "request_id": ("requestId", "extendedRequestId"),
}

# Events without a routeKey still say which built-in route they are by their type.
_WS_ROUTE = (
    "'WS ' || coalesce(route, CASE upper(method) WHEN 'CONNECT' THEN '$connect' "
    "WHEN 'DISCONNECT' THEN '$disconnect' END)"
)

WEBSOCKET = register(LogFormat(
    name="apigw_websocket",
    description="API Gateway WebSocket API access log, JSON (route 'WS ' + $context.routeKey)",
    select_sql=replace_columns(json_select(_WS_KEYS, {"api_type": "websocket"}), {"route": _WS_ROUTE}),
    detect=lambda lines: json_share(lines, (("connectionId",), ("eventType", "routeKey"),
                                        ("requestTime", "requestTimeEpoch")), ("requestId", "status", "eventType")),
    ts_sql=ts_apigw,
    api_type="websocket",
    examples=(
        '{"requestId":"Lx1FmHmCIAMFaXA=","ip":"192.0.2.20","requestTime":"22/Nov/2026:05:00:01 +0000",'
        '"eventType":"CONNECT","routeKey":"$connect","status":"200","connectionId":"Lx1FlcQWoAMCKGQ=",'
        '"apiId":"w1x2y3z4","stage":"prod"}',
        '{"requestId":"Lx1FsE2YIAMFcWw=","ip":"192.0.2.20","requestTime":"22/Nov/2026:05:00:03 +0000",'
        '"eventType":"MESSAGE","routeKey":"sendMessage","status":"200","connectionId":"Lx1FlcQWoAMCKGQ=",'
        '"messageId":"Lx1FsdHQoAMCJ3w=","integrationLatency":"12","apiId":"w1x2y3z4","stage":"prod"}',
        '{"requestId":"Lx1G0dU4IAMFdgQ=","requestTimeEpoch":1795323610,"eventType":"DISCONNECT",'
        '"routeKey":"$disconnect","status":"200","connectionId":"Lx1FlcQWoAMCKGQ=","apiId":"w1x2y3z4","stage":"prod"}',
    ),
))
