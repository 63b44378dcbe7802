"""The ``sources`` table (owner: ingest.loader): what was loaded from where; and ingest's other
writes beside it: ``rejects`` (lines that could not be used) and the raw ``requests`` kept.

Function names and shapes follow the ingest branch's repository of the same table, so the two merge.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .db import one, run, scalar

_COLUMNS = ("source_id", "uri", "size_bytes", "mtime", "checksum", "etag", "cursor", "format", "rows_loaded",
            "rows_rejected", "rows_duplicate", "lines_blank", "requests_counted", "loaded_at", "seconds")


@dataclass(frozen=True)
class SourceCursor:
    """The newest CloudWatch Logs cursor recorded for a log group key."""

    source_id: int
    cursor: str


def next_id(con) -> int:
    return one(con, "SELECT coalesce(max(source_id), 0) + 1 FROM sources")[0]


def insert(con, row: dict[str, Any]) -> None:
    cols = [c for c in _COLUMNS if c in row]
    run(con, f"INSERT INTO sources ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
        [row[c] for c in cols])


def seen_file(con, uri: str, size: int | None, mtime: float | None) -> int | None:
    """A source loaded from this very file as it is now (same path, size and mtime)."""
    row = one(con, "SELECT source_id FROM sources WHERE uri = ? AND size_bytes = ? AND mtime = ? LIMIT 1",
              [uri, size, mtime])
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
