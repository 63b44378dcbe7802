"""Apache / nginx access logs: Common Log Format and Combined Log Format.

Format strings: Apache ``LogFormat "%h %l %u %t \\"%r\\" %>s %b" common`` and
``"%h %l %u %t \\"%r\\" %>s %b \\"%{Referer}i\\" \\"%{User-agent}i\\"" combined``
(https://httpd.apache.org/docs/2.4/logs.html); nginx's default ``combined`` is the same.
A trailing request time (nginx ``$request_time`` in seconds, or Apache ``%D`` microseconds
marked ``us``) is picked up when present.
"""

from __future__ import annotations

from .base import CANONICAL, LogFormat, register, sql_str, ts_clf
from .detect import regex_share

_HEAD = r'(?P<client>\S+) \S+ \S+ \[(?P<ts>[^\]]+)\] "(?P<method>[A-Za-z]+) (?P<path>\S+)(?: [^"]*)?" (?P<status>\d{3}) (?P<bytes>\d+|-)'
COMMON_RE = "^" + _HEAD + r"\s*$"
COMBINED_RE = "^" + _HEAD + r' "(?:[^"\\]|\\.)*" "(?:[^"\\]|\\.)*"(?: (?P<rt>[0-9.]+))?.*$'
_GROUPS = {"client": "client", "ts": "ts", "method": "method", "path": "path", "status": "status",
           "bytes_out": "bytes"}




def split_select(combined: bool):
    """A SELECT splitting lines on quotes and spaces (vectorized string splits run ~5x faster than
    a regex with capture groups in DuckDB). Lines the split cannot take apart safely — an escaped
    quote, extra quotes — go through the regex instead; lines that fit neither are rejected."""
    import re

    what = "Combined Log Format" if combined else "Common Log Format"
    pattern = COMBINED_RE if combined else COMMON_RE
    rx_sql = pattern[:-1] + r"\r?\n?$"
    names = [n for n, _ in sorted(re.compile(pattern).groupindex.items(), key=lambda kv: kv[1])]
    n_quotes = 7 if combined else 3
    shape = (
        f"len(_p) = {n_quotes} AND len(_a) = 6 AND _a[6] = '' AND starts_with(_a[4], '[') AND ends_with(_a[5], ']') "
        f"AND len(_r) BETWEEN 2 AND 3 AND _r[2] <> '' AND len(_s) = {4 if combined else 3} AND _s[1] = '' "
        f"AND strlen(_s[2]) = 3 AND TRY_CAST(_s[2] AS SMALLINT) IS NOT NULL "
        f"AND (TRY_CAST(_s[3] AS BIGINT) IS NOT NULL OR rtrim(_s[3], chr(10) || chr(13)) = '-')"
        + (" AND _p[5] = ' '" if combined else "")
    )
    rt = "(TRY_CAST({} AS DOUBLE) * 1000.0)::VARCHAR"
    fields = {  # canonical column -> (split expression, regex expression)
        "client": ("_a[1]", "_m.client"),
        "ts": ("substr(_a[4], 2) || ' ' || left(_a[5], -1)", "_m.ts"),
        "method": ("_r[1]", "_m.method"),
        "path": ("_r[2]", "_m.path"),
        "status": ("_s[2]", "_m.status"),
        "bytes_out": ("nullif(rtrim(_s[3], chr(10) || chr(13)), '-')", "nullif(_m.bytes, '-')"),
    }
    if combined:
        fields["latency_ms"] = (rt.format("nullif(trim(_p[7], ' ' || chr(10) || chr(13)), '')"),
                                rt.format("nullif(_m.rt, '')"))

    def cols() -> str:
        return ", ".join(
            f"nullif(CASE WHEN _ok THEN {fields[c][0]} ELSE {fields[c][1]} END, '') AS {c}" if c in fields
            else f"NULL::VARCHAR AS {c}" for c in CANONICAL)

    name_list = "[" + ", ".join(sql_str(n) for n in names) + "]"

    def select(rel: str) -> str:
        return f"""
        SELECT line_no, line,
               CASE WHEN NOT _ok AND _m.ts = '' THEN {sql_str('line does not match ' + what)} END AS parse_error,
               {cols()}
        FROM (
            SELECT *, CASE WHEN NOT _ok THEN regexp_extract(line, {sql_str(rx_sql)}, {name_list}) END AS _m
            FROM (
                SELECT line_no, line, _p, _a, _r, _s, coalesce({shape}, false) AS _ok
                FROM (SELECT line_no, line, _p, string_split(_p[1], ' ') AS _a, string_split(_p[2], ' ') AS _r,
                             string_split(_p[3], ' ') AS _s
                      FROM (SELECT line_no, line, string_split(line, '"') AS _p FROM {rel}))
            )
        )
        """

    return select


COMMON = register(LogFormat(
    name="clf",
    description="Common Log Format (Apache/nginx 'common'; NASA-style logs)",
    select_sql=split_select(combined=False),
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
    select_sql=split_select(combined=True),
    detect=lambda lines: regex_share(lines, COMBINED_RE),
    ts_sql=ts_clf,
    api_type="web",
    examples=(
        '203.0.113.5 - frank [22/Nov/2026:05:00:01 +0000] "GET /api/orders/8812?x=1 HTTP/1.1" 200 2326 '
        '"https://example.com/start" "Mozilla/5.0 (X11; Linux x86_64)"',
        '203.0.113.6 - - [22/Nov/2026:05:00:02 +0000] "POST /api/orders HTTP/1.1" 201 87 "-" "curl/8.4.0" 0.042',
    ),
))
