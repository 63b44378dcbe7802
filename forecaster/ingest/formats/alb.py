"""AWS Application Load Balancer access logs.

Space-separated, some fields quoted, in the order AWS documents
(https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html#access-log-entry-syntax):
``type time elb client:port target:port request_processing_time target_processing_time
response_processing_time elb_status_code target_status_code received_bytes sent_bytes "request"
"user_agent" ssl_cipher ssl_protocol target_group_arn "trace_id" ...`` and later fields that are
optional here (AWS keeps appending fields; anything after ``trace_id`` is ignored).

latency = the three processing times summed (seconds -> ms; NULL when any is -1, which AWS
writes when the request did not get that far), integration latency = target_processing_time,
request id = trace_id, api = the load balancer's name (``app/<name>/<id>``), client = client IP.
The ``request`` field is ``METHOD scheme://host:port/path?query PROTOCOL``; the route comes from
method + path like for web logs.
"""

from __future__ import annotations

from .base import LogFormat, register, regex_select, ts_iso
from .detect import regex_share

_NUM = r"-?[0-9.]+"

ALB_RE = (
    r'^(?P<type>[a-z0-9]+) (?P<ts>\S+) (?:[^/\s]+/)?(?P<elb>[^/\s]+)(?:/\S*)? (?P<client>\S+?)(?::\d+)? '
    r'(?P<target>\S+) (?P<t_req>' + _NUM + r') (?P<t_tgt>' + _NUM + r') (?P<t_resp>' + _NUM + r') '
    r'(?P<status>\d+|-) (?P<tstatus>\d+|-) (?P<rx>\d+|-) (?P<tx>\d+|-) '
    r'"(?P<method>[A-Za-z-]+) (?P<url>[^\s"]+)(?: [^"]*)?"'
    r'(?: "(?:[^"\\]|\\.)*" (?P<cipher>\S+) (?P<proto>\S+) (?P<tg>\S+) "(?P<trace>[^"]*)")?(?: .*)?$'
)

_SECONDS = ("_m.t_req", "_m.t_tgt", "_m.t_resp")


def _ms(g: str) -> str:
    return f"(CASE WHEN TRY_CAST({g} AS DOUBLE) >= 0 THEN TRY_CAST({g} AS DOUBLE) * 1000 END)"


ALB = register(LogFormat(
    name="alb",
    description="AWS Application Load Balancer access log (load balancer name as the api)",
    select_sql=regex_select(
        ALB_RE,
        {"ts": "ts", "api": "elb", "client": "client", "method": "method", "path": "url",
         "status": "status", "bytes_out": "tx"},
        "the ALB access-log format", required="ts", constants={"api_type": "alb"},
        exprs={
            "latency_ms": "round(" + " + ".join(_ms(g) for g in _SECONDS) + ", 3)::VARCHAR",
            "integration_latency_ms": f"round({_ms('_m.t_tgt')}, 3)::VARCHAR",
            "request_id": "nullif(nullif(_m.trace, '-'), '')",
        },
    ),
    detect=lambda lines: regex_share(lines, ALB_RE),
    ts_sql=ts_iso,
    api_type="alb",
    examples=(
        'https 2026-11-22T05:00:01.186641Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.39:2817 '
        '10.0.0.1:80 0.086 0.048 0.037 200 200 0 57 "GET https://www.example.com:443/pets/42?x=1 HTTP/1.1" '
        '"curl/7.46.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 '
        'arn:aws:elasticloadbalancing:us-east-2:123456789012:targetgroup/my-targets/73e2d6bc24d8a067 '
        '"Root=1-58337281-1d84f3d73c47ec4e58577259" "www.example.com" '
        '"arn:aws:acm:us-east-2:123456789012:certificate/12345678-1234-1234-1234-123456789012" 1 '
        '2026-11-22T05:00:01.100000Z "authenticate,forward" "-" "-" "10.0.0.1:80" "200" "-" "-" TID_1234abcd5678ef90',
        'http 2026-11-22T05:00:02.000000Z app/my-loadbalancer/50dc6c495c0c9188 192.168.131.40:2818 '
        '- -1 -1 -1 502 - 34 366 "POST http://www.example.com:80/orders HTTP/1.1" "curl/7.46.0" - - '
        '- "Root=1-58337364-23a8c76965a2ef7629b185e3" "-" "-" 0 2026-11-22T05:00:01.990000Z "forward" '
        '"-" "LambdaInvalidResponse" "-" "-" "-" "-" -',
    ),
))
