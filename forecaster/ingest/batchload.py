"""One transaction's work for a batch of small sources (see :mod:`.batch`): a few statements in all.

Every source's good lines go into one Arrow table per format, each line number carrying its source id
in the high 32 bits (``source_id << 32 | line_no``); one statement parses and types them all
(:func:`.normalize.normalized_sql`, ids made from line numbers per source) into a temp table, from
which the rejects, the requests and the rollup fold are each taken by one statement. The
per-source counts come from one GROUP BY, and the ``sources`` rows go in as one append.

Duplicates follow :mod:`.dedupe`'s rule, as if the sources were loaded one after the other: in a
source where some line carries the log's own request id, a row is dropped when an earlier line of
the source has its id, or when a stored row has it (committed before, or kept by an earlier source
of the batch) within the source's time span. Only rows whose id comes more than once in the batch,
or is found committed, are looked at, in source order.

Rollups: a minute several sources of one batch share is aggregated at once, so its percentiles are
exact, where loads one by one merge them (a latency-count-weighted mean); counts and sums are the same.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
import pyarrow as pa

from ..config import Settings
from ..store import route_paths as store_routes
from ..store import sources as store_sources
from ..store.db import Connection, registered, run, scalar, table_relation, utcnow
from . import rollups
from .chunkload import REQUEST_COLUMNS
from .chunks import Chunk, StreamStats, int64_array
from .formats import LogFormat
from .mined_routes import MinedRoutes
from .normalize import LINE_MASK, load_context, normalized_sql
from .report import SourceReport, cwrecords_note, tail_note
from .resume import stored_key
from .routes import RouteTemplate
from .sources import Source

ROWS = "_batch_rows"        # the batch's parsed lines
_DROP = "_batch_drop"       # keys (packed line numbers) of rows dropped as duplicates


@dataclass
class Load:
    """A small source read whole, waiting for its batch."""

    src: Source
    sr: SourceReport
    stats: StreamStats
    head: bytes
    fmt: LogFormat | None
    table: pa.Table | None = None     # good text lines: line_no, line
    rejects: list[tuple[int, str | None, str]] = field(default_factory=list)   # line_no, raw, reason
    seconds: float = 0.0

    @property
    def checksum(self) -> str | None:
        """The checksum other sources are matched by: None for an empty or damaged read."""
        return self.stats.checksum if self.stats.whole_bytes and not self.stats.stream_error else None

    @property
    def stored_key(self) -> str | None:
        return stored_key(self.head, self.stats.lines) if self.stats.whole_bytes else None

    def take(self, chunk: Chunk | None, settings: Settings) -> None:
        """Sort the source's lines as the streaming path does: good text, rejects, blanks."""
        sr, stats = self.sr, self.stats
        max_line, keep = settings.ingest_max_line_kb * 1024, settings.reject_raw_max_chars
        if chunk is not None and self.fmt is None:
            sr.lines_blank += len(chunk)          # nothing but blank lines
        elif chunk is not None:
            table, rejects, blank = chunk.split(max_line, keep)
            self.table = table if table.num_rows else None
            self.rejects.extend(rejects)
            sr.lines_blank += blank
        for line_no, head, length in stats.oversize:
            self.rejects.append((line_no, head[:keep].decode("utf-8", "backslashreplace"),
                                 f"line too long: {length} bytes (max {max_line})"))
        if stats.stream_error:
            self.rejects.append((1 + stats.lines, None, stats.stream_error))
        sr.rows_rejected += len(self.rejects)
        sr.bytes = stats.bytes_read
        sr.note = tail_note(stats.tail_bytes)

    def resume(self) -> dict[str, Any]:
        """The byte range this load covers (see :mod:`.resume`)."""
        st = self.stats
        return {"checksum": st.checksum, "offset_bytes": 0, "loaded_bytes": st.whole_bytes, "lines_total": st.lines,
                "head_sha256": stored_key(self.head, st.lines), "parent_id": None, "tail_bytes": st.tail_bytes}


@dataclass
class _Counts:
    bad: int
    good: int
    logged: int
    lo: dt.datetime | None
    hi: dt.datetime | None
    parsed: int


def load_batch(con: Connection, loads: list[Load], settings: Settings, templates: tuple[RouteTemplate, ...]) -> None:
    """Load ``loads`` (source ids assigned) inside the caller's transaction; fills their reports."""
    by_id = {ld.sr.source_id: ld for ld in loads if ld.sr.source_id is not None}
    counts: dict[int, _Counts] = {}
    dropped: dict[int, int] = {}
    groups: dict[str, list[Load]] = {}
    for ld in loads:
        if ld.table is not None and ld.fmt is not None:
            groups.setdefault(ld.fmt.name, []).append(ld)
    if groups:
        _parse(con, groups, settings, templates)
        for sid, bad, good, logged, lo, hi, parsed in run(con, f"""
                SELECT source_id, count(*) FILTER (WHERE reason IS NOT NULL), count(*) FILTER (WHERE reason IS NULL),
                       count(*) FILTER (WHERE reason IS NULL AND id_logged),
                       min(ts) FILTER (WHERE reason IS NULL), max(ts) FILTER (WHERE reason IS NULL), count(*)
                FROM {ROWS} GROUP BY 1"""):
            counts[sid] = _Counts(bad, good, logged, lo, hi, parsed)
        run(con, f"""INSERT INTO rejects (source_id, line_no, raw, reason)
                     SELECT source_id, line_no, left(regexp_replace(line, '\r?\n$', ''), {settings.reject_raw_max_chars}),
                            reason FROM {ROWS} WHERE reason IS NOT NULL""")
        dropped = _duplicates(con, counts)
        where = "reason IS NULL" + (f" AND _key NOT IN (SELECT _key FROM {_DROP})" if dropped else "")
        mining = _mine_routes(con, settings, where)
        run(con, f"""INSERT INTO requests ({REQUEST_COLUMNS}, source_id, line_no)
                     SELECT {REQUEST_COLUMNS}, source_id, line_no FROM {ROWS} WHERE {where} ORDER BY _key""")
        rollups.ensure_macros(con)
        rollups.fold_table(con, ROWS, where)
        if mining is not None:   # stored routes mining moved whole into another: their rows follow
            store_routes.merge_routes(con, [(a, old, new) for (a, old), new in sorted(mining.merges.items())])
    store_sources.reject_many(con, [(sid, *r) for sid, ld in by_id.items() for r in ld.rejects])
    for sid, c in counts.items():
        sr, dups = by_id[sid].sr, dropped.get(sid, 0)
        table = by_id[sid].table
        sr.rows_rejected += c.bad
        sr.lines_blank += (table.num_rows if table is not None else 0) - c.bad - c.good
        sr.rows_loaded = sr.requests_counted = c.good - dups
        sr.rows_duplicate = dups
    ids = [ld.sr.source_id for ld in loads]
    if settings.retention_raw_days == 0:
        store_sources.delete_requests_of(con, [i for i in ids if i is not None])
    now = utcnow()
    rows = []
    for ld in loads:
        ld.src.extra["resume"] = ld.resume()
        ld.sr.note = cwrecords_note(ld.src.extra) or ld.sr.note
        ld.sr.seconds = round(ld.seconds, 3)
        rows.append(_source_row(ld, now))
    store_sources.insert_many(con, rows)
    run(con, f"DROP TABLE IF EXISTS {ROWS}")
    run(con, f"DROP TABLE IF EXISTS {_DROP}")


def _parse(con: Connection, groups: dict[str, list[Load]], settings: Settings,
           templates: tuple[RouteTemplate, ...]) -> None:
    """Parse every group's lines (one format each) into the temp table ``ROWS`` in one statement."""
    ctx = load_context(settings, templates, packed_ids=True, now=utcnow())
    with contextlib.ExitStack() as stack:
        parts = []
        for k, group in enumerate(groups.values()):
            view = stack.enter_context(registered(con, f"_batch_lines_{k}", _lines(group)))
            fmt = group[0].fmt
            assert fmt is not None
            parts.append(f"""SELECT line_no >> 32 AS source_id, line_no & {LINE_MASK} AS line_no, line_no AS _key,
                                    * EXCLUDE (line_no)
                             FROM ({normalized_sql(fmt, view, ctx)})""")
        run(con, f"CREATE OR REPLACE TEMP TABLE {ROWS} AS " + " UNION ALL BY NAME ".join(parts))


def _mine_routes(con: Connection, settings: Settings, where: str) -> MinedRoutes | None:
    """Route mining over the batch's rows at once, as over one chunk (:mod:`.mined_routes`): the
    path keys counted per source, then the rows given the routes they map to."""
    if not settings.route_mining:
        return None
    mining = MinedRoutes(0, settings)       # its counts are the batch's; they are recorded per source below
    rel = table_relation(con, ROWS)
    need_map = mining.apply(con, rel, where) is not rel   # a new relation: some key maps to another route
    store_routes.add_counts_from(con, ROWS, where)
    if need_map:
        store_routes.map_table(con, ROWS)
    return mining


def _lines(group: list[Load]) -> pa.Table:
    """The good lines of a group's sources as one table, line numbers packed with their source id."""
    keys: list[np.ndarray] = []
    lines: list[pa.Array] = []
    for ld in group:
        assert ld.table is not None and ld.sr.source_id is not None
        line_no = np.concatenate([c.to_numpy() for c in ld.table.column("line_no").chunks])
        keys.append(line_no + (ld.sr.source_id << 32))
        lines.extend(c if c.type == pa.string() else c.cast(pa.string()) for c in ld.table.column("line").chunks)
    # One contiguous column, cut in record batches so DuckDB's scan spreads them over its threads
    # (a batch per source's piece would make thousands of tiny scans).
    table = pa.table({"line_no": int64_array(np.concatenate(keys)), "line": pa.concat_arrays(lines)})
    return pa.Table.from_batches(table.to_batches(max_chunksize=16384), schema=table.schema)


def _duplicates(con: Connection, counts: dict[int, _Counts]) -> dict[int, int]:
    """Mark the batch's duplicate rows (in ``_DROP``); returns how many per source."""
    logged = sorted(sid for sid, c in counts.items() if c.logged)
    if not logged:
        return {}   # ids made from line numbers: nothing to look up (the streaming path does the same)
    lo = min(t for s in logged if (t := counts[s].lo) is not None)
    hi = max(t for s in logged if (t := counts[s].hi) is not None)
    committed: list[tuple] = []
    if scalar(con, "SELECT count(*) FROM (SELECT 1 FROM requests WHERE ts BETWEEN ? AND ? LIMIT 1)", [lo, hi]):
        committed = run(con, f"""SELECT request_id, ts FROM requests WHERE ts BETWEEN ? AND ? AND request_id IN
                                 (SELECT request_id FROM {ROWS} WHERE reason IS NULL
                                  AND source_id IN (SELECT unnest(?::BIGINT[])))""", [lo, hi, logged])
    rows = run(con, f"""SELECT _key, source_id, request_id, ts FROM {ROWS} WHERE reason IS NULL AND request_id IN (
                            SELECT request_id FROM {ROWS} WHERE reason IS NULL GROUP BY 1 HAVING count(*) > 1
                            UNION ALL SELECT unnest(?::VARCHAR[]))
                        ORDER BY _key""", [sorted({r[0] for r in committed})])
    drop, per_source = _resolve(rows, committed, counts)
    if drop:
        run(con, f"CREATE OR REPLACE TEMP TABLE {_DROP} AS SELECT unnest(?::BIGINT[]) AS _key", [drop])
    return per_source


def _resolve(rows: Iterable[tuple], committed: list[tuple], counts: dict[int, _Counts]) -> tuple[list[int], dict[int, int]]:
    """Which of ``rows`` (key, source, id, ts; in key order) one-by-one loading would drop."""
    stored: dict[str, list[dt.datetime]] = {}
    for rid, ts in committed:
        stored.setdefault(rid, []).append(ts)
    drop: list[int] = []
    per_source: dict[int, int] = {}
    for sid, group in itertools.groupby(rows, key=lambda r: r[1]):
        c = counts[sid]
        lo, hi = c.lo, c.hi
        kept: list[tuple[str, dt.datetime]] = []
        earlier: set[str] = set()
        for key, _, rid, ts in group:
            if c.logged and lo is not None and hi is not None and (
                    rid in earlier or any(lo <= t <= hi for t in stored.get(rid, ()))):
                drop.append(key)
                per_source[sid] = per_source.get(sid, 0) + 1
            else:
                kept.append((rid, ts))
            earlier.add(rid)
        for rid, ts in kept:      # stored once the source is done (its own rows are not "committed" to it)
            stored.setdefault(rid, []).append(ts)
    return drop, per_source


def _source_row(ld: Load, now: dt.datetime) -> dict[str, Any]:
    src, sr = ld.src, ld.sr
    return {"source_id": sr.source_id, "uri": src.uri, "size_bytes": src.size if src.size is not None else sr.bytes,
            "mtime": src.mtime, "etag": src.etag, "cursor": src.cursor, "format": sr.format,
            "rows_loaded": sr.rows_loaded, "rows_rejected": sr.rows_rejected, "rows_duplicate": sr.rows_duplicate,
            "lines_blank": sr.lines_blank, "requests_counted": sr.requests_counted, "loaded_at": now,
            "seconds": sr.seconds, **ld.resume()}
