"""Versioned schema migrations: ordered steps, each applied once in its own transaction.

Version 1 is the schema as it stood before migrations existed (``schema.TABLES``, ``VIEWS``,
``INDEXES`` create it, idempotently); every later change is a step appended to ``STEPS`` with the
next version number, never an edit of an earlier step, so that a database file written by any
released version upgrades in place with its data. ``schema_version`` records each step applied.

Only the writer migrates (``store.connect``); a read-only connection never does, and both refuse a
file newer than the code. ``tests/store/fixtures/`` keeps a file of each released schema version,
and a test migrates each to the latest with its data intact.

A step that rewrites data can be a function (``fn``) of the connection, run inside the step's
transaction. A step that fails is rolled back and raises ``MigrationFailed``; a file newer than the
code raises ``SchemaTooNew``.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Callable

from ..errors import ForecasterError, MigrationFailed, SchemaTooNew
from .schema import INDEXES, TABLES, VIEWS

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class Step:
    """One schema change: SQL statements (or a function of the connection) applied as one unit."""

    version: int
    name: str
    sql: tuple[str, ...] = ()
    fn: Callable[[Any], None] | None = None


# traffic_1h gains peak_rps: the busiest second of the hour (max of its minutes').
_TRAFFIC_1H_WITH_PEAK = VIEWS["traffic_1h"].replace(
    "sum(billed_ms_sum) AS billed_ms_sum", "sum(billed_ms_sum) AS billed_ms_sum, max(peak_rps) AS peak_rps")
assert "peak_rps" in _TRAFFIC_1H_WITH_PEAK


def _baseline() -> tuple[str, ...]:
    return tuple(TABLES.values()) + tuple(VIEWS.values()) + tuple(INDEXES)


# Append new steps at the end, numbered one past the last.
STEPS: list[Step] = [
    Step(1, "baseline: the schema before versioned migrations", _baseline()),
    Step(2, "traffic_1m.peak_rps: the busiest second's request count of each minute (request-level logs)", (
        "ALTER TABLE traffic_1m ADD COLUMN IF NOT EXISTS peak_rps BIGINT",
        _TRAFFIC_1H_WITH_PEAK,
    )),
    Step(3, "service: API keys and calendar events", (
        # owner: store.api_keys. Only a hash of each key is kept; prefix finds the row, the hash is compared.
        """CREATE TABLE IF NOT EXISTS api_keys (
            key_id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, role VARCHAR NOT NULL,
            key_hash VARCHAR NOT NULL, created TIMESTAMP NOT NULL, revoked TIMESTAMP
        )""",
        # owner: store.events. Calendar events added over the API; forecast runs use them with events_file.
        """CREATE TABLE IF NOT EXISTS events (
            id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, start_ts TIMESTAMP NOT NULL, end_ts TIMESTAMP NOT NULL,
            routes JSON, regions JSON, expected_uplift DOUBLE, recurring VARCHAR,
            created TIMESTAMP NOT NULL, created_by VARCHAR
        )""",
    )),
    Step(4, "actions: the target, the apply batch and what a row rolls back", (
        "ALTER TABLE actions ADD COLUMN IF NOT EXISTS target VARCHAR",
        "ALTER TABLE actions ADD COLUMN IF NOT EXISTS batch_id VARCHAR",
        "ALTER TABLE actions ADD COLUMN IF NOT EXISTS rollback_of VARCHAR",
    )),
    Step(5, "sources: byte ranges and head keys (grown and rotated files load only new bytes); "
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
    Step(6, "llm_calls (one row per model call: tokens, never bodies) and tokens_1m (tokens per route, "
            "model, provider, region, client and minute)", (
        # owner: store.llm. gw_* hold the gateway access log's attribution (joined by request id).
        """CREATE TABLE IF NOT EXISTS llm_calls (
               request_id VARCHAR PRIMARY KEY, id_logged BOOLEAN NOT NULL, source_id BIGINT NOT NULL,
               line_no BIGINT, ts TIMESTAMP NOT NULL, api VARCHAR NOT NULL, stage VARCHAR NOT NULL,
               route VARCHAR NOT NULL, provider VARCHAR NOT NULL, model VARCHAR NOT NULL, region VARCHAR NOT NULL,
               client VARCHAR, operation VARCHAR, tier VARCHAR NOT NULL, input_tokens BIGINT NOT NULL,
               output_tokens BIGINT NOT NULL, cached_input_tokens BIGINT NOT NULL, logged_cost_usd DOUBLE,
               llm_latency_ms DOUBLE, gw_api VARCHAR, gw_stage VARCHAR, gw_route VARCHAR, gw_client VARCHAR,
               gw_source_id BIGINT)""",
        "CREATE INDEX IF NOT EXISTS llm_calls_source ON llm_calls(source_id)",
        """CREATE TABLE IF NOT EXISTS tokens_1m (
               ts TIMESTAMP NOT NULL, api VARCHAR NOT NULL, stage VARCHAR NOT NULL, route VARCHAR NOT NULL,
               provider VARCHAR NOT NULL, model VARCHAR NOT NULL, region VARCHAR NOT NULL, client VARCHAR NOT NULL,
               tier VARCHAR NOT NULL, requests BIGINT NOT NULL, input_tokens BIGINT NOT NULL,
               output_tokens BIGINT NOT NULL, cached_input_tokens BIGINT NOT NULL, logged_cost_usd DOUBLE,
               PRIMARY KEY (api, stage, route, provider, model, region, client, tier, ts))""",
    )),
    Step(7, "route_paths, route_path_counts: route templates mined from the traffic (logs without templates)", (
        # owner: store.route_paths. Each path key the heuristics left ('GET /a/b.csv') -> the route its rows carry.
        """CREATE TABLE IF NOT EXISTS route_paths (
               api VARCHAR NOT NULL, path VARCHAR NOT NULL, route VARCHAR NOT NULL, PRIMARY KEY (api, path))""",
        # what each source brought per path key (mining counts on it; forget removes it)
        """CREATE TABLE IF NOT EXISTS route_path_counts (
               source_id BIGINT NOT NULL, api VARCHAR NOT NULL, path VARCHAR NOT NULL,
               requests BIGINT NOT NULL, not_found BIGINT NOT NULL)""",
    )),
]


def latest_version() -> int:
    return STEPS[-1].version


def current_version(con: Any) -> int | None:
    """The newest version recorded in the file, or None for a file without a schema.

    Results are drained (fetchall): DuckDB 2 keeps a fetchone() result open, and the connection then
    refuses other work such as register() until it is finished."""
    exists = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
    ).fetchall()[0][0]
    if not exists:
        return None
    return con.execute("SELECT max(version) FROM schema_version").fetchall()[0][0]


def file_of(con: Any) -> str:
    """The path of the connection's database file (``:memory:`` for an in-memory one)."""
    rows = con.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchall()
    return rows[0][0] if rows and rows[0][0] else ":memory:"


def _refuse_newer(con: Any, current: int | None) -> None:
    if current is not None and current > latest_version():
        raise SchemaTooNew(f"DuckDB file {file_of(con)} has schema version {current}, newer than this "
                           f"forecaster's {latest_version()} (steps 1..{latest_version()}); upgrade "
                           f"forecaster to open it, or point --db at another file")


def check_readable(con: Any, path: str) -> int | None:
    """For a read-only connection: refuse a file newer than this code; never migrate. Returns the
    file's version (an older file is read as it is; the next writer to open it migrates it)."""
    current = current_version(con)
    _refuse_newer(con, current)
    if current is not None and current < latest_version():
        log.info("%s is at schema version %d (this forecaster: %d); reading it unmigrated",
                 path, current, latest_version())
    return current


def migrate(con: Any, utcnow: Callable[[], Any]) -> list[int]:
    """Apply every step newer than the file's version, in order; return the versions applied.

    Each step runs in its own transaction with its ``schema_version`` row, so a failure leaves the
    file at the last good version, never between two.
    """
    versions = [s.version for s in STEPS]
    if versions != list(range(1, len(versions) + 1)):
        raise ForecasterError(f"migration steps must be numbered 1, 2, 3... in order; found {versions}")
    current = current_version(con)
    _refuse_newer(con, current)
    current = current or 0
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
            con.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                        [step.version, utcnow()]).fetchall()
        except Exception as e:
            con.execute("ROLLBACK")
            raise MigrationFailed(f"schema migration {step.version} ({step.name}) failed on {file_of(con)}: "
                                  f"{e}; the file stays at version {current}") from e
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")
        log.info("schema migrated to version %d (%s)", step.version, step.name)
        applied.append(step.version)
        current = step.version
    return applied

