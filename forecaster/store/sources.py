"""The ``sources`` table (owner: ingest.loader): what was loaded from where, and how to undo it.

A source row covers the bytes ``[offset_bytes, loaded_bytes)`` of a stream; ``checksum`` is the
sha256 of the stream's bytes ``[0, loaded_bytes)`` (whole lines only), ``head_sha256`` the key a
later stream with the same beginning is found by (see :mod:`forecaster.ingest.resume`), and
``parent_id`` the source whose bytes this one continues (a grown or rotated file).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import pyarrow as pa

from .db import append_arrow, arrow, one, run, scalar

_COLUMNS = ("source_id", "uri", "size_bytes", "mtime", "checksum", "etag", "cursor", "format", "rows_loaded",
            "rows_rejected", "rows_duplicate", "lines_blank", "requests_counted", "loaded_at", "seconds",
            "offset_bytes", "loaded_bytes", "lines_total", "head_sha256", "parent_id", "tail_bytes")


@dataclass(frozen=True)
class Prior:
    """An earlier load a new stream may continue."""

    source_id: int
    uri: str
    loaded_bytes: int
    checksum: str
    lines_total: int
    format: str | None


@dataclass(frozen=True)
class SourceRow:
    source_id: int
    uri: str
    format: str | None
    rows_loaded: int
    rows_rejected: int
    rows_duplicate: int
    requests_counted: int
    offset_bytes: int
    loaded_bytes: int | None
    parent_id: int | None
    loaded_at: Any


@dataclass(frozen=True)
class SourceCursor:
    """The newest CloudWatch Logs cursor recorded for a log group key."""

    source_id: int
    cursor: str


def next_id(con) -> int:
    return scalar(con, "SELECT coalesce(max(source_id), 0) + 1 FROM sources")


def insert(con, row: dict[str, Any]) -> None:
    cols = [c for c in _COLUMNS if c in row]
    run(con, f"INSERT INTO sources ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
        [row[c] for c in cols])


# Arrow types of the source columns, for rows inserted many at once.
_TYPES = {"source_id": pa.int64(), "uri": pa.string(), "size_bytes": pa.int64(), "mtime": pa.float64(),
          "checksum": pa.string(), "etag": pa.string(), "cursor": pa.string(), "format": pa.string(),
          "rows_loaded": pa.int64(), "rows_rejected": pa.int64(), "rows_duplicate": pa.int64(),
          "lines_blank": pa.int64(), "requests_counted": pa.int64(), "loaded_at": pa.timestamp("us"),
          "seconds": pa.float64(), "offset_bytes": pa.int64(), "loaded_bytes": pa.int64(), "lines_total": pa.int64(),
          "head_sha256": pa.string(), "parent_id": pa.int64(), "tail_bytes": pa.int64()}


def insert_many(con, rows: Sequence[dict[str, Any]]) -> None:
    """Many source rows in one statement (the small-files path); every row has the same keys."""
    if not rows:
        return
    cols = [c for c in _COLUMNS if c in rows[0]]
    append_arrow(con, "sources", pa.table({c: pa.array([r[c] for r in rows], _TYPES[c]) for c in cols}))


def reject_many(con, rows: Sequence[tuple[int, int, str | None, str]]) -> None:
    """Record many unusable lines at once: (source_id, line_no, raw, reason) each."""
    if rows:
        cols = list(zip(*rows))
        append_arrow(con, "rejects", pa.table({
            "source_id": pa.array(cols[0], pa.int64()), "line_no": pa.array(cols[1], pa.int64()),
            "raw": pa.array(cols[2], pa.string()), "reason": pa.array(cols[3], pa.string())}))


def seen_many(con, keys: Sequence[tuple[str, int | None, float | None, str | None]]) -> list[int | None]:
    """:func:`seen_file` / :func:`seen_object` for many sources at once: per (uri, size, mtime, etag),
    the newest source loaded from that object (same ETag) or file (same size and mtime), or None."""
    if not keys:
        return []
    cols = list(zip(*keys))
    probe = pa.table({"i": pa.array(range(len(keys)), pa.int64()), "uri": pa.array(cols[0], pa.string()),
                      "size_bytes": pa.array(cols[1], pa.int64()), "mtime": pa.array(cols[2], pa.float64()),
                      "etag": pa.array(cols[3], pa.string())})
    run(con, "CREATE OR REPLACE TEMP TABLE _seen_probe (i BIGINT, uri VARCHAR, size_bytes BIGINT, mtime DOUBLE, "
             "etag VARCHAR)")
    append_arrow(con, "_seen_probe", probe)
    rows = run(con, """SELECT p.i, max(s.source_id) FROM _seen_probe p JOIN sources s ON s.uri = p.uri
                       AND CASE WHEN p.etag IS NOT NULL THEN s.etag = p.etag
                                ELSE s.size_bytes = p.size_bytes AND s.mtime = p.mtime END
                       WHERE p.etag IS NOT NULL OR (p.size_bytes IS NOT NULL AND p.mtime IS NOT NULL)
                       GROUP BY p.i""")
    run(con, "DROP TABLE _seen_probe")
    out: list[int | None] = [None] * len(keys)
    for i, sid in rows:
        out[i] = sid
    return out


def known_head_keys(con, keys: Sequence[str]) -> set[str]:
    """Which of ``keys`` an earlier load was stored under (see :func:`priors`)."""
    if not keys:
        return set()
    return {r[0] for r in run(con, "SELECT DISTINCT head_sha256 FROM sources WHERE loaded_bytes > 0 "
                                   "AND head_sha256 IN (SELECT unnest(?::VARCHAR[]))", [list(set(keys))])}


def by_checksums(con, checksums: Sequence[str]) -> dict[str, int]:
    """:func:`by_checksum` for many: checksum -> a source that loaded those bytes."""
    if not checksums:
        return {}
    return {r[0]: r[1] for r in run(con, "SELECT checksum, min(source_id) FROM sources "
                                         "WHERE checksum IN (SELECT unnest(?::VARCHAR[])) GROUP BY 1",
                                    [list(set(checksums))])}


def delete_requests_of(con, ids: Sequence[int]) -> None:
    """Drop the raw requests of sources ``ids`` (their rollups stay)."""
    if ids:
        run(con, "DELETE FROM requests WHERE source_id IN (SELECT unnest(?::BIGINT[]))", [list(ids)])


def seen_file(con, uri: str, size: int | None, mtime: float | None) -> int | None:
    """A source loaded from this very file as it is now (same path, size and mtime)."""
    row = one(con, "SELECT source_id FROM sources WHERE uri = ? AND size_bytes = ? AND mtime = ? "
                   "ORDER BY source_id DESC LIMIT 1", [uri, size, mtime])
    return row[0] if row else None


def seen_object(con, uri: str, etag: str) -> int | None:
    row = one(con, "SELECT source_id FROM sources WHERE uri = ? AND etag = ? LIMIT 1", [uri, etag])
    return row[0] if row else None


def by_checksum(con, checksum: str) -> int | None:
    row = one(con, "SELECT source_id FROM sources WHERE checksum = ? LIMIT 1", [checksum])
    return row[0] if row else None


def last_cursor(con, key: str) -> SourceCursor | None:
    """The newest cursor recorded for a CloudWatch Logs key (uris ``key#...``)."""
    row = one(con, "SELECT source_id, cursor FROM sources WHERE starts_with(uri, ?) AND cursor IS NOT NULL "
                   "ORDER BY source_id DESC LIMIT 1", [key + "#"])
    return SourceCursor(int(row[0]), row[1]) if row else None


def reject(con, source_id: int, line_no: int, raw: str | None, reason: str) -> None:
    """Record one line that could not be used."""
    run(con, "INSERT INTO rejects (source_id, line_no, raw, reason) VALUES (?, ?, ?, ?)",
        [source_id, line_no, raw, reason])


def delete_requests(con, source_id: int) -> None:
    """Drop a source's raw requests (its rollups stay)."""
    run(con, "DELETE FROM requests WHERE source_id = ?", [source_id])


def delete_requests_older_than(con, days: int) -> int:
    """Drop raw requests more than ``days`` before the newest one; returns how many went."""
    return int(scalar(con, "DELETE FROM requests WHERE ts < (SELECT max(ts) FROM requests) - to_days(?)", [days]))


def requests_of(con, source_id: int) -> int:
    """How many raw requests a source has stored."""
    return int(scalar(con, "SELECT count(*) FROM requests WHERE source_id = ?", [source_id]))


def priors(con, head_keys: Sequence[str]) -> list[Prior]:
    """Loads whose stream began like this one (any of ``head_keys``), fewest bytes first."""
    if not head_keys:
        return []
    marks = ", ".join("?" for _ in head_keys)
    rows = run(con, f"""SELECT source_id, uri, loaded_bytes, checksum, lines_total, format FROM sources
                        WHERE head_sha256 IN ({marks}) AND loaded_bytes > 0 ORDER BY loaded_bytes, source_id""",
               list(head_keys))
    return [Prior(*r) for r in rows]


def listing(con) -> list[SourceRow]:
    rows = run(con, """SELECT source_id, uri, format, rows_loaded, rows_rejected, rows_duplicate, requests_counted,
                              coalesce(offset_bytes, 0), loaded_bytes, parent_id, loaded_at
                       FROM sources ORDER BY source_id""")
    return [SourceRow(*r) for r in rows]


def resolve(con, key: str) -> list[int]:
    """Source ids named by ``key``: a source id, or a path/URI (every load of it)."""
    if key.isdigit():
        return [r[0] for r in run(con, "SELECT source_id FROM sources WHERE source_id = ?", [int(key)])]
    return [r[0] for r in run(con, "SELECT source_id FROM sources WHERE uri = ? ORDER BY source_id", [key])]


def with_descendants(con, ids: Sequence[int]) -> list[int]:
    """``ids`` and every source that continues one of them (their bytes start where those end)."""
    out = set(ids)
    frontier = list(ids)
    while frontier:
        marks = ", ".join("?" for _ in frontier)
        frontier = [r[0] for r in run(con, f"SELECT source_id FROM sources WHERE parent_id IN ({marks})", frontier)
                    if r[0] not in out]
        out.update(frontier)
    return sorted(out)


FORGET_KEYS = "_forget_keys"


def forget(con, ids: Sequence[int]) -> dict[str, int]:
    """Remove sources ``ids``: their requests, rejects, count rows, rollup rows and source rows.

    The caller holds the transaction and rebuilds the rollups of the keys left in the temp table
    :data:`FORGET_KEYS` (every api, stage, route, region and minute the sources touched) from what
    remains, then drops it. Returns how many rows of each kind went.
    """
    marks = ", ".join("?" for _ in ids)
    params = list(ids)
    run(con, f"CREATE OR REPLACE TEMP TABLE {FORGET_KEYS} AS "
             f"SELECT DISTINCT api, stage, route, region, date_trunc('minute', ts) AS ts FROM requests "
             f"WHERE source_id IN ({marks}) UNION SELECT DISTINCT api, stage, route, region, date_trunc('minute', ts) "
             f"FROM source_counts WHERE source_id IN ({marks})", params + params)
    n = {"sources": len(ids)}
    for table in ("requests", "rejects", "source_counts"):
        n[table] = scalar(con, f"SELECT count(*) FROM {table} WHERE source_id IN ({marks})", params)
        run(con, f"DELETE FROM {table} WHERE source_id IN ({marks})", params)
    keys = "api, stage, route, region, ts"
    n["rollup_rows"] = scalar(con, f"SELECT count(*) FROM traffic_1m WHERE ({keys}) IN (SELECT ({keys}) FROM {FORGET_KEYS})")
    run(con, f"DELETE FROM traffic_1m WHERE ({keys}) IN (SELECT ({keys}) FROM {FORGET_KEYS})")
    run(con, f"DELETE FROM sources WHERE source_id IN ({marks})", params)
    return n


def pruned_raw_rows(con, ids: Sequence[int]) -> list[int]:
    """The sources among ``ids`` whose raw requests are no longer all stored (retention removed some)."""
    marks = ", ".join("?" for _ in ids)
    rows = run(con, f"""SELECT s.source_id FROM sources s LEFT JOIN
                          (SELECT source_id, count(*) AS n FROM requests WHERE source_id IN ({marks}) GROUP BY 1) r
                          USING (source_id)
                        WHERE s.source_id IN ({marks}) AND s.format IS DISTINCT FROM 'counts'
                          AND coalesce(r.n, 0) < s.rows_loaded""", list(ids) + list(ids))
    return [r[0] for r in rows]
