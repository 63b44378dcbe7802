"""Apache / nginx access logs: Common Log Format and Combined Log Format.

Format strings: Apache ``LogFormat "%h %l %u %t \\"%r\\" %>s %b" common`` and
``"%h %l %u %t \\"%r\\" %>s %b \\"%{Referer}i\\" \\"%{User-agent}i\\"" combined``
(https://httpd.apache.org/docs/2.4/logs.html); nginx's default ``combined`` is the same.
A trailing request time (nginx ``$request_time`` in seconds, or Apache ``%D`` microseconds
marked ``us``) is picked up when present.
"""

from __future__ import annotations

from .base import LogFormat, register, regex_select, ts_clf
from .detect import regex_share

_HEAD = r'(?P<client>\S+) \S+ \S+ \[(?P<ts>[^\]]+)\] "(?P<method>[A-Za-z]+) (?P<path>\S+)(?: [^"]*)?" (?P<status>\d{3}) (?P<bytes>\d+|-)'
COMMON_RE = "^" + _HEAD + r"\s*$"
COMBINED_RE = "^" + _HEAD + r' "(?:[^"\\]|\\.)*" "(?:[^"\\]|\\.)*"(?: (?P<rt>[0-9.]+))?.*$'
_GROUPS = {"client": "client", "ts": "ts", "method": "method", "path": "path", "status": "status",
           "bytes_out": "bytes"}


COMMON = register(LogFormat(
    name="clf",
    description="Common Log Format (Apache/nginx 'common'; NASA-style logs)",
    select_sql=regex_select(COMMON_RE, _GROUPS, "Common Log Format", required="ts"),
    detect=lambda lines: regex_share(lines, COMMON_RE) * 0.95,
    ts_sql=ts_clf,
    api_type="web",
    examples=(
        '199.72.81.55 - - [01/Jul/1995:00:00:01 -0400] "GET /history/apollo/ HTTP/1.0" 200 6245',
        'unicomp6.unicomp.net - - [01/Jul/1995:00:00:06 -0400] "GET /shuttle/countdown/ HTTP/1.0" 200 3985',
        '199.120.110.21 - - [01/Jul/1995:00:00:09 -0400] "GET /shuttle/missions/sts-73/mission-sts-73.html HTTP/1.0" 404 -',
    ),
))

COMBINED = register(LogFormat(
    name="combined",
    description="Combined Log Format (Apache/nginx default 'combined'), optional trailing request time",
    select_sql=regex_select(COMBINED_RE, {**_GROUPS, "latency_ms": "rt"}, "Combined Log Format", required="ts",
                            scale={"latency_ms": 1000.0}),
    detect=lambda lines: regex_share(lines, COMBINED_RE),
    ts_sql=ts_clf,
    api_type="web",
    examples=(
        '203.0.113.5 - frank [22/Nov/2026:05:00:01 +0000] "GET /api/orders/8812?x=1 HTTP/1.1" 200 2326 '
        '"https://example.com/start" "Mozilla/5.0 (X11; Linux x86_64)"',
        '203.0.113.6 - - [22/Nov/2026:05:00:02 +0000] "POST /api/orders HTTP/1.1" 201 87 "-" "curl/8.4.0" 0.042',
    ),
))
