"""Envoy access logs in Envoy's default text format.

``[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE%
%RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%
"%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"``
(https://www.envoyproxy.io/docs/envoy/latest/configuration/observability/access_log/usage#default-format-string).
DURATION is our latency, the upstream service time our integration latency, the authority our
api, X-REQUEST-ID the request id, X-FORWARDED-FOR the client. Fields Envoy versions append after
the upstream host are ignored. A response code of 0 (no response sent, e.g. flag DC) is rejected
by the status check, with its reason, like any status outside 100-599.
"""

from __future__ import annotations

from .base import LogFormat, register, regex_select, ts_iso
from .detect import regex_share

_Q = r'"(?:[^"\\]|\\.)*"'  # a quoted field (no capture)

ENVOY_RE = (
    r'^\[(?P<ts>[^\]]+)\] "(?P<method>[A-Za-z-]+) (?P<path>[^\s"]+)(?: [^"]*)?" (?P<status>\d+) (?P<flags>\S+) '
    r'(?P<rx>\d+|-) (?P<tx>\d+|-) (?P<dur>\d+|-) (?P<ust>\d+|-) "(?P<xff>[^"]*)" ' + _Q
    + r' "(?P<rid>[^"]*)" "(?P<authority>[^"]*)" "(?P<upstream>[^"]*)"(?: .*)?$'
)

ENVOY = register(LogFormat(
    name="envoy",
    description="Envoy default access-log format (authority as the api)",
    select_sql=regex_select(
        ENVOY_RE,
        {"ts": "ts", "method": "method", "path": "path", "status": "status", "bytes_out": "tx",
         "latency_ms": "dur", "integration_latency_ms": "ust", "request_id": "rid", "api": "authority"},
        "the Envoy default access-log format", required="ts", constants={"api_type": "envoy"},
        # the first address of X-Forwarded-For is the original client
        exprs={"client": "nullif(nullif(trim(split_part(_m.xff, ',', 1)), '-'), '')"},
    ),
    detect=lambda lines: regex_share(lines, ENVOY_RE),
    ts_sql=ts_iso,
    api_type="envoy",
    examples=(
        '[2026-11-22T05:00:01.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100 "10.0.35.28" '
        '"nsq2http" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "locations" "tcp://10.0.2.1:80"',
        '[2026-11-22T05:00:02.004Z] "GET /api/v1/locations/8812?fields=name HTTP/1.1" 200 - 0 1432 18 16 '
        '"203.0.113.9, 10.0.0.2" "Mozilla/5.0 (X11; Linux x86_64)" "5b0f3e2a-1d7c-4e8f-9a6b-3c2d1e0f9a8b" '
        '"locations" "10.0.2.7:8080"',
    ),
))
