"""Pre-aggregated request counts: CSV with a header, or JSON lines.

Columns (header names; any order): ``timestamp`` (alias ``ts``, ``time``), ``route``,
``requests`` (alias ``count``) — required — and optionally ``api``, ``api_type``, ``stage``,
``region``, ``bytes_out``, ``status``. JSON lines use the same names as keys. Timestamps are
ISO 8601 or epoch seconds/ms. Each row stands for ``requests`` requests and is added to the
rollups as such (``aggregated=True``); rows never go to ``requests``.

CSV is split in SQL (quoted fields with commas and doubled quotes work). The header line is
recognised (every field a known column name, one of them a timestamp name) and left out of the
format's output: it is neither a row nor a reject (the loader counts lines a format leaves out
as blank). The format is declared ``header=True``: the loader hands the source's first line (as line 0)
to every later chunk, so a big file keeps its column order; a CSV without a header is read in
:data:`DEFAULT_ORDER`.
"""

from __future__ import annotations

import csv

from .base import LogFormat, register, sql_str, ts_any
from .detect import json_share

DEFAULT_ORDER = ("timestamp", "route", "requests", "api", "api_type", "stage", "region", "bytes_out", "status")
ALIASES = {"ts": "timestamp", "time": "timestamp", "count": "requests"}
KNOWN_NAMES = DEFAULT_ORDER + tuple(ALIASES)
API_TYPES = ("rest", "http", "websocket", "web", "alb", "kong", "envoy")

# canonical column -> our column name in the file
_COLUMNS = {"ts": "timestamp", "route": "route", "requests": "requests", "api": "api", "api_type": "api_type",
            "stage": "stage", "region": "region", "bytes_out": "bytes_out", "status": "status"}
_JSON_KEYS = {"timestamp": ("timestamp", "ts", "time"), "requests": ("requests", "count")}


def _list(xs) -> str:
    return "[" + ", ".join(sql_str(x) for x in xs) + "]"


def _select(rel: str) -> str:
    canon = ("CASE " + " ".join(f"WHEN lower(x) = {sql_str(a)} THEN {sql_str(c)}" for a, c in ALIASES.items())
             + " ELSE lower(x) END")
    json_paths = sorted({k for c in _COLUMNS.values() for k in _JSON_KEYS.get(c, (c,))})
    jidx = {k: i + 1 for i, k in enumerate(json_paths)}

    def jcol(name: str) -> str:
        cands = [f"nullif(_j[{jidx[k]}], '')" for k in _JSON_KEYS.get(name, (name,))]
        return f"coalesce({', '.join(cands)})" if len(cands) > 1 else cands[0]

    def col(c: str) -> str:
        name = _COLUMNS[c]
        csv_v = f"nullif(nullif(_f[list_position(_hdr, {sql_str(name)})], ''), '-')"
        return f"CASE WHEN _is_json THEN {jcol(name)} ELSE {csv_v} END AS {c}"

    cols = []
    for c in ("ts", "api", "api_type", "stage", "route", "method", "path", "status", "latency_ms",
              "integration_latency_ms", "bytes_out", "region", "client", "request_id", "requests"):
        cols.append(col(c) if c in _COLUMNS else f"NULL::VARCHAR AS {c}")
    path_list = _list("$." + f'"{k}"' for k in json_paths)
    return f"""
    WITH _s AS (
        SELECT line_no, line, _t, _is_json, _f,
               NOT _is_json AND list_has_any(list_transform(_f, lambda x: lower(x)), ['timestamp', 'ts', 'time'])
                   AND len(list_filter(_f, lambda x: NOT list_contains({_list(KNOWN_NAMES)}, lower(x)))) = 0 AS _is_header,
               CASE WHEN _is_json THEN TRY(json_extract_string(_t, {path_list})) END AS _j
        FROM (
            SELECT line_no, line, _t, starts_with(ltrim(_t), '{{') OR starts_with(ltrim(_t), '[') AS _is_json,
                   list_transform(regexp_extract_all(',' || _t, ',("(?:[^"]|"")*"|[^,]*)', 1),
                                  lambda x: CASE WHEN trim(x) LIKE '"%"' AND length(trim(x)) >= 2
                                            THEN replace(trim(x)[2:-2], '""', '"') ELSE trim(x) END) AS _f
            FROM (SELECT line_no, line, regexp_replace(line, '\\r?\\n$', '') AS _t FROM {rel})
        )
    ),
    _h AS (
        SELECT coalesce(
            (SELECT list_transform(_f, lambda x: {canon})
             FROM _s WHERE _is_header ORDER BY line_no LIMIT 1),
            {_list(DEFAULT_ORDER)}) AS _hdr
    )
    SELECT line_no, line,
           CASE WHEN _is_json AND _j IS NULL THEN 'malformed JSON'
                WHEN _is_json AND TRY(json_type(_t)) <> 'OBJECT'
                THEN 'JSON value is not an object (' || lower(json_type(_t)) || ')'
                WHEN NOT _is_json AND len(_f) > len(_hdr)
                THEN 'CSV row has ' || len(_f) || ' fields, the header ' || len(_hdr)
                WHEN requests IS NULL THEN 'missing requests count'
                WHEN api_type IS NOT NULL AND NOT list_contains({_list(API_TYPES)}, lower(api_type))
                THEN 'api_type: expected one of {", ".join(API_TYPES)}, got ' || left(api_type, 40)
           END AS parse_error,
           * EXCLUDE (line_no, line, _t, _is_json, _f, _j, _hdr, _is_header)
    FROM (SELECT _s.*, _h._hdr, {', '.join(cols)} FROM _s, _h WHERE NOT _is_header)
    """


def _detect(lines: list[str]) -> float:
    if not lines:
        return 0.0
    if lines[0].lstrip().startswith("{"):
        return json_share(lines, (("timestamp", "ts", "time"), ("route",), ("requests", "count")))
    try:
        header = [h.strip().lower() for h in next(csv.reader([lines[0]]))]
    except (csv.Error, StopIteration):
        return 0.0
    names = {ALIASES.get(h, h) for h in header}
    if header and all(h in KNOWN_NAMES for h in header) and {"timestamp", "route", "requests"} <= names:
        return 0.95
    return 0.0


COUNTS = register(LogFormat(
    name="counts",
    description="pre-aggregated request counts: CSV with a header (timestamp,route,requests,...) or JSON lines",
    header=True,
    select_sql=_select,
    detect=_detect,
    ts_sql=ts_any,
    api_type="rest",
    aggregated=True,
    examples=(
        "timestamp,route,requests,api,api_type,stage,region,bytes_out,status",
        '2026-11-22T05:00:00Z,GET /pets/{id},1840,petstore,rest,prod,eu-west-1,942080,200',
        '2026-11-22T05:01:00Z,"GET /maps/{lat},{lng}",12,petstore,rest,prod,eu-west-1,,',
        '{"timestamp": 1795323660, "route": "POST /orders", "requests": 97, "api": "shop", "api_type": "http"}',
    ),
))
