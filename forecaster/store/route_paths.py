"""``route_paths`` and ``route_path_counts`` (owner: ingest.route_mining): mined route templates.

``route_paths`` maps each path key the heuristics left (api, 'GET /erddap/tabledap/sst.csv') to the
route its rows carry ('GET /erddap/tabledap/{name}.{ext}'): the mined templates, persisted.
``route_path_counts`` holds how many requests (and 404s) each source brought per path key, what
mining counts on, and what ``forget`` removes with the source.

When mining moves a stored route whole into another (a *merge*), :func:`merge_routes` moves its
rows in ``requests`` and ``source_counts`` and combines its ``traffic_1m`` rows into the new
route's, in the caller's transaction: counts and sums add exactly (totals per API never change),
latency percentiles of a minute two routes shared become their latency-count-weighted mean.
"""

from __future__ import annotations

from typing import Sequence

from . import llm
from .db import Connection, Relation, insert_lists, materialize, rel_query, rel_rows, run, scalar

_MERGES = "_route_merges"
_MOVED = "_route_moved"

# traffic_1m rows of one (new) key combined: counts add, percentiles by latency_n
_SUMS = ("requests", "status_4xx", "status_5xx", "bytes_out", "latency_n", "latency_ms_sum", "integration_n",
         "integration_ms_sum", "billed_ms_sum")
_WEIGHTED = ("latency_p50_ms", "latency_p95_ms")
_MAXED = ("latency_p99_ms", "peak_rps")


def chunk_paths(rel: Relation, where: str) -> list[tuple[str, str, int, int, str | None]]:
    """The path keys of a parsed chunk's rows passing ``where`` (its ``_mine`` rows): api, path key,
    requests, 404s, and the route ``route_paths`` holds for it (None when new)."""
    return [(r[0], r[1], int(r[2]), int(r[3]), r[4]) for r in rel_rows(rel, f"""
        SELECT c.api, c.route, c.n, c.nf, m.route
        FROM (SELECT api, route, sum(requests)::BIGINT AS n,
                     coalesce(sum(requests) FILTER (WHERE status = 404), 0)::BIGINT AS nf
              FROM _p WHERE ({where}) AND _mine GROUP BY ALL) c
        LEFT JOIN route_paths m ON m.api = c.api AND m.path = c.route
        ORDER BY 1, 2""")]


def api_paths(con: Connection, api: str) -> list[tuple[str, int, int, str]]:
    """Every path key stored for ``api``: key, requests, 404s (all sources) and its route."""
    return [(r[0], int(r[1]), int(r[2]), r[3]) for r in run(con, """
        SELECT p.path, coalesce(sum(c.requests), 0)::BIGINT, coalesce(sum(c.not_found), 0)::BIGINT, p.route
        FROM route_paths p LEFT JOIN route_path_counts c ON c.api = p.api AND c.path = p.path
        WHERE p.api = ? GROUP BY p.path, p.route ORDER BY 1""", [api])]


def templates(con: Connection, api: str) -> list[str]:
    """The mined templates ``api``'s path keys map to (routes with a ``{name}`` parameter)."""
    return [r[0] for r in run(con, "SELECT DISTINCT route FROM route_paths WHERE api = ? AND contains(route, '{name}') "
                                   "ORDER BY 1", [api])]


def set_routes(con: Connection, api: str, rows: Sequence[tuple[str, str]]) -> None:
    """Record the route of each (path key, route) of ``api`` (new keys added, known ones updated)."""
    if not rows:
        return
    run(con, "CREATE OR REPLACE TEMP TABLE _route_paths_new (api VARCHAR, path VARCHAR, route VARCHAR)")
    insert_lists(con, "_route_paths_new", {"api": ("VARCHAR", [api] * len(rows)),
                                           "path": ("VARCHAR", [r[0] for r in rows]),
                                           "route": ("VARCHAR", [r[1] for r in rows])})
    run(con, "INSERT INTO route_paths (api, path, route) SELECT api, path, route FROM _route_paths_new "
             "ON CONFLICT (api, path) DO UPDATE SET route = EXCLUDED.route")
    run(con, "DROP TABLE _route_paths_new")


def add_counts(con: Connection, source_id: int, rows: Sequence[tuple[str, str, int, int]]) -> None:
    """What source ``source_id`` brought per (api, path key): requests and 404s."""
    if 0 < len(rows) <= 8:   # the usual small source: one statement, no Arrow round trip
        values = ", ".join("(?, ?, ?, ?, ?)" for _ in rows)
        run(con, f"INSERT INTO route_path_counts (source_id, api, path, requests, not_found) VALUES {values}",
            [v for r in rows for v in (source_id, *r)])
    elif rows:
        insert_lists(con, "route_path_counts", {"source_id": ("BIGINT", [source_id] * len(rows)),
                                                "api": ("VARCHAR", [r[0] for r in rows]),
                                                "path": ("VARCHAR", [r[1] for r in rows]),
                                                "requests": ("BIGINT", [r[2] for r in rows]),
                                                "not_found": ("BIGINT", [r[3] for r in rows])})


def add_counts_from(con: Connection, table: str, where: str) -> None:
    """:func:`add_counts` for every source of a table of parsed rows at once (a batch of small
    sources: ``source_id`` is a column), from its ``_mine`` rows passing ``where``, before they are mapped."""
    run(con, f"""INSERT INTO route_path_counts (source_id, api, path, requests, not_found)
                 SELECT source_id, api, route, sum(requests)::BIGINT,
                        coalesce(sum(requests) FILTER (WHERE status = 404), 0)::BIGINT
                 FROM {table} WHERE ({where}) AND _mine GROUP BY ALL""")


def map_table(con: Connection, table: str) -> None:
    """:func:`mapped` in place, for a table of parsed rows."""
    run(con, f"""UPDATE {table} SET route = m.route FROM route_paths m
                 WHERE {table}._mine AND m.api = {table}.api AND m.path = {table}.route""")


def mapped(rel: Relation) -> Relation:
    """A parsed chunk with each ``_mine`` row's route replaced by the route ``route_paths`` maps its key to."""
    return materialize(rel_query(rel, """
        SELECT _p.* REPLACE (CASE WHEN _p._mine THEN coalesce(m.route, _p.route) ELSE _p.route END AS route)
        FROM _p LEFT JOIN route_paths m ON m.api = _p.api AND m.path = _p.route"""))


def merge_routes(con: Connection, merges: Sequence[tuple[str, str, str]]) -> int:
    """Move every stored row of each (api, old route) to its new route, in ``requests``,
    ``source_counts`` and ``traffic_1m`` (rows of one new key combined), and ``llm_calls`` (then
    ``tokens_1m`` is rebuilt). Returns the traffic rollup rows moved."""
    if not merges:
        return 0
    run(con, f"CREATE OR REPLACE TEMP TABLE {_MERGES} (api VARCHAR, old VARCHAR, new VARCHAR)")
    insert_lists(con, _MERGES, {"api": ("VARCHAR", [m[0] for m in merges]), "old": ("VARCHAR", [m[1] for m in merges]),
                                "new": ("VARCHAR", [m[2] for m in merges])})
    for table in ("requests", "source_counts"):
        run(con, f"UPDATE {table} SET route = m.new FROM {_MERGES} m "
                 f"WHERE {table}.api = m.api AND {table}.route = m.old")
    agg = ", ".join([f"sum(t.{c}) AS {c}" for c in _SUMS]
                    + [f"sum(t.{c} * t.latency_n) FILTER (WHERE t.{c} IS NOT NULL) / "
                       f"nullif(sum(t.latency_n) FILTER (WHERE t.{c} IS NOT NULL), 0) AS {c}" for c in _WEIGHTED]
                    + [f"max(t.{c}) AS {c}" for c in _MAXED])
    run(con, f"""CREATE OR REPLACE TEMP TABLE {_MOVED} AS
                 SELECT t.ts, t.api, t.stage, m.new AS route, t.region, any_value(t.api_type) AS api_type, {agg}
                 FROM traffic_1m t JOIN {_MERGES} m ON t.api = m.api AND t.route = m.old
                 GROUP BY t.ts, t.api, t.stage, m.new, t.region""")
    run(con, f"DELETE FROM traffic_1m WHERE (api, route) IN (SELECT (api, old) FROM {_MERGES})")
    cols = ("ts", "api", "stage", "route", "region", "api_type") + _SUMS + _WEIGHTED + _MAXED
    combine = [f"{c} = {c} + EXCLUDED.{c}" for c in _SUMS]
    combine += [f"{c} = CASE WHEN {c} IS NULL THEN EXCLUDED.{c} WHEN EXCLUDED.{c} IS NULL THEN {c} "
                f"ELSE ({c} * latency_n + EXCLUDED.{c} * EXCLUDED.latency_n) / nullif(latency_n + EXCLUDED.latency_n, 0) END"
                for c in _WEIGHTED]
    combine += [f"{c} = greatest({c}, EXCLUDED.{c})" for c in _MAXED]
    moved = scalar(con, f"SELECT count(*) FROM {_MOVED}")
    run(con, f"INSERT INTO traffic_1m ({', '.join(cols)}) SELECT {', '.join(cols)} FROM {_MOVED} "
             f"ON CONFLICT (api, stage, route, region, ts) DO UPDATE SET {', '.join(combine)}")
    run(con, f"DROP TABLE {_MOVED}")
    # model calls carry routes too (their own, or the gateway request's they joined): move them, and
    # rebuild the token rollup from them when any moved
    calls = scalar(con, f"SELECT count(*) FROM llm_calls c JOIN {_MERGES} m ON (c.api = m.api AND c.route = m.old) "
                        f"OR (c.gw_api = m.api AND c.gw_route = m.old)") or 0
    if calls:
        run(con, f"UPDATE llm_calls SET route = m.new FROM {_MERGES} m WHERE llm_calls.api = m.api AND llm_calls.route = m.old")
        run(con, f"UPDATE llm_calls SET gw_route = m.new FROM {_MERGES} m "
                 f"WHERE llm_calls.gw_api = m.api AND llm_calls.gw_route = m.old")
        llm.rebuild_rollup(con)
    run(con, f"DROP TABLE {_MERGES}")
    return int(moved)


def forget(con: Connection, ids: Sequence[int]) -> None:
    """Remove what sources ``ids`` brought to the path counts; path keys no source holds any more go
    (the routes of the rest stay as they are: templates, once mined, are kept)."""
    marks = ", ".join("?" for _ in ids)
    run(con, f"DELETE FROM route_path_counts WHERE source_id IN ({marks})", list(ids))
    run(con, "DELETE FROM route_paths WHERE (api, path) NOT IN (SELECT (api, path) FROM route_path_counts)")
