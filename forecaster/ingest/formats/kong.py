"""Kong Gateway access logs from the File Log / HTTP Log / TCP Log plugins (one JSON object per line).

Fields as in Kong's log serializer (https://docs.konghq.com/hub/kong-inc/file-log/#log-format):
``started_at`` (epoch ms), ``request.method``, ``request.uri`` (path + query), ``request.url``,
``response.status``, ``response.size``, ``latencies.request`` (total ms), ``latencies.proxy``
(upstream ms, our integration latency), ``service.name`` (our api), ``client_ip``, and the
request id from ``request.id`` (Kong 3.5+) or the ``x-kong-request-id`` header.

A Kong route (``route.name``, ``route.paths``) is a prefix or regex match, not a method + path
template, so the route is derived from method + ``request.uri`` like for web logs (route map
first, heuristics otherwise).
"""

from __future__ import annotations

from .base import LogFormat, json_select, register, ts_epoch_auto
from .detect import json_share

_KEYS = {
    "ts": ("started_at",),
    "api": ("service.name", "service.host", "request.headers.host"),
    "stage": ("workspace_name",),
    "method": ("request.method",),
    "path": ("request.uri", "request.url"),
    "status": ("response.status",),
    "latency_ms": ("latencies.request",),
    "integration_latency_ms": ("latencies.proxy",),
    "bytes_out": ("response.size",),
    "client": ("consumer.username", "consumer.id", "authenticated_entity.id", "client_ip"),
    "request_id": ("request.id", "request.headers.x-kong-request-id", "response.headers.x-kong-request-id"),
}

KONG = register(LogFormat(
    name="kong",
    description="Kong Gateway file-log / http-log JSON (service.name as the api)",
    select_sql=json_select(_KEYS, {"api_type": "kong"}),
    detect=lambda lines: json_share(lines, (("started_at",), ("latencies",), ("request",), ("response",)),
                                    ("service", "route", "client_ip", "upstream_uri"),
                                    absent=("ai.proxy", "ai.ai-proxy")),   # AI Proxy lines: kong_ai
    ts_sql=ts_epoch_auto,
    api_type="kong",
    examples=(
        '{"request":{"method":"GET","uri":"/pets/42?expand=owner","url":"http://api.example.com:8000/pets/42?expand=owner",'
        '"size":112,"headers":{"host":"api.example.com","x-kong-request-id":"5e3a0d7c6b9a4f2e8c1d0b7a6f5e4d3c"}},'
        '"response":{"status":200,"size":934,"headers":{"content-type":"application/json"}},'
        '"latencies":{"request":58,"kong":3,"proxy":55},"started_at":1795323601123,"client_ip":"192.0.2.30",'
        '"upstream_uri":"/pets/42?expand=owner","service":{"name":"pets-service","host":"pets.internal","port":8080},'
        '"route":{"name":"pets-route","paths":["/pets"]}}',
        '{"request":{"id":"0a6c9c1f2b3d4e5f60718293a4b5c6d7","method":"POST","uri":"/orders","url":"http://api.example.com:8000/orders",'
        '"size":310,"headers":{"host":"api.example.com"}},"response":{"status":503,"size":210},'
        '"latencies":{"request":1021,"kong":1,"proxy":1020},"started_at":1795323602500,"client_ip":"192.0.2.31",'
        '"service":{"name":"orders-service"},"route":{"name":"orders-route","paths":["/orders"]}}',
    ),
))
