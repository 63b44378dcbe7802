"""Per-route, per-minute rollups (``traffic_1m``), kept in step with ``requests``.

Rollups are folded in once per source, inside the source's transaction, so a source's minutes
are aggregated exactly. When a later source adds to a minute that already exists, counts and
sums add exactly and the latency percentiles become the latency-count-weighted mean of the two
(an approximation that only touches minutes shared by two sources).
"""

from __future__ import annotations

import duckdb

from ..store.db import one, run

_MERGE = """
ON CONFLICT (api, stage, route, region, ts) DO UPDATE SET
    requests = requests + EXCLUDED.requests,
    status_4xx = status_4xx + EXCLUDED.status_4xx,
    status_5xx = status_5xx + EXCLUDED.status_5xx,
    bytes_out = bytes_out + EXCLUDED.bytes_out,
    latency_p50_ms = _wmean(latency_p50_ms, latency_n, EXCLUDED.latency_p50_ms, EXCLUDED.latency_n),
    latency_p95_ms = _wmean(latency_p95_ms, latency_n, EXCLUDED.latency_p95_ms, EXCLUDED.latency_n),
    latency_p99_ms = greatest(latency_p99_ms, EXCLUDED.latency_p99_ms),
    latency_n = latency_n + EXCLUDED.latency_n,
    latency_ms_sum = latency_ms_sum + EXCLUDED.latency_ms_sum,
    integration_n = integration_n + EXCLUDED.integration_n,
    integration_ms_sum = integration_ms_sum + EXCLUDED.integration_ms_sum,
    billed_ms_sum = billed_ms_sum + EXCLUDED.billed_ms_sum
"""


def _ensure_macros(con: duckdb.DuckDBPyConnection) -> None:
    run(con, """
        CREATE OR REPLACE TEMP MACRO _wmean(a, na, b, nb) AS
        CASE WHEN a IS NULL THEN b WHEN b IS NULL THEN a ELSE (a * na + b * nb) / nullif(na + nb, 0) END
    """)


def fold_source(con: duckdb.DuckDBPyConnection, source_id: int) -> int:
    """Add the requests of one source to ``traffic_1m``; returns how many requests were folded."""
    _ensure_macros(con)
    n = one(con, "SELECT count(*) FROM requests WHERE source_id = ?", [source_id])[0]
    if not n:
        return 0
    run(con, f"""
        INSERT INTO traffic_1m
        SELECT date_trunc('minute', ts) AS ts, api, stage, route, region, any_value(api_type),
               count(*), count(*) FILTER (WHERE status BETWEEN 400 AND 499),
               count(*) FILTER (WHERE status >= 500), coalesce(sum(bytes_out), 0)::BIGINT,
               count(latency_ms), coalesce(sum(latency_ms), 0),
               quantile_cont(latency_ms, 0.5), quantile_cont(latency_ms, 0.95), quantile_cont(latency_ms, 0.99),
               count(integration_latency_ms), coalesce(sum(integration_latency_ms), 0),
               coalesce(sum(ceil(integration_latency_ms)), 0)
        FROM requests WHERE source_id = ?
        GROUP BY ALL
        {_MERGE}
    """, [source_id])
    return n


def fold_counts(con: duckdb.DuckDBPyConnection, rel: str) -> int:
    """Add pre-aggregated count rows (``requests`` weight each) to ``traffic_1m``, as that many log lines would."""
    _ensure_macros(con)
    n = one(con, f"SELECT coalesce(sum(requests), 0) FROM {rel}")[0]
    run(con, f"""
        INSERT INTO traffic_1m
        SELECT date_trunc('minute', ts) AS ts, api, stage, route, region, any_value(api_type),
               sum(requests)::BIGINT,
               coalesce(sum(requests) FILTER (WHERE status BETWEEN 400 AND 499), 0)::BIGINT,
               coalesce(sum(requests) FILTER (WHERE status >= 500), 0)::BIGINT,
               coalesce(sum(bytes_out), 0)::BIGINT,
               0, 0, NULL, NULL, NULL, 0, 0, 0
        FROM {rel}
        GROUP BY ALL
        {_MERGE}
    """)
    return int(n)
