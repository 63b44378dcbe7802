"""Versioned schema migrations: ordered steps, each applied once in its own transaction.

Version 1 is the schema as it stood before migrations existed (``schema.TABLES``, ``VIEWS``,
``INDEXES`` create it, idempotently); every later change is a step appended to ``STEPS`` with the
next version number, never an edit of an earlier step, so that a database file written by any
released version upgrades in place with its data. ``schema_version`` records each step applied.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Callable

from ..errors import ForecasterError
from .schema import INDEXES, TABLES, VIEWS

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Step:
    """One schema change: SQL statements (or a function of the connection) applied as one unit."""

    version: int
    name: str
    sql: tuple[str, ...] = ()
    fn: Callable[[Any], None] | None = None


def _baseline() -> tuple[str, ...]:
    return tuple(TABLES.values()) + tuple(VIEWS.values()) + tuple(INDEXES)


# Append new steps at the end, numbered one past the last.
STEPS: list[Step] = [
    Step(1, "baseline: the schema before versioned migrations", _baseline()),
    Step(2, "sources: byte ranges and head keys (grown and rotated files load only new bytes); "
            "source_counts (counts rows, so a source can be forgotten exactly)", (
        "ALTER TABLE sources ADD COLUMN offset_bytes BIGINT DEFAULT 0",   # where this load began in the stream
        "ALTER TABLE sources ADD COLUMN loaded_bytes BIGINT",            # stream bytes [0, this) are loaded
        "ALTER TABLE sources ADD COLUMN lines_total BIGINT",             # whole lines in [0, loaded_bytes)
        "ALTER TABLE sources ADD COLUMN head_sha256 VARCHAR",            # key of the stream's first lines
        "ALTER TABLE sources ADD COLUMN parent_id BIGINT",               # the load whose bytes this continues
        "ALTER TABLE sources ADD COLUMN tail_bytes BIGINT DEFAULT 0",    # unfinished last line left for later
        "CREATE INDEX IF NOT EXISTS sources_head ON sources(head_sha256)",
        """CREATE TABLE IF NOT EXISTS source_counts (
               source_id BIGINT NOT NULL, ts TIMESTAMP NOT NULL, api VARCHAR NOT NULL, stage VARCHAR NOT NULL,
               route VARCHAR NOT NULL, region VARCHAR NOT NULL, api_type VARCHAR NOT NULL, status SMALLINT,
               bytes_out BIGINT, requests BIGINT NOT NULL)""",
    )),
]


def latest_version() -> int:
    return STEPS[-1].version


def current_version(con: Any) -> int | None:
    """The newest version recorded in the file, or None for a file without a schema."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchone()[0]
    if not exists:
        return None
    return con.execute("SELECT max(version) FROM schema_version").fetchone()[0]


def migrate(con: Any, utcnow: Callable[[], Any]) -> list[int]:
    """Apply every step newer than the file's version, in order; return the versions applied.

    Each step runs in its own transaction with its ``schema_version`` row, so a failure leaves the
    file at the last good version, never between two.
    """
    versions = [s.version for s in STEPS]
    if versions != sorted(set(versions)):
        raise ForecasterError(f"migration steps out of order or repeated: {versions}")
    current = current_version(con) or 0
    if current > latest_version():
        raise ForecasterError(f"database schema version {current} is newer than this forecaster "
                              f"({latest_version()}); upgrade forecaster")
    applied = []
    for step in STEPS:
        if step.version <= current:
            continue
        con.execute("BEGIN TRANSACTION")
        try:
            if step.version == 1:
                con.execute(TABLES["schema_version"]).fetchall()
            for sql in step.sql:
                con.execute(sql).fetchall()
            if step.fn is not None:
                step.fn(con)
            con.execute("INSERT INTO schema_version VALUES (?, ?)", [step.version, utcnow()]).fetchall()
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
        log.info("schema migrated to version %d (%s)", step.version, step.name)
        applied.append(step.version)
    return applied
