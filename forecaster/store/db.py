"""Opening the DuckDB file and keeping its schema current."""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from pathlib import Path
from typing import Any, Iterator

import duckdb

from ..config import Settings
from ..errors import SourceError
from . import migrations

log = logging.getLogger(__name__)


def connect(db: Path | str | None = None, settings: Settings | None = None, read_only: bool = False):
    """Open (creating if needed) the DuckDB file and make sure the schema is current."""
    settings = settings or Settings()
    path = str(db if db is not None else settings.db)
    config: dict = {}
    if settings.duckdb_threads:
        config["threads"] = settings.duckdb_threads
    if settings.duckdb_memory_limit:
        config["memory_limit"] = settings.duckdb_memory_limit
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(path, read_only=read_only, config=config)
    except duckdb.Error as e:
        raise SourceError(f"cannot open DuckDB file {path}: {e}") from e
    if not read_only:
        migrate(con)
    return con


def migrate(con: duckdb.DuckDBPyConnection) -> list[int]:
    """Bring the file's schema to this version (see ``store.migrations``); the versions applied."""
    return migrations.migrate(con, utcnow)


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN/COMMIT around a block; ROLLBACK on any exception (nothing half-written)."""
    run(con, "BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        run(con, "ROLLBACK")
        raise
    else:
        run(con, "COMMIT")


def utcnow() -> dt.datetime:
    """Naive UTC now (our TIMESTAMP convention)."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


@contextlib.contextmanager
def open_store(db: Path | str | None = None, settings: Settings | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """Context manager over :func:`connect` that closes the connection."""
    con = connect(db, settings)
    try:
        yield con
    finally:
        con.close()


def run(con: duckdb.DuckDBPyConnection, query: str, params: list | None = None) -> list[tuple]:
    """Execute and drain the result (DuckDB wants each result finished before the next statement)."""
    return con.execute(query, params or []).fetchall()


def one(con: duckdb.DuckDBPyConnection, query: str, params: list | None = None) -> tuple | None:
    """The first row of a query (or None), with the result drained."""
    rows = con.execute(query, params or []).fetchall()
    return rows[0] if rows else None


def scalar(con: duckdb.DuckDBPyConnection, query: str, params: list | None = None) -> Any:
    """The first column of the first row of a query (None when there is no row), with the result drained."""
    row = one(con, query, params)
    return row[0] if row is not None else None


def relation(rel: duckdb.DuckDBPyRelation, name: str, query: str) -> duckdb.DuckDBPyRelation:
    """``rel.query(name, query)``: ``query`` run over ``rel`` (named ``name`` in it), as a relation
    (DuckDB types the result as optional: statements that return nothing give None)."""
    out = rel.query(name, query)
    if out is None:
        raise RuntimeError(f"query over {name} returned no relation: {query[:120]}")
    return out
