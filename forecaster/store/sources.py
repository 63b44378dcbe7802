"""Repository of what ingest owns besides the rollups: ``sources``, ``rejects`` and raw ``requests``."""

from __future__ import annotations

import dataclasses
import datetime as dt

from .db import Connection, one, run, scalar

SOURCE_COLUMNS = ("source_id", "uri", "size_bytes", "mtime", "checksum", "etag", "cursor", "format", "rows_loaded",
                  "rows_rejected", "rows_duplicate", "lines_blank", "requests_counted", "loaded_at", "seconds")


@dataclasses.dataclass(frozen=True)
class SourceRow:
    """One loaded source, as ``sources`` records it."""

    source_id: int
    uri: str
    size_bytes: int | None
    mtime: float | None
    checksum: str | None
    etag: str | None
    cursor: str | None
    format: str | None
    rows_loaded: int
    rows_rejected: int
    rows_duplicate: int
    lines_blank: int
    requests_counted: int
    loaded_at: dt.datetime
    seconds: float | None


@dataclasses.dataclass(frozen=True)
class SourceCursor:
    source_id: int
    cursor: str


def next_id(con: Connection) -> int:
    """The id the next source gets (one past the largest)."""
    return int(scalar(con, "SELECT coalesce(max(source_id), 0) + 1 FROM sources"))


def by_etag(con: Connection, uri: str, etag: str) -> int | None:
    """The source id an object with this uri and ETag was loaded as (None: never)."""
    return scalar(con, "SELECT source_id FROM sources WHERE uri = ? AND etag = ? LIMIT 1", [uri, etag])


def by_file(con: Connection, uri: str, size: int | None, mtime: float | None) -> int | None:
    """The source id a file with this path, size and mtime was loaded as (None: never)."""
    return scalar(con, "SELECT source_id FROM sources WHERE uri = ? AND size_bytes = ? AND mtime = ? LIMIT 1",
                  [uri, size, mtime])


def by_checksum(con: Connection, checksum: str) -> int | None:
    """The source id these bytes (sha256) were loaded as (None: never)."""
    return scalar(con, "SELECT source_id FROM sources WHERE checksum = ? LIMIT 1", [checksum])


def last_cursor(con: Connection, key: str) -> SourceCursor | None:
    """The newest cursor recorded for a CloudWatch Logs key (uris ``key#...``)."""
    row = one(con, "SELECT source_id, cursor FROM sources WHERE starts_with(uri, ?) AND cursor IS NOT NULL "
                   "ORDER BY source_id DESC LIMIT 1", [key + "#"])
    return SourceCursor(int(row[0]), row[1]) if row else None


def record(con: Connection, src: SourceRow) -> None:
    """Record a loaded source."""
    values = dataclasses.asdict(src)
    run(con, f"INSERT INTO sources ({', '.join(SOURCE_COLUMNS)}) VALUES ({', '.join(['?'] * len(SOURCE_COLUMNS))})",
        [values[c] for c in SOURCE_COLUMNS])


def get(con: Connection, source_id: int) -> SourceRow | None:
    row = one(con, f"SELECT {', '.join(SOURCE_COLUMNS)} FROM sources WHERE source_id = ?", [source_id])
    return SourceRow(*row) if row else None


def reject(con: Connection, source_id: int, line_no: int, raw: str | None, reason: str) -> None:
    """Record one line that could not be used."""
    run(con, "INSERT INTO rejects (source_id, line_no, raw, reason) VALUES (?, ?, ?, ?)",
        [source_id, line_no, raw, reason])


def delete_requests(con: Connection, source_id: int) -> None:
    """Drop a source's raw requests (its rollups stay)."""
    run(con, "DELETE FROM requests WHERE source_id = ?", [source_id])


def delete_requests_older_than(con: Connection, days: int) -> int:
    """Drop raw requests more than ``days`` before the newest one; returns how many went."""
    return int(scalar(con, "DELETE FROM requests WHERE ts < (SELECT max(ts) FROM requests) - to_days(?)", [days]))


def requests_of(con: Connection, source_id: int) -> int:
    return int(scalar(con, "SELECT count(*) FROM requests WHERE source_id = ?", [source_id]))


__all__ = ["SourceRow", "SourceCursor", "next_id", "by_etag", "by_file", "by_checksum", "last_cursor", "record", "get",
           "reject", "delete_requests", "delete_requests_older_than", "requests_of"]
