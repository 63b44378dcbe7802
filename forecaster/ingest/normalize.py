"""From a format's raw text columns to typed ``requests`` rows, with every problem named.

One SQL query for all formats: it types each field, derives the route, fills defaults and
builds ``reason`` — every problem of the line joined by '; ' (NULL when the row is good).
"""

from __future__ import annotations

from dataclasses import dataclass

from .formats.base import LogFormat, sql_str
from .routes import RouteTemplate, route_sql

# text -> typed; each with the type named in the reason when the cast fails
_TYPED = {
    "status": ("SMALLINT", "an integer HTTP status"),
    "latency_ms": ("DOUBLE", "a number of milliseconds"),
    "integration_latency_ms": ("DOUBLE", "a number of milliseconds"),
    "bytes_out": ("BIGINT", "an integer byte count"),
    "requests": ("BIGINT", "an integer request count"),
}

# numbers that cannot be negative (ALB's '-1 = no value' is mapped to NULL by its format)
_NON_NEGATIVE = {
    "latency_ms": "a latency in ms",
    "integration_latency_ms": "a latency in ms",
    "bytes_out": "a byte count",
}


@dataclass(frozen=True)
class NormalizeContext:
    source_id: int
    default_region: str
    route_templates: tuple[RouteTemplate, ...] = ()
    default_api: str = "default"
    default_stage: str = "default"


def _bad(col: str, typ: str, what: str) -> str:
    return (
        f"CASE WHEN {col} IS NOT NULL AND TRY_CAST({col} AS {typ}) IS NULL "
        f"THEN '{col}: expected {what}, got ' || left({col}, 40) END"
    )


def normalized_sql(fmt: LogFormat, lines_rel: str, ctx: NormalizeContext) -> str:
    """SELECT producing line_no, line, reason and the typed requests columns (+ ``requests`` weight)."""
    raw = fmt.select_sql(lines_rel)
    ts = fmt.ts_sql("ts")
    method = "upper(trim(method))"
    clean_path = "regexp_replace(path, '^[a-zA-Z][a-zA-Z0-9+.-]*://[^/]*', '')"
    derived = route_sql(method, clean_path, list(ctx.route_templates))
    # A logged template: 'GET /pets/{id}' as is; a bare '/pets/{id}' gets the method in front.
    route = (
        f"CASE WHEN route IS NOT NULL AND route LIKE '/%' AND method IS NOT NULL THEN {method} || ' ' || route "
        f"WHEN route IS NOT NULL THEN route "
        f"WHEN path IS NOT NULL AND method IS NOT NULL THEN {derived} END"
    )
    problems = [
        "parse_error",
        f"CASE WHEN parse_error IS NULL AND ts IS NULL THEN 'missing timestamp' END",
        f"CASE WHEN parse_error IS NULL AND ts IS NOT NULL AND _ts IS NULL THEN 'bad timestamp: ' || left(ts, 40) END",
        f"CASE WHEN parse_error IS NULL AND _route IS NULL THEN 'missing route (no route key, method or path)' END",
        "CASE WHEN parse_error IS NULL AND _status IS NOT NULL AND (_status < 100 OR _status > 599) "
        "THEN 'status: expected 100-599, got ' || _status END",
        "CASE WHEN parse_error IS NULL AND requests IS NOT NULL AND TRY_CAST(requests AS BIGINT) < 0 "
        "THEN 'requests: expected a count >= 0, got ' || requests END",
    ] + [
        f"CASE WHEN parse_error IS NULL AND TRY_CAST({c} AS DOUBLE) < 0 THEN '{c}: expected {what} >= 0, got ' || {c} END"
        for c, what in _NON_NEGATIVE.items()
    ] + [f"CASE WHEN parse_error IS NULL THEN {_bad(c, t, w)} END" for c, (t, w) in _TYPED.items()]
    reason = f"nullif(concat_ws('; ', {', '.join(problems)}), '')"
    default_type = fmt.api_type
    return f"""
    SELECT line_no, line, {reason} AS reason,
           _ts AS ts,
           coalesce(api, {sql_str(ctx.default_api)}) AS api,
           coalesce(lower(api_type), {sql_str(default_type)}) AS api_type,
           coalesce(stage, {sql_str(ctx.default_stage)}) AS stage,
           _route AS route,
           {method} AS method,
           _status AS status,
           TRY_CAST(latency_ms AS DOUBLE) AS latency_ms,
           TRY_CAST(integration_latency_ms AS DOUBLE) AS integration_latency_ms,
           TRY_CAST(bytes_out AS BIGINT) AS bytes_out,
           coalesce(region, {sql_str(ctx.default_region)}) AS region,
           client,
           coalesce(request_id, '{ctx.source_id}:' || line_no) AS request_id,
           coalesce(TRY_CAST(requests AS BIGINT), 1) AS requests
    FROM (SELECT *, {ts} AS _ts, {route} AS _route, TRY_CAST(status AS SMALLINT) AS _status FROM ({raw}))
    """
