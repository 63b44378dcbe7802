"""The one door to DuckDB: opening the file (the connection policy) and running statements.

Connection policy:

- ``connect(db)`` opens the writer: it creates the file if needed and migrates its schema to this
  version (``store.migrations``). DuckDB lets one process hold a file for writing; inside that
  process readers take their own cursor of the writer (``cursor(con)``), as a service does.
- ``connect(db, read_only=True)`` opens a reader: several processes may read a file at once as long
  as none writes it. A reader never migrates; it refuses a file newer than this code.
- When another process holds the file, opening waits up to ``db_lock_timeout_s`` seconds for it to
  let go, then raises :class:`~forecaster.errors.StoreLocked` naming the file and the holder.

Every statement outside this package runs through :func:`run`, :func:`one`, :func:`frame`,
:func:`arrow` or a repository module of this package; the rest of forecaster never imports duckdb
(an import-linter contract checks it). ``Connection``, ``Relation`` and ``DatabaseError`` name
DuckDB's types for code that passes them around.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import re
import time
from pathlib import Path
from typing import Any, Iterator, Sequence, TYPE_CHECKING

import duckdb
import pyarrow as pa

if TYPE_CHECKING:   # pandas only for the frames some reads return: not imported by commands that never use it
    import pandas as pd

from ..config import Settings
from ..errors import SourceError, StoreLocked
from . import migrations

log = logging.getLogger(__name__)

Connection = duckdb.DuckDBPyConnection
Relation = duckdb.DuckDBPyRelation
DatabaseError = duckdb.Error

_LOCK_RE = re.compile(r"Conflicting lock is held in (?P<holder>.+?)(?: by user \S+)?\.(?:\s|$)")
_RETRY_S = (0.05, 0.1, 0.2, 0.5)


def connect(db: Path | str | None = None, settings: Settings | None = None, read_only: bool = False) -> Connection:
    """Open the DuckDB file: the writer (created and migrated if needed) or, ``read_only``, a reader."""
    settings = settings or Settings()
    path = str(db if db is not None else settings.db)
    config: dict[str, Any] = {}
    if settings.duckdb_threads:
        config["threads"] = settings.duckdb_threads
    if settings.duckdb_memory_limit:
        config["memory_limit"] = settings.duckdb_memory_limit
    if path != ":memory:" and not read_only:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    con = _open(path, read_only, config, settings.db_lock_timeout_s)
    try:
        if read_only:
            migrations.check_readable(con, path)
        else:
            migrations.migrate(con, utcnow)
    except BaseException:
        con.close()
        raise
    return con


def _open(path: str, read_only: bool, config: dict[str, Any], timeout_s: float) -> Connection:
    """duckdb.connect, waiting up to ``timeout_s`` while another process holds the file's lock."""
    deadline = time.monotonic() + timeout_s
    tries = 0
    mode = " read-only" if read_only else ""
    while True:
        try:
            return duckdb.connect(path, read_only=read_only, config=config)
        except duckdb.IOException as e:
            holder = _lock_holder(str(e))
            if holder is None:
                raise SourceError(f"cannot open DuckDB file {path}{mode}: {e}") from e
            left = deadline - time.monotonic()
            if left <= 0:
                said = holder_note(path, holder)
                if said:
                    raise StoreLocked(
                        f"DuckDB file {path} is held by {said}; waited {timeout_s:g} s (db_lock_timeout_s). "
                        f"While the service runs it is the file's one writer: ask it over its REST API "
                        f"(forecasts, spikes, costs, recommendations, keys; see /docs), or stop it") from e
                raise StoreLocked(
                    f"DuckDB file {path} is locked by {holder}; waited {timeout_s:g} s "
                    f"(db_lock_timeout_s) for it to let go. Stop that process, or open the file "
                    f"read-only when no process writes it") from e
            if tries == 0:
                log.info("DuckDB file %s is locked by %s; waiting up to %g s", path, holder, timeout_s)
            time.sleep(min(_RETRY_S[min(tries, len(_RETRY_S) - 1)], left))
            tries += 1
        except duckdb.Error as e:
            raise SourceError(f"cannot open DuckDB file {path}{mode}: {e}") from e


def holder_note_path(db: Path | str) -> Path:
    """Where a long-lived holder of ``db`` (``forecaster serve``) says who it is: ``<db>.holder.json``."""
    return Path(f"{db}.holder.json")


def write_holder_note(db: Path | str, what: str) -> Path | None:
    """Say that this process (``what``: "forecaster serve at http://...") holds ``db``, so that a
    command that finds the file locked can name the service rather than "python3"; None for an
    in-memory store or a directory that cannot be written (the note is a courtesy)."""
    if str(db) == ":memory:":
        return None
    note = holder_note_path(db)
    try:
        note.write_text(json.dumps({"pid": os.getpid(), "what": what}))
    except OSError:
        return None
    return note


def clear_holder_note(db: Path | str) -> None:
    """Remove this process's note (another process's is left alone)."""
    note = holder_note_path(db)
    try:
        if json.loads(note.read_text()).get("pid") == os.getpid():
            note.unlink()
    except (OSError, ValueError, AttributeError):
        pass


def holder_note(db: Path | str, holder: str) -> str | None:
    """``what (PID n)`` from the holder note of ``db`` when the lock's ``holder`` ("... (PID n)") is
    the process that wrote it; None otherwise (no note, a stale one, another holder)."""
    m = re.search(r"\(PID (\d+)\)", holder or "")
    if not m:
        return None
    try:
        data = json.loads(holder_note_path(db).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("pid") != int(m.group(1)) or not isinstance(data.get("what"), str):
        return None
    return f"{data['what'][:200]} (PID {data['pid']})"


def _lock_holder(message: str) -> str | None:
    """Who holds the lock, from DuckDB's message ("... held in /usr/bin/python3 (PID 123) ..."), or
    None when the error is not a lock conflict."""
    if "Could not set lock" not in message and "Conflicting lock" not in message:
        return None
    m = _LOCK_RE.search(message)
    return m.group("holder") if m else "another process"


def cursor(con: Connection) -> Connection:
    """A connection of its own over the same database (for a thread: a reader beside the writer)."""
    return con.cursor()


@contextlib.contextmanager
def open_store(db: Path | str | None = None, settings: Settings | None = None,
               read_only: bool = False) -> Iterator[Connection]:
    """Context manager over :func:`connect` that closes the connection."""
    con = connect(db, settings, read_only=read_only)
    try:
        yield con
    finally:
        con.close()


@contextlib.contextmanager
def open_reader(db: Path | str | None = None, settings: Settings | None = None) -> Iterator[Connection]:
    """A read-only connection for a command that only reads (closed after the block).

    A file that does not exist yet is created by a writer instead, so that reading a new path
    behaves as it always did (an empty store, not an error)."""
    settings = settings or Settings()
    path = Path(db if db is not None else settings.db)
    with open_store(path, settings, read_only=str(path) != ":memory:" and path.exists()) as con:
        yield con


def migrate(con: Connection) -> list[int]:
    """Bring the file's schema to this version (see ``store.migrations``); the versions applied."""
    return migrations.migrate(con, utcnow)


@contextlib.contextmanager
def transaction(con: Connection) -> Iterator[Connection]:
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


# ---- running statements ----------------------------------------------------------------------

def and_where(where: str, params: list[Any], *conditions: tuple[str, Any]) -> str:
    """``where`` with `` AND condition`` for each ``(condition, value)`` whose value is not None,
    its value appended to ``params``: ``and_where("api = ?", p, ("ts >= ?", start), ("ts < ?", end))``."""
    for condition, value in conditions:
        if value is not None:
            where += f" AND {condition}"
            params.append(value)
    return where


def run(con: Connection, query: str, params: Sequence[Any] | None = None) -> list[tuple]:
    """Execute and drain the result (DuckDB wants each result finished before the next statement)."""
    return con.execute(query, params or []).fetchall()


def one(con: Connection, query: str, params: Sequence[Any] | None = None) -> tuple | None:
    """The first row of a query (or None), with the result drained."""
    rows = con.execute(query, params or []).fetchall()
    return rows[0] if rows else None


def scalar(con: Connection, query: str, params: Sequence[Any] | None = None) -> Any:
    """The first column of the first row (None when there is no row)."""
    row = one(con, query, params)
    return row[0] if row else None


def many(con: Connection, query: str, rows: Sequence[Sequence[Any]]) -> None:
    """Execute one statement for each parameter row."""
    if rows:
        con.executemany(query, [list(r) for r in rows])


def frame(con: Connection, query: str, params: Sequence[Any] | None = None) -> pd.DataFrame:
    """A query's result as a pandas DataFrame (named columns)."""
    return con.execute(query, params or []).df()


def arrow(con: Connection, query: str, params: Sequence[Any] | None = None) -> pa.Table:
    """A query's result as an Arrow table."""
    return con.sql(query, params=list(params or [])).to_arrow_table()


def records(con: Connection, query: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
    """A query's rows as dicts keyed by column name."""
    cur = con.execute(query, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


@contextlib.contextmanager
def registered(con: Connection, name: str, data: pd.DataFrame | pa.Table) -> Iterator[str]:
    """``data`` visible to SQL as the view ``name`` for the block (then unregistered)."""
    con.register(name, data)
    try:
        yield name
    finally:
        con.unregister(name)


def insert_frame(con: Connection, table: str, data: pd.DataFrame, columns: Sequence[str],
                 constants: dict[str, Any] | None = None) -> None:
    """Insert ``data``'s ``columns`` (plus ``constants``, the same for every row) into ``table`` by name."""
    if not len(data):
        return
    consts = dict(constants or {})
    names = [*consts, *columns]
    with registered(con, "_insert_frame", data):
        run(con, f"INSERT INTO {table} ({', '.join(names)}) "
                 f"SELECT {', '.join(['?'] * len(consts) + list(columns))} FROM _insert_frame", list(consts.values()))


def numpy(con: Connection, query: str, params: Sequence[Any] | None = None) -> dict[str, Any]:
    """A query's columns as numpy arrays (by name)."""
    return con.sql(query, params=list(params or [])).fetchnumpy()


# ---- relations: ingest's chunks, parsed and typed in SQL --------------------------------------
# Ingest builds SQL text over a chunk held as a DuckDB relation (a deliberate speed choice: no
# round trip through Python); these run that text. ``alias`` names the relation inside ``sql``.

def from_arrow(con: Connection, table: pa.Table) -> Relation:
    """An Arrow table as a relation of ``con`` (lazy: nothing runs yet)."""
    return con.from_arrow(table)


def table_relation(con: Connection, name: str) -> Relation:
    """A table (a temp table of parsed rows) as a relation, for the helpers that take one."""
    return con.table(name)


def rel_query(rel: Relation, sql: str, alias: str = "_p") -> Relation:
    """``sql`` over ``rel`` (called ``alias`` in it), as a new lazy relation."""
    out = rel.query(alias, sql)
    if out is None:   # only for statements that return nothing, which DuckDB's stubs allow for
        raise ValueError(f"query over a relation returned no relation: {sql[:200]}")
    return out


def materialize(rel: Relation) -> Relation:
    """Run a relation now and hold its rows (a chunk parsed once, read by several statements)."""
    return rel.materialize()


def rel_rows(rel: Relation, sql: str, alias: str = "_p") -> list[tuple]:
    """Run ``sql`` over ``rel`` and return its rows (statements: their count row)."""
    return rel_query(rel, sql, alias).fetchall()


def rel_numpy(rel: Relation, sql: str, alias: str = "_p") -> dict[str, Any]:
    return rel_query(rel, sql, alias).fetchnumpy()


def rel_arrow(rel: Relation, sql: str, alias: str = "_p") -> pa.Table:
    return rel_query(rel, sql, alias).to_arrow_table()


def rel_insert(rel: Relation, table: str) -> None:
    """Append a relation's rows to ``table``, columns matched by name."""
    rel_rows(rel, f"INSERT INTO {table} BY NAME SELECT * FROM _rel_insert", "_rel_insert")


def append_arrow(con: Connection, table: str, rows: pa.Table) -> None:
    """Append an Arrow table's rows to ``table``, columns matched by name.

    Through a relation, not a registered view: a view registered inside a long transaction would
    keep every such table alive until the commit."""
    if rows.num_rows:
        rel_insert(con.from_arrow(rows), table)


def insert_lists(con: Connection, table: str, columns: dict[str, tuple[str, Sequence[Any]]]) -> None:
    """Insert rows given as Python lists, column by column (name -> (SQL type, values), all the same
    length), by name. For the few rows of bookkeeping tables: unlike building Arrow arrays from
    lists, which makes pyarrow import pandas (a quarter of a second of a command's start-up)."""
    lengths = {len(v) for _, v in columns.values()}
    if len(lengths) != 1:
        raise ValueError(f"insert_lists: columns of different lengths {sorted(lengths)} for {table}")
    if not lengths.pop():
        return
    cols = ", ".join(columns)
    values = ", ".join(f"unnest(?::{t}[])" for t, _ in columns.values())
    run(con, f"INSERT INTO {table} ({cols}) SELECT {values}", [list(v) for _, v in columns.values()])


def table_exists(con: Connection, name: str) -> bool:
    return bool(scalar(con, "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [name]))


__all__ = ["Connection", "Relation", "DatabaseError", "connect", "cursor", "open_store", "open_reader", "migrate",
           "transaction", "utcnow", "run", "one", "scalar", "many", "frame", "arrow", "records", "registered",
           "insert_frame", "numpy", "from_arrow", "table_relation", "rel_query", "materialize", "rel_rows", "rel_numpy", "rel_arrow",
           "rel_insert", "append_arrow", "table_exists"]
