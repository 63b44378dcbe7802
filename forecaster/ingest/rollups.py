"""Per-route, per-minute rollups (``traffic_1m``), kept in step with ``requests``.

Rollups are folded in chunk by chunk, inside the source's transaction, from the chunk's rows
while they are in memory (nothing is re-read at the end of a source, and memory stays flat).
Counts and sums add exactly. Latency percentiles of a minute are exact when the minute's rows
all came in one chunk; the :class:`MinuteLedger` notes every minute two chunks of the source
touched (in a time-ordered log, the minute at each chunk boundary), and :func:`refold_minutes`
recomputes those from the source's stored rows at its end. So a source's minutes are
aggregated exactly, as if the whole source were folded at once.

When a later source adds to a minute that already exists, counts and sums add exactly and the
latency percentiles become the latency-count-weighted mean of the two (an approximation that
only touches minutes shared by two sources).
"""

from __future__ import annotations

import numpy as np

from ..store import sources as sources_table
from ..store.db import Connection, Relation, append_arrow, arrow, rel_numpy, rel_rows, run, scalar

_KEY = ("api", "stage", "route", "region", "ts")

# measure column -> how an existing row ``a`` and a new row ``b`` of the same key combine
_COMBINE = {
    "requests": "a.requests + b.requests",
    "status_4xx": "a.status_4xx + b.status_4xx",
    "status_5xx": "a.status_5xx + b.status_5xx",
    "bytes_out": "a.bytes_out + b.bytes_out",
    "latency_p50_ms": "_wmean(a.latency_p50_ms, a.latency_n, b.latency_p50_ms, b.latency_n)",
    "latency_p95_ms": "_wmean(a.latency_p95_ms, a.latency_n, b.latency_p95_ms, b.latency_n)",
    "latency_p99_ms": "greatest(a.latency_p99_ms, b.latency_p99_ms)",
    "latency_n": "a.latency_n + b.latency_n",
    "latency_ms_sum": "a.latency_ms_sum + b.latency_ms_sum",
    "integration_n": "a.integration_n + b.integration_n",
    "integration_ms_sum": "a.integration_ms_sum + b.integration_ms_sum",
    "billed_ms_sum": "a.billed_ms_sum + b.billed_ms_sum",
    # the busiest second: exact within one fold; a second split between two folds keeps the larger part
    "peak_rps": "greatest(a.peak_rps, b.peak_rps)",
}

# traffic_1m's columns in the order the aggregates below produce them
_COLUMNS = ("ts, api, stage, route, region, api_type, requests, status_4xx, status_5xx, bytes_out, latency_n, "
            "latency_ms_sum, latency_p50_ms, latency_p95_ms, latency_p99_ms, integration_n, integration_ms_sum, "
            "billed_ms_sum, peak_rps")

_MERGE = "ON CONFLICT (api, stage, route, region, ts) DO UPDATE SET " + ", ".join(
    f"{c} = " + e.replace("a.", "").replace("b.", "EXCLUDED.") for c, e in _COMBINE.items())

# One row per (minute, api, stage, route, region) of a relation of requests rows, in table order.
# The busiest second of each minute comes from a second aggregate (per second, then the minute's
# max) joined back: a window over the rows partitioned by second cost three times both aggregates.
_AGGREGATE = """
    SELECT m.ts, m.api, m.stage, m.route, m.region, m.api_type, m.n, m.n4, m.n5, m.bytes_out, m.lat_n, m.lat_sum,
           m.q[1], m.q[2], m.q[3], m.int_n, m.int_sum, m.billed, s.peak
    FROM (SELECT date_trunc('minute', ts) AS ts, api, stage, route, region, any_value(api_type) AS api_type,
                 count(*) AS n, count(*) FILTER (WHERE status BETWEEN 400 AND 499) AS n4,
                 count(*) FILTER (WHERE status >= 500) AS n5, coalesce(sum(bytes_out), 0)::BIGINT AS bytes_out,
                 count(latency_ms) AS lat_n, coalesce(sum(latency_ms), 0) AS lat_sum,
                 quantile_cont(latency_ms, [0.5, 0.95, 0.99]) AS q,
                 count(integration_latency_ms) AS int_n, coalesce(sum(integration_latency_ms), 0) AS int_sum,
                 coalesce(sum(ceil(integration_latency_ms)), 0) AS billed
          FROM {rel} WHERE {where}
          GROUP BY ALL) m
    JOIN (SELECT date_trunc('minute', sec) AS ts, api, stage, route, region, max(n) AS peak
          FROM (SELECT api, stage, route, region, date_trunc('second', ts) AS sec, count(*) AS n
                FROM {rel} WHERE {where} GROUP BY ALL)
          GROUP BY ALL) s
      ON m.ts = s.ts AND m.api IS NOT DISTINCT FROM s.api AND m.stage IS NOT DISTINCT FROM s.stage
         AND m.route IS NOT DISTINCT FROM s.route AND m.region IS NOT DISTINCT FROM s.region
"""

_AGGREGATE_COUNTS = """
    SELECT date_trunc('minute', ts) AS ts, api, stage, route, region, any_value(api_type),
           sum(requests)::BIGINT,
           coalesce(sum(requests) FILTER (WHERE status BETWEEN 400 AND 499), 0)::BIGINT,
           coalesce(sum(requests) FILTER (WHERE status >= 500), 0)::BIGINT,
           coalesce(sum(bytes_out), 0)::BIGINT,
           0, 0, NULL, NULL, NULL, 0, 0, 0, NULL
    FROM {rel} WHERE {where}
    GROUP BY ALL
"""


def ensure_macros(con: Connection) -> None:
    run(con, """
        CREATE OR REPLACE TEMP MACRO _wmean(a, na, b, nb) AS
        CASE WHEN a IS NULL THEN b WHEN b IS NULL THEN a ELSE (a * na + b * nb) / nullif(na + nb, 0) END
    """)


def fold_chunk(rel: Relation, where: str) -> None:
    """Add the rows of ``rel`` (requests columns, as ``_p``) that pass ``where`` to ``traffic_1m``."""
    rel_rows(rel, f"INSERT INTO traffic_1m ({_COLUMNS}) {_AGGREGATE.format(rel='_p', where=where)} {_MERGE}")


def fold_table(con: Connection, table: str, where: str) -> None:
    """:func:`fold_chunk` over a table (a batch of small sources, :mod:`.batch`), all its sources at once."""
    run(con, f"INSERT INTO traffic_1m ({_COLUMNS}) {_AGGREGATE.format(rel=table, where=where)} {_MERGE}")


def fold_counts_chunk(rel: Relation, where: str) -> int:
    """Add pre-aggregated count rows (``requests`` weight each) to ``traffic_1m``, as that many log
    lines would; returns how many requests they stand for. No percentiles, so any chunking is exact."""
    n = rel_rows(rel, f"SELECT coalesce(sum(requests), 0)::BIGINT FROM _p WHERE {where}")[0][0]
    rel_rows(rel, f"INSERT INTO traffic_1m ({_COLUMNS}) {_AGGREGATE_COUNTS.format(rel='_p', where=where)} {_MERGE}")
    return int(n)


def keep_counts(rel: Relation, where: str, source_id: int) -> None:
    """Keep a counts source's rows (``source_counts``): its only record once folded into the rollups."""
    rel_rows(rel, f"""INSERT INTO source_counts (source_id, ts, api, stage, route, region, api_type, status, bytes_out,
                                                  requests)
                        SELECT {int(source_id)}, ts, api, stage, route, region, api_type, status, bytes_out, requests
                        FROM _p WHERE {where}""")


def rebuild_keys(con: Connection, keys_table: str) -> int:
    """Recompute the ``traffic_1m`` rows of the (api, stage, route, region, minute) keys in
    ``keys_table`` (already deleted) from what the store holds: raw requests and kept count rows.
    Returns how many rollup rows came back."""
    ensure_macros(con)
    keys = "api, stage, route, region, date_trunc('minute', ts)"
    where = f"({keys}) IN (SELECT (api, stage, route, region, ts) FROM {keys_table})"
    run(con, f"INSERT INTO traffic_1m {_AGGREGATE.format(rel='requests', where=where)} {_MERGE}")
    run(con, f"INSERT INTO traffic_1m {_AGGREGATE_COUNTS.format(rel='source_counts', where=where)} {_MERGE}")
    return scalar(con, f"SELECT count(*) FROM traffic_1m WHERE (api, stage, route, region, ts) IN "
                       f"(SELECT (api, stage, route, region, ts) FROM {keys_table})")


class MinuteLedger:
    """The minutes (epoch seconds) each chunk of a source folded; those two chunks shared are split."""

    def __init__(self) -> None:
        self._seen = np.empty(0, dtype=np.int64)
        self.split: set[int] = set()

    def add(self, minutes: np.ndarray) -> None:
        minutes = np.unique(np.asarray(minutes, dtype=np.int64))
        if len(self._seen):
            i = np.searchsorted(self._seen, minutes)
            i[i == len(self._seen)] = 0
            hit = self._seen[i] == minutes
            self.split.update(minutes[hit].tolist())
            minutes = minutes[~hit]
        if len(minutes):
            self._seen = np.insert(self._seen, np.searchsorted(self._seen, minutes), minutes)


def chunk_minutes(rel: Relation, where: str) -> np.ndarray:
    """The distinct minutes (epoch seconds) of the rows of ``rel`` passing ``where``."""
    out = rel_numpy(rel, f"SELECT DISTINCT epoch(date_trunc('minute', ts))::BIGINT AS m FROM _p WHERE {where}")
    return np.asarray(out["m"], dtype=np.int64)


def refold_minutes(con: Connection, committed: Connection, source_id: int,
                   minutes: set[int]) -> None:
    """Recompute exactly the ``traffic_1m`` rows of ``minutes`` that source ``source_id`` folded in
    several chunks: its stored rows of those minutes aggregated at once, combined with what earlier
    sources had committed there (read through ``committed``, a cursor outside the transaction)."""
    if not minutes:
        return
    run(con, "CREATE OR REPLACE TEMP TABLE _refold_minutes (ts TIMESTAMP)")
    run(con, "INSERT INTO _refold_minutes SELECT make_timestamp(unnest(?::BIGINT[]) * 1000000)", [sorted(minutes)])
    run(con, "CREATE OR REPLACE TEMP TABLE _refold AS SELECT * FROM traffic_1m LIMIT 0")
    run(con, f"""INSERT INTO _refold ({_COLUMNS}) {_AGGREGATE.format(
        rel='requests', where=f"source_id = {int(source_id)} AND date_trunc('minute', ts) IN (SELECT ts FROM _refold_minutes)")}""")
    prior = arrow(committed, "SELECT * FROM traffic_1m WHERE ts IN (SELECT make_timestamp(unnest(?::BIGINT[]) * 1000000))",
                  [sorted(minutes)])
    run(con, "CREATE OR REPLACE TEMP TABLE _refold_prior AS SELECT * FROM traffic_1m LIMIT 0")
    append_arrow(con, "_refold_prior", prior)
    on = " AND ".join(f"a.{k} = b.{k}" for k in _KEY)
    merged = ", ".join(f"CASE WHEN a.ts IS NULL THEN b.{c} ELSE {e} END AS {c}" for c, e in _COMBINE.items())
    run(con, f"""
        UPDATE traffic_1m t SET {", ".join(f"{c} = m.{c}" for c in _COMBINE)}
        FROM (SELECT b.api, b.stage, b.route, b.region, b.ts, {merged}
              FROM _refold b LEFT JOIN _refold_prior a ON {on}) m
        WHERE {" AND ".join(f"t.{k} = m.{k}" for k in _KEY)}
    """)
    for t in ("_refold_minutes", "_refold", "_refold_prior"):
        run(con, f"DROP TABLE {t}")


def fold_source(con: Connection, source_id: int) -> int:
    """Add all the stored requests of one source to ``traffic_1m`` at once; returns how many were folded.

    The reference the chunked fold is tested against (and a way to rebuild a source's rollups).
    """
    ensure_macros(con)
    n = sources_table.requests_of(con, source_id)
    if n:
        run(con, f"INSERT INTO traffic_1m ({_COLUMNS}) {_AGGREGATE.format(rel='requests', where=f'source_id = {int(source_id)}')} {_MERGE}")
    return n

