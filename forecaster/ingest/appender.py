"""Appending a source's requests to the store in whole row groups.

DuckDB writes a big transaction's rows straight to the database file, a row group (122,880 rows)
at a time. When one transaction appends in several statements and a statement ends on a partial
row group, the commit merges and rewrites those row groups: for a JSON log that costs about as
much as the appends themselves, and the file comes out larger. So every append here but the
source's last one is a whole number of row groups: the rows of a chunk past the last full row
group wait (as the chunk's still-held parsed rows, or copied aside when several chunks' rows
wait together) and go in front of the next chunk's.
"""

from __future__ import annotations

import duckdb

from ..store.db import run

ROW_GROUP_ROWS = 122_880     # DuckDB's default row group size
_PENDING_TABLE = "_ingest_pending"


class Appender:
    """Appends the kept rows of parsed chunks to ``requests`` for one source."""

    def __init__(self, con: duckdb.DuckDBPyConnection, source_id: int, columns: str):
        self.con, self.source_id = con, source_id
        self._select = f"SELECT {columns}, {int(source_id)}::BIGINT AS source_id, line_no"
        self._pending: list[tuple[duckdb.DuckDBPyRelation, str]] = []   # (parsed rows, which of them)
        self._copied = False          # pending rows sit in _PENDING_TABLE
        self.pending_rows = 0

    def append(self, parsed: duckdb.DuckDBPyRelation, keep: str, n_keep: int) -> None:
        """Append the ``n_keep`` rows of ``parsed`` passing ``keep`` (an SQL condition over it)."""
        if n_keep <= 0:
            return
        total = self.pending_rows + n_keep
        full = total // ROW_GROUP_ROWS * ROW_GROUP_ROWS
        if not full:                     # not a row group yet: everything waits
            if self._pending or self._copied:
                self._copy_aside(parsed, keep)
            else:
                self._pending = [(parsed, keep)]
            self.pending_rows = total
            return
        take = full - self.pending_rows  # rows of this chunk that complete the last full row group
        if take == n_keep:
            head, rest = keep, None
        else:
            cut = parsed.query("_p", f"SELECT line_no FROM _p WHERE {keep} ORDER BY line_no LIMIT 1 OFFSET {take}"
                               ).fetchall()[0][0]
            head, rest = f"({keep}) AND line_no < {cut}", f"({keep}) AND line_no >= {cut}"
        if self._copied:
            # One statement over the copied rows alone: an INSERT reading a table and another
            # relation side by side writes a row group for each of them.
            self._copy_aside(parsed, head)
            self._insert([f"SELECT * FROM {_PENDING_TABLE}"])
        else:
            self._insert(self._waiting() + [self._part(parsed, head)])
        self._clear()
        if rest is not None:
            self._pending = [(parsed, rest)]
        self.pending_rows = total - full

    def flush(self) -> None:
        """Append every waiting row (the source's last append may end on a partial row group)."""
        parts = self._waiting()
        if parts:
            self._insert(parts)
        self._clear()
        self.pending_rows = 0

    def stored_ids_sql(self) -> str:
        """SQL for the request ids this source has stored so far, waiting rows included."""
        parts = [f"SELECT request_id FROM requests WHERE source_id = {int(self.source_id)}"]
        parts += [f"SELECT request_id FROM ({p})" for p in self._waiting()]
        return " UNION ALL ".join(parts)

    def drop_table(self) -> None:
        run(self.con, f"DROP TABLE IF EXISTS {_PENDING_TABLE}")

    def release(self) -> None:
        """Let go of the held chunk rows (after a failure, nothing more is appended)."""
        self._pending = []

    def _part(self, rel: duckdb.DuckDBPyRelation, where: str) -> str:
        return f"{self._select} FROM ({rel.sql_query()}) WHERE {where}"

    def _waiting(self) -> list[str]:
        parts = [self._part(rel, where) for rel, where in self._pending]
        if self._copied:
            parts.append(f"SELECT * FROM {_PENDING_TABLE}")
        return parts

    def _insert(self, parts: list[str]) -> None:
        run(self.con, "INSERT INTO requests " + " UNION ALL ".join(f"({p})" for p in parts))

    def _copy_aside(self, parsed: duckdb.DuckDBPyRelation, keep: str) -> None:
        # Rows of several chunks wait: copy them, so no more than one chunk's parsed rows stay held.
        if not self._copied:
            run(self.con, f"CREATE OR REPLACE TEMP TABLE {_PENDING_TABLE} AS SELECT * FROM requests LIMIT 0")
            self._copied = True
        parts = [self._part(rel, where) for rel, where in self._pending] + [self._part(parsed, keep)]
        run(self.con, f"INSERT INTO {_PENDING_TABLE} " + " UNION ALL ".join(f"({p})" for p in parts))
        self._pending = []

    def _clear(self) -> None:
        self._pending = []
        if self._copied:
            run(self.con, f"DELETE FROM {_PENDING_TABLE}")
            self._copied = False
