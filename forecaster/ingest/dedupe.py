"""Duplicate requests, found chunk by chunk while a source loads (so nothing is re-read at its end).

Two kinds, both keyed on ``request_id``:

- **committed**: the id was stored by an earlier source. Looked up through a cursor outside the
  load's transaction (it sees only committed rows), among rows in the chunk's time span.
- **repeats**: the id came earlier in this same source; the first line keeps it. Checked against
  the sorted 64-bit hashes of every id the source has stored so far (8 bytes a row: the one piece
  of state that grows with the source). A hash hit is confirmed on the ids themselves, so a
  collision never drops a row.

Rows to drop go to the temp table ``_ingest_drop`` (line numbers, kept for the whole source: rows
of a chunk may be appended with the next one), which the appends and rollup folds leave out.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ..store.db import append_arrow, from_arrow, numpy, rel_arrow, rel_numpy, rel_rows, run, scalar

DROP_TABLE = "_ingest_drop"
_IDS_TABLE = "_ingest_ids"
_CANDIDATES_TABLE = "_ingest_candidates"


def create_tables(con) -> None:
    """The per-source scratch tables (temp, inside the source's transaction)."""
    run(con, f"CREATE OR REPLACE TEMP TABLE {DROP_TABLE} (line_no BIGINT)")
    run(con, f"CREATE OR REPLACE TEMP TABLE {_IDS_TABLE} (request_id VARCHAR)")
    run(con, f"CREATE OR REPLACE TEMP TABLE {_CANDIDATES_TABLE} (line_no BIGINT)")


def drop_tables(con) -> None:
    run(con, f"DROP TABLE IF EXISTS {DROP_TABLE}")
    run(con, f"DROP TABLE IF EXISTS {_IDS_TABLE}")
    run(con, f"DROP TABLE IF EXISTS {_CANDIDATES_TABLE}")


class SeenIds:
    """The sorted, distinct 64-bit hashes of the request ids a source has stored so far."""

    def __init__(self) -> None:
        self._sorted = np.empty(0, dtype=np.uint64)

    def __len__(self) -> int:
        return len(self._sorted)

    def contains(self, h: np.ndarray) -> np.ndarray:
        """Which of ``h`` are in the set; fastest when ``h`` is sorted (numpy's binary search then
        starts each key where the last one ended, walking the big array once)."""
        if not len(self._sorted):
            return np.zeros(len(h), dtype=bool)
        i = np.searchsorted(self._sorted, h)
        i[i == len(self._sorted)] = 0
        return self._sorted[i] == h

    def add(self, h: np.ndarray) -> None:
        new = np.unique(h)
        self.add_sorted_new(new[~self.contains(new)])

    def add_sorted_new(self, new: np.ndarray) -> None:
        """Add hashes known to be sorted, distinct and not yet in the set (one merge)."""
        if len(new):
            self._sorted = np.insert(self._sorted, np.searchsorted(self._sorted, new), new)


def seed(con, stored_ids: str, seen: SeenIds) -> None:
    """Hash the ids already stored for this source (``stored_ids``: SQL for them; line-number ids of
    the chunks before the first that carried the log's own ids), so a logged id equal to one of
    them is still caught."""
    h = numpy(con, f"SELECT hash(request_id) AS h FROM ({stored_ids})")["h"]
    seen.add(np.asarray(h, dtype=np.uint64))


def mark_committed(con, committed, parsed, lo, hi) -> int:
    """Put the good rows of ``parsed`` whose id an earlier source committed (within [lo, hi]) in the
    drop table; returns how many rows that is."""
    span = f"ts BETWEEN TIMESTAMP '{lo.isoformat()}' AND TIMESTAMP '{hi.isoformat()}'"
    if scalar(committed, f"SELECT count(*) FROM (SELECT 1 FROM requests WHERE {span} LIMIT 1)") == 0:
        return 0   # nothing committed in this time span: the usual case, one zone-map probe
    ids = rel_arrow(parsed, "SELECT request_id FROM _p WHERE reason IS NULL")
    dups = rel_arrow(from_arrow(committed, ids), f"SELECT DISTINCT request_id FROM _ids SEMI JOIN "
                     f"(SELECT request_id FROM requests WHERE {span}) r USING (request_id)", "_ids")
    if not dups.num_rows:
        return 0
    append_arrow(con, _IDS_TABLE, dups)
    n = rel_rows(parsed, f"""INSERT INTO {DROP_TABLE} SELECT line_no FROM _p
                             WHERE reason IS NULL AND request_id IN (SELECT request_id FROM {_IDS_TABLE})""")[0][0]
    run(con, f"DELETE FROM {_IDS_TABLE}")
    return n


def mark_repeats(con, parsed, stored_ids: str, seen: SeenIds) -> int:
    """Put the good rows of ``parsed`` whose id an earlier line of this source carries (in this
    chunk, or among ``stored_ids``: SQL for the ids stored so far) in the drop table, beside any
    already there; returns how many rows were added."""
    # The usual chunk: no hash twice in it, none seen before, so no candidate to confirm. Told from
    # the sorted hashes alone (numpy's sort of 64-bit keys is ~10x its stable argsort), and the
    # set then grows by all of them: what the general pass below would do for such a chunk.
    h = np.sort(np.asarray(rel_numpy(parsed, "SELECT hash(request_id) AS h FROM _p WHERE reason IS NULL")["h"],
                           dtype=np.uint64))
    if not np.any(h[1:] == h[:-1]) and not np.any(seen.contains(h)):
        seen.add_sorted_new(h)
        return 0
    rows = rel_numpy(parsed, "SELECT line_no, hash(request_id) AS h FROM _p WHERE reason IS NULL")
    line_no, h = np.asarray(rows["line_no"]), np.asarray(rows["h"], dtype=np.uint64)
    if len(line_no) > 1 and not np.all(line_no[1:] > line_no[:-1]):
        order = np.lexsort((line_no, h))
    else:
        order = np.argsort(h, kind="stable")     # equal hashes stay in line order
    h, line_no = h[order], line_no[order]
    repeat = np.zeros(len(h), dtype=bool)
    repeat[1:] = h[1:] == h[:-1]                 # a hash an earlier line of this chunk has
    known = seen.contains(h)
    seen.add_sorted_new(h[~repeat & ~known])
    candidates = line_no[repeat | known]
    if not len(candidates):
        return 0
    # Confirm on the ids: an earlier good line of this chunk, or a row this source already stored.
    append_arrow(con, _CANDIDATES_TABLE, pa.table({"line_no": pa.array(candidates, pa.int64())}))
    n = rel_rows(parsed, f"""
        INSERT INTO {DROP_TABLE}
        SELECT c.line_no FROM _p c
        WHERE c.reason IS NULL AND c.line_no IN (SELECT line_no FROM {_CANDIDATES_TABLE})
          AND c.line_no NOT IN (SELECT line_no FROM {DROP_TABLE})
          AND (EXISTS (SELECT 1 FROM _p e WHERE e.reason IS NULL AND e.request_id = c.request_id
                                             AND e.line_no < c.line_no)
               OR c.request_id IN (SELECT request_id FROM ({stored_ids})))
    """)[0][0]
    run(con, f"DELETE FROM {_CANDIDATES_TABLE}")
    return n
