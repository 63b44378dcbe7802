"""From a format's raw text columns to typed ``requests`` rows, with every problem named.

One SQL query for all formats: it types each field, derives the route, fills defaults and
builds ``reason`` — every problem of the line joined by '; ' (NULL when the row is good).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ..config import Settings

from .formats.base import LogFormat, sql_str
from .routes import RouteTemplate, clean_path_sql, heuristic_sql, mapped_sql

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


# Values that parse but cannot be true: each bound is named in the reject's reason.
MAX_LATENCY_MS = 86_400_000.0          # a day
MAX_REQUESTS_PER_ROW = 10**12          # a counts row; sums of many stay far inside BIGINT
MAX_BYTES_OUT = 10**15                 # a petabyte in one response
MAX_OFFSET_MINUTES = 14 * 60           # UTC offsets run from -12:00 to +14:00

# The UTC offset written at the end of a timestamp text ('... -0700', '...T05:00:00+05:30'), in minutes.
_OFFSET = (r"CASE WHEN contains({ts}, ':') AND regexp_matches({ts}, '[+-][0-9]{{2}}:?[0-9]{{2}}$') THEN "
           r"TRY_CAST(regexp_extract({ts}, '([0-9]{{2}}):?[0-9]{{2}}$', 1) AS INTEGER) * 60 "
           r"+ TRY_CAST(regexp_extract({ts}, '([0-9]{{2}})$', 1) AS INTEGER) END")
# Offsets that are surely within ±14:00 (or no offset at all), told by plain string comparisons:
# the regexes of _OFFSET then run only for the rest. '+HHMM' between '+0000' and '+1359' as text
# means HH <= 13 (and MM <= 59 when HH = 13), so at most 13:59; likewise '+HH:MM', and for '-'.
_OFFSET_SURELY_SANE = ("(NOT contains({ts}, ':') OR NOT (right({ts}, 1) BETWEEN '0' AND '9') "
                       "OR right({ts}, 5) BETWEEN '+0000' AND '+1359' OR right({ts}, 5) BETWEEN '-0000' AND '-1359' "
                       "OR right({ts}, 6) BETWEEN '+00:00' AND '+13:59' OR right({ts}, 6) BETWEEN '-00:00' AND '-13:59')")


@dataclass(frozen=True)
class NormalizeContext:
    source_id: int
    default_region: str
    route_templates: tuple[RouteTemplate, ...] = ()
    default_api: str = "default"
    default_stage: str = "default"
    # Lines without a logged id are keyed by their content (its hash and which occurrence of that
    # exact line it is in the stream) instead of source + line number: for stdin, which has no
    # identity, so the same lines piped twice (or overlapping windows of a log) count once.
    content_ids: bool = False
    # Timestamps outside [ts_min, ts_max] are rejected (a window ending a day after now).
    ts_min: str = "1970-01-01 00:00:00"
    ts_max: str = "9999-12-31 00:00:00"
    # Many small sources parsed as one (:mod:`.batch`): ``line_no`` carries the source id in its
    # high 32 bits (``source_id << 32 | line_no``), so the ids made from it are the same per source.
    packed_ids: bool = False


def load_context(settings: Settings, templates: tuple[RouteTemplate, ...], source_id: int = 0,
                 content_ids: bool = False, packed_ids: bool = False, now: dt.datetime | None = None) -> NormalizeContext:
    """The context of one load: its timestamp window ends ``ingest_ts_future_days`` after ``now``."""
    now = now or dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    return NormalizeContext(source_id=source_id, default_region=settings.default_region, route_templates=templates,
                            content_ids=content_ids, packed_ids=packed_ids,
                            ts_min=str(now - dt.timedelta(days=settings.ingest_ts_window_days))[:19],
                            ts_max=str(now + dt.timedelta(days=settings.ingest_ts_future_days))[:19])


LINE_MASK = (1 << 32) - 1                   # packed_ids: the line number's bits

OCCURRENCES_TABLE = "_ingest_occurrences"   # content hash -> times seen in the chunks before (content_ids)


def normalized_sql(fmt: LogFormat, lines_rel: str, ctx: NormalizeContext, with_line: bool = True) -> str:
    """SELECT producing line_no, line, reason and the typed requests columns (+ ``requests`` weight, and
    ``_mine``: the route is a path key the heuristics made, which mined templates may group).

    Layered so every expression is computed once: raw text -> typed values -> route -> reason.
    The reason is built only for rows that fail the cheap all-good test (most rows are good).
    ``with_line=False`` leaves the raw line out (the loader takes a reject's text from its chunk,
    so the text of the good lines is never copied).
    """
    raw = fmt.select_sql(lines_rel)
    typed = ", ".join(f"TRY_CAST({c} AS {t}) AS _t_{c}" for c, (t, _) in _TYPED.items())
    # The route a route map gives (NULL when none matches), else the heuristic template: only
    # the latter is a path key that mined templates may group further (``_mine``).
    mapped = mapped_sql("_method", "_path", list(ctx.route_templates))
    derived = f"coalesce(_mapped, _method || ' ' || {heuristic_sql('_path')})"
    # A logged template: 'GET /pets/{id}' as is; a bare '/pets/{id}' gets the method in front.
    # (So the path is only cleaned, further in, for rows without a logged template.)
    route = (
        "CASE WHEN route IS NOT NULL AND route LIKE '/%' AND _method IS NOT NULL THEN _method || ' ' || route "
        "WHEN route IS NOT NULL THEN route "
        f"WHEN _path IS NOT NULL AND _method IS NOT NULL THEN {derived} END"
    )
    window = f"_ts BETWEEN TIMESTAMP '{ctx.ts_min}' AND TIMESTAMP '{ctx.ts_max}'"
    offset = _OFFSET.format(ts="ts")
    sane = [
        f"(_t_{c} IS NULL OR (isfinite(_t_{c}) AND _t_{c} <= {MAX_LATENCY_MS}))" for c in ("latency_ms", "integration_latency_ms")
    ] + [f"(_t_requests IS NULL OR _t_requests <= {MAX_REQUESTS_PER_ROW})",
         f"(_t_bytes_out IS NULL OR _t_bytes_out <= {MAX_BYTES_OUT})"]
    good = " AND ".join(
        ["parse_error IS NULL", "_ts IS NOT NULL", window,
         f"({_OFFSET_SURELY_SANE.format(ts='ts')} OR coalesce({offset}, 0) <= {MAX_OFFSET_MINUTES})",
         "_route IS NOT NULL", *sane,
         "(_t_status IS NULL OR _t_status BETWEEN 100 AND 599)", "(_t_requests IS NULL OR _t_requests >= 0)"]
        + [f"({c} IS NULL OR _t_{c} IS NOT NULL)" for c in _TYPED]
        + [f"(_t_{c} IS NULL OR _t_{c} >= 0)" for c in _NON_NEGATIVE]
    )
    problems = [
        "parse_error",
        "CASE WHEN parse_error IS NULL AND ts IS NULL THEN 'missing timestamp' END",
        "CASE WHEN parse_error IS NULL AND ts IS NOT NULL AND _ts IS NULL THEN 'bad timestamp: ' || left(ts, 40) END",
        f"CASE WHEN parse_error IS NULL AND {offset} > {MAX_OFFSET_MINUTES} "
        "THEN 'timestamp: UTC offset beyond ±14:00 in ' || left(ts, 40) END",
        f"CASE WHEN parse_error IS NULL AND _ts IS NOT NULL AND NOT ({window}) "
        f"THEN 'timestamp: expected {ctx.ts_min[:10]} .. {ctx.ts_max[:16]} (ingest_ts_window_days, "
        "ingest_ts_future_days), got ' || left(ts, 40) END",
        "CASE WHEN parse_error IS NULL AND _route IS NULL THEN 'missing route (no route key, method or path)' END",
        "CASE WHEN parse_error IS NULL AND (_t_status < 100 OR _t_status > 599) "
        "THEN 'status: expected 100-599, got ' || _t_status END",
        "CASE WHEN parse_error IS NULL AND _t_requests < 0 THEN 'requests: expected a count >= 0, got ' || requests END",
    ] + [
        f"CASE WHEN parse_error IS NULL AND _t_{c} < 0 THEN '{c}: expected {what} >= 0, got ' || {c} END"
        for c, what in _NON_NEGATIVE.items()
    ] + [
        f"CASE WHEN parse_error IS NULL AND _t_{c} >= 0 AND NOT (isfinite(_t_{c}) AND _t_{c} <= {MAX_LATENCY_MS}) "
        f"THEN '{c}: expected a finite latency <= {MAX_LATENCY_MS:.0f} ms (a day), got ' || left({c}, 40) END"
        for c in ("latency_ms", "integration_latency_ms")
    ] + [
        f"CASE WHEN parse_error IS NULL AND _t_requests > {MAX_REQUESTS_PER_ROW} "
        f"THEN 'requests: expected a count <= {MAX_REQUESTS_PER_ROW}, got ' || requests END",
        f"CASE WHEN parse_error IS NULL AND _t_bytes_out > {MAX_BYTES_OUT} "
        f"THEN 'bytes_out: expected a byte count <= {MAX_BYTES_OUT}, got ' || bytes_out END",
    ] + [
        f"CASE WHEN parse_error IS NULL AND {c} IS NOT NULL AND _t_{c} IS NULL "
        f"THEN '{c}: expected {w}, got ' || left({c}, 40) END"
        for c, (t, w) in _TYPED.items()
    ]
    reason = f"CASE WHEN {good} THEN NULL ELSE nullif(concat_ws('; ', {', '.join(problems)}), '') END"
    return f"""
    SELECT line_no, {'line, ' if with_line else ''}{reason} AS reason,
           _ts AS ts,
           {_no_sep(f"coalesce(api, {sql_str(ctx.default_api)})")} AS api,
           coalesce(lower(api_type), {sql_str(fmt.api_type)}) AS api_type,
           {_no_sep(f"coalesce(stage, {sql_str(ctx.default_stage)})")} AS stage,
           {_no_sep("_route")} AS route,
           _method AS method,
           _t_status AS status,
           _t_latency_ms AS latency_ms,
           _t_integration_latency_ms AS integration_latency_ms,
           _t_bytes_out AS bytes_out,
           {_no_sep(f"coalesce(region, {sql_str(ctx.default_region)})")} AS region,
           client,
           {_request_id(ctx)} AS request_id,
           {'TRUE' if ctx.content_ids else 'request_id IS NOT NULL'} AS id_logged,
           {'_content_hash' if ctx.content_ids else 'NULL::VARCHAR'} AS _content_hash,
           coalesce(_t_requests, 1) AS requests,
           (route IS NULL AND _mapped IS NULL AND _route IS NOT NULL) AS _mine
    FROM (SELECT *, {route} AS _route
          FROM (SELECT *, {mapped} AS _mapped
                FROM (SELECT *, {fmt.ts_sql("ts")} AS _ts, {typed}, upper(trim(method)) AS _method,
                             {"md5(rtrim(line, chr(13) || chr(10))) AS _content_hash," if ctx.content_ids else ""}
                             CASE WHEN route IS NULL THEN {clean_path_sql("path")} END AS _path
                      FROM ({raw}))))
    """


def _request_id(ctx: NormalizeContext) -> str:
    if ctx.packed_ids:
        return f"coalesce(request_id, (line_no >> 32)::VARCHAR || ':' || (line_no & {LINE_MASK}))"
    if not ctx.content_ids:
        return f"coalesce(request_id, '{ctx.source_id}:' || line_no)"
    seen = f"coalesce((SELECT o.n FROM {OCCURRENCES_TABLE} o WHERE o.h = _content_hash), 0)"
    return (f"coalesce(request_id, 'line:' || _content_hash || ':' || "
            f"({seen} + row_number() OVER (PARTITION BY _content_hash ORDER BY line_no)))")


def _no_sep(expr: str) -> str:
    """``expr`` with '|' percent-encoded: series and budget keys join api, stage, route and region
    with '|', so a name holding one would make two keys collide ('a' + 'b|c' and 'a|b' + 'c')."""
    return f"replace({expr}, '|', '%7C')"
