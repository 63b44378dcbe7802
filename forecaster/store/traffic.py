"""Repository of ``traffic_1m`` (written by ingest's rollups): the reads later stages make."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pandas as pd
import pyarrow as pa

from .db import Connection, arrow, many, one, records, run

HOURLY_COLUMNS = ["ts", "api", "stage", "route", "region", "api_type", "requests", "bytes_out",
                  "integration_n", "billed_ms_sum"]


@dataclasses.dataclass(frozen=True)
class Totals:
    routes: int
    requests: int
    first: dt.datetime | None
    last: dt.datetime | None


def last_minute(con: Connection) -> dt.datetime | None:
    """The start of the newest minute in the rollups (None when empty)."""
    row = one(con, "SELECT max(ts) FROM traffic_1m")
    return row[0] if row else None


def grid_fit(con: Connection, widths_s: list[int], before: dt.datetime | None = None) -> tuple[int, list[bool]]:
    """How many distinct minutes ``traffic_1m`` holds (before ``before``), and for each width (in
    seconds) whether every one of them falls on that width's grid."""
    checks = ", ".join(f"bool_and(epoch(ts)::BIGINT % {int(w)} = 0)" for w in widths_s)
    row = one(con, f"SELECT count(*), {checks} FROM (SELECT DISTINCT ts FROM traffic_1m WHERE ? IS NULL OR ts < ?)",
              [before, before])
    if row is None:
        return 0, [False] * len(widths_s)
    return int(row[0]), [bool(x) for x in row[1:]]


def span(con: Connection, before: dt.datetime | None = None) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(first minute, last minute) in the rollups, only minutes before ``before`` when given."""
    if before is not None:
        row = one(con, "SELECT min(ts), max(ts) FROM traffic_1m WHERE ts < ?", [before])
    else:
        row = one(con, "SELECT min(ts), max(ts) FROM traffic_1m")
    return (row[0], row[1]) if row else (None, None)


def hourly(con: Connection, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """Hourly sums per route in [start, end) (columns :data:`HOURLY_COLUMNS`, sorted)."""
    rows = run(con, """
        SELECT date_trunc('hour', ts) AS ts, api, stage, route, region, any_value(api_type) AS api_type,
               sum(requests)::BIGINT, sum(bytes_out)::BIGINT, sum(integration_n)::BIGINT, sum(billed_ms_sum)
        FROM traffic_1m WHERE ts >= ? AND ts < ?
        GROUP BY ALL ORDER BY ts, api, stage, route, region
    """, [start, end])
    return pd.DataFrame(rows, columns=HOURLY_COLUMNS)


def route_keys(con: Connection, before: dt.datetime, since: dt.datetime | None = None) -> list[tuple[str, str, str, str]]:
    """Distinct (api, stage, route, region) with traffic in [since, before)."""
    sql = "SELECT DISTINCT api, stage, route, region FROM traffic_1m WHERE ts < ?"
    params: list[Any] = [before]
    if since is not None:
        sql += " AND ts >= ?"
        params.append(since)
    return [tuple(r) for r in run(con, sql, params)]


_SERIES_SQL = """
WITH src AS (
    SELECT time_bucket(INTERVAL '{secs} seconds', ts) AS ds, api, stage, route, region, sum(requests) AS y
    FROM traffic_1m
    WHERE ts < ? {since}
    GROUP BY ALL
),
active AS (SELECT DISTINCT ds FROM src),
bounds AS (SELECT min(ds) AS lo FROM src),
grid AS (
    SELECT unnest(generate_series(lo, ?::TIMESTAMP - INTERVAL '{secs} seconds', INTERVAL '{secs} seconds')) AS ds
    FROM bounds WHERE lo IS NOT NULL
),
keys AS (SELECT api, stage, route, region, min(ds) AS first_ds FROM src GROUP BY ALL),
filled AS (
    SELECT k.api, k.stage, k.route, k.region, g.ds,
           CASE WHEN a.ds IS NULL THEN NULL ELSE coalesce(s.y, 0) END::DOUBLE AS y
    FROM keys k JOIN grid g ON g.ds >= k.first_ds
    LEFT JOIN active a ON a.ds = g.ds
    LEFT JOIN src s ON s.ds = g.ds AND s.api = k.api AND s.stage = k.stage AND s.route = k.route AND s.region = k.region
),
routes AS (
    SELECT 'route:' || api || '|' || stage || '|' || route || '|' || region AS series, ds, y FROM filled
),
agg_src AS (
    SELECT CASE
             WHEN grouping(api) = 0 AND grouping(stage) = 0 THEN 'stage:' || api || '|' || stage
             WHEN grouping(api) = 0 THEN 'api:' || api
             WHEN grouping(region) = 0 THEN 'region:' || region
             ELSE 'total' END AS series,
           ds, sum(y) AS y
    FROM src
    GROUP BY GROUPING SETS ((ds, api), (ds, api, stage), (ds, region), (ds))
),
agg_keys AS (SELECT series, min(ds) AS first_ds FROM agg_src GROUP BY series),
aggs AS (
    SELECT k.series, g.ds, CASE WHEN a.ds IS NULL THEN NULL ELSE coalesce(x.y, 0) END::DOUBLE AS y
    FROM agg_keys k JOIN grid g ON g.ds >= k.first_ds
    LEFT JOIN active a ON a.ds = g.ds
    LEFT JOIN agg_src x ON x.series = k.series AND x.ds = g.ds
)
SELECT series, ds, y FROM routes {route_filter}
UNION ALL
SELECT series, ds, y FROM aggs {agg_filter}
"""


def series_table(con: Connection, step_seconds: int, cutoff: dt.datetime, since: dt.datetime | None = None,
                 wanted: list[str] | None = None) -> pa.Table:
    """Every series (routes and aggregates) at ``step_seconds`` buckets before ``cutoff`` (from
    ``since``), as Arrow (series, ds, y; any order), gaps as ``forecast.series`` describes; only
    the series ids in ``wanted`` when given."""
    params: list[Any] = [cutoff]
    if since is not None:
        params.append(since)
    params.append(cutoff)
    route_filter = agg_filter = ""
    if wanted is not None:
        run(con, "CREATE OR REPLACE TEMP TABLE _series_wanted (series VARCHAR)")
        many(con, "INSERT INTO _series_wanted (series) VALUES (?)", [[w] for w in wanted])
        route_filter = agg_filter = "WHERE series IN (SELECT series FROM _series_wanted)"
    sql = _SERIES_SQL.format(secs=int(step_seconds), since="AND ts >= ?" if since is not None else "",
                             route_filter=route_filter, agg_filter=agg_filter)
    return arrow(con, sql, params)


def busiest_routes(con: Connection, limit: int = 8) -> list[dict[str, Any]]:
    """The routes with the most requests: dicts of api, route, region, requests, pct_5xx, p95_ms."""
    return records(con, f"""
        SELECT api, route, region, sum(requests) AS requests,
               round(100.0 * sum(status_5xx) / sum(requests), 2) AS pct_5xx,
               round(sum(latency_p95_ms * latency_n) / nullif(sum(latency_n), 0), 1) AS p95_ms
        FROM traffic_1m GROUP BY ALL ORDER BY requests DESC LIMIT {int(limit)}
    """)


def totals(con: Connection) -> Totals:
    """How many routes and requests the rollups hold, and the first and last minute."""
    r = records(con, "SELECT count(DISTINCT (api, stage, route, region)) AS routes, "
                     "coalesce(sum(requests), 0) AS requests, min(ts) AS first, max(ts) AS last FROM traffic_1m")[0]
    return Totals(int(r["routes"]), int(r["requests"]), r["first"], r["last"])
