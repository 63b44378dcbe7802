"""Appending a source's requests to the store in whole row groups.

DuckDB writes a big transaction's rows straight to the database file, a row group (122,880 rows)
at a time. When one transaction appends in several statements and a statement ends on a partial
row group, the next checkpoint merges and rewrites the table's row groups: for a JSON log that
costs about as much as the appends themselves, needs memory in proportion to the source, and
the file comes out larger. So every append here but the source's last is a whole number of row
groups. The chunk reader already cuts chunks after a multiple of 122,880 lines, so a chunk
without rejects or duplicates goes in as it is; otherwise its whole row groups go in and the rows
past them are copied aside, to go in, in whole row groups, with those left over by later chunks
(one statement reads one relation: an INSERT over two side by side writes a row group for each).
"""

from __future__ import annotations

import duckdb

from ..store.db import one, relation, run

ROW_GROUP_ROWS = 122_880     # DuckDB's default row group size
_PENDING_TABLE = "_ingest_pending"


class Appender:
    """Appends the kept rows of parsed chunks to ``requests`` for one source."""

    def __init__(self, con: duckdb.DuckDBPyConnection, source_id: int, columns: str):
        self.con, self.source_id = con, source_id
        self._select = f"SELECT {columns}, {int(source_id)}::BIGINT AS source_id, line_no"
        self._table = False          # the pending table exists
        self.pending_rows = 0

    def append(self, parsed: duckdb.DuckDBPyRelation, keep: str, n_keep: int) -> None:
        """Append the ``n_keep`` rows of ``parsed`` passing ``keep`` (an SQL condition over it)."""
        if n_keep <= 0:
            return
        whole = n_keep // ROW_GROUP_ROWS * ROW_GROUP_ROWS
        if whole == n_keep:
            self._insert_from(parsed, keep)
            return
        if whole:
            cut = relation(parsed, "_p", f"SELECT line_no FROM _p WHERE {keep} ORDER BY line_no "
                                     f"LIMIT 1 OFFSET {whole}").fetchall()[0][0]
            self._insert_from(parsed, f"({keep}) AND line_no < {cut}")
            keep = f"({keep}) AND line_no >= {cut}"
            n_keep -= whole
        self._copy_aside(parsed, keep)
        self.pending_rows += n_keep
        whole = self.pending_rows // ROW_GROUP_ROWS * ROW_GROUP_ROWS
        if whole:
            cut = one(self.con, f"SELECT line_no FROM {_PENDING_TABLE} ORDER BY line_no LIMIT 1 OFFSET {whole}")
            where = f"WHERE line_no < {cut[0]}" if cut else ""
            run(self.con, f"INSERT INTO requests SELECT * FROM {_PENDING_TABLE} {where} ORDER BY line_no")
            run(self.con, f"DELETE FROM {_PENDING_TABLE} {where}")
            self.pending_rows -= whole

    def flush(self) -> None:
        """Append every waiting row (the source's last append may end on a partial row group)."""
        if self.pending_rows:
            run(self.con, f"INSERT INTO requests SELECT * FROM {_PENDING_TABLE} ORDER BY line_no")
            run(self.con, f"DELETE FROM {_PENDING_TABLE}")
        self.pending_rows = 0

    def stored_ids_sql(self) -> str:
        """SQL for the request ids this source has stored so far, waiting rows included."""
        sql = f"SELECT request_id FROM requests WHERE source_id = {int(self.source_id)}"
        if self._table:
            sql += f" UNION ALL SELECT request_id FROM {_PENDING_TABLE}"
        return sql

    def drop_table(self) -> None:
        run(self.con, f"DROP TABLE IF EXISTS {_PENDING_TABLE}")
        self._table = False

    def _insert_from(self, parsed: duckdb.DuckDBPyRelation, where: str) -> None:
        relation(parsed, "_p", f"{self._select} FROM _p WHERE {where}").insert_into("requests")

    def _copy_aside(self, parsed: duckdb.DuckDBPyRelation, where: str) -> None:
        if not self._table:
            run(self.con, f"CREATE OR REPLACE TEMP TABLE {_PENDING_TABLE} AS SELECT * FROM requests LIMIT 0")
            self._table = True
        relation(parsed, "_p", f"INSERT INTO {_PENDING_TABLE} {self._select} FROM _p WHERE {where}").fetchall()
