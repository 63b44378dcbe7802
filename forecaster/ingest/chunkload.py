"""Loading one chunk of a source, and the checks around it.

A chunk is parsed and typed on a private in-memory DuckDB (see :class:`Workers`); bad lines go to
``rejects`` with their reason, requests already committed by earlier sources are dropped as
duplicates, and the rest is appended to ``requests`` (or staged for the rollups, for counts).
:mod:`forecaster.ingest.loader` runs this per chunk inside the source's transaction.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ..config import Settings
from ..store.db import one, run
from .chunks import Chunk, StreamStats
from .formats import LogFormat, all_formats
from .normalize import NormalizeContext, normalized_sql


def reject_oversize(con, sid: int, stats: StreamStats, max_line: int, settings: Settings) -> int:
    n = len(stats.oversize)
    for line_no, head, length in stats.oversize:
        raw = head[: settings.reject_raw_max_chars].decode("utf-8", "backslashreplace")
        run(con, "INSERT INTO rejects VALUES (?, ?, ?, ?)",
                    [sid, line_no, raw, f"line too long: {length} bytes (max {max_line})"])
    stats.oversize.clear()
    return n


def has_content(chunk: Chunk) -> bool:
    return any(b.strip() for b in chunk.lines.to_pylist())


def first_content_line(chunk: Chunk) -> str | None:
    for b in chunk.lines.slice(0, 1000).to_pylist():
        if b.strip():
            return b.decode("utf-8", "replace")
    return None


def detect_format(chunk: Chunk, sample: int = 50) -> LogFormat | None:
    """The best-scoring format on the chunk's first non-blank, decodable lines (None if none fits)."""
    lines: list[str] = []
    for b in chunk.lines.slice(0, min(len(chunk.lines), sample * 4)).to_pylist():
        try:
            s = b.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            continue
        if s.strip():
            lines.append(s)
        if len(lines) >= sample:
            break
    best, best_score = None, 0.0
    for f in all_formats().values():
        score = f.detect(lines)
        if score > best_score:
            best, best_score = f, score
    return best if best_score >= 0.5 else None


class Workers:
    """The two side connections a load uses besides its own transaction.

    ``parse``: a private in-memory DuckDB where chunks are parsed and typed; its results come back
    as Arrow tables, so nothing per chunk accumulates inside the load's transaction (memory stays
    flat whatever the file size). ``committed``: a cursor on the store outside the transaction,
    which sees only committed rows — the ones a new source may duplicate — so the dedupe lookup
    never scans this load's own uncommitted rows.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, settings: Settings):
        config = {"threads": settings.duckdb_threads} if settings.duckdb_threads else {}
        self.parse = duckdb.connect(config=config)
        self.committed = con.cursor()

    def close(self) -> None:
        self.parse.close()
        self.committed.close()


_COUNT_COLUMNS = "ts, api, api_type, stage, route, region, status, bytes_out, requests"
_REQUEST_COLUMNS = ("ts, api, api_type, stage, route, method, status, latency_ms, integration_latency_ms, "
                    "bytes_out, region, client, request_id")


def load_chunk(con, w: Workers, chunk: Chunk, fmt: LogFormat, ctx: NormalizeContext, settings: Settings,
                sr, header: str | None = None) -> None:
    sid, keep = ctx.source_id, settings.reject_raw_max_chars
    table, rejects, blank = chunk.split(settings.ingest_max_line_kb * 1024, keep)
    lines_in = table.num_rows
    if header is not None and chunk.first_line_no > 1:
        # The source's header, as line 0, so a later chunk is read in the file's column order.
        head = pa.table({"line_no": pa.array([0], pa.int64()), "line": pa.array([header], table.schema.field("line").type)})
        table = pa.concat_tables([head, table])
    sr.lines_blank += blank
    if rejects:
        _append(con, "rejects", pa.table({
            "source_id": pa.array([sid] * len(rejects), pa.int64()),
            "line_no": pa.array([r[0] for r in rejects], pa.int64()),
            "raw": pa.array([r[1] for r in rejects], pa.string()),
            "reason": pa.array([r[2] for r in rejects], pa.string())}))
        sr.rows_rejected += len(rejects)
    w.parse.register("_chunk", table)
    try:
        parsed = w.parse.sql(normalized_sql(fmt, "_chunk", ctx)).to_arrow_table()
    finally:
        w.parse.unregister("_chunk")
    w.parse.register("_p", parsed)
    try:
        n_bad, n_good, n_logged, lo, hi = one(w.parse, "SELECT count(*) FILTER (WHERE reason IS NOT NULL), "
                                             "count(*) FILTER (WHERE reason IS NULL), "
                                             "count(*) FILTER (WHERE reason IS NULL AND id_logged), "
                                             "min(ts) FILTER (WHERE reason IS NULL), max(ts) FILTER (WHERE reason IS NULL) FROM _p")
        if n_bad:
            _append(con, "rejects", w.parse.sql(
                f"SELECT {sid}::BIGINT, line_no, left(regexp_replace(line, '\r?\n$', ''), {keep}), reason "
                f"FROM _p WHERE reason IS NOT NULL").to_arrow_table())
        sr.rows_rejected += n_bad
        sr.lines_blank += lines_in - n_bad - n_good   # lines a format leaves out on purpose (a CSV header)
        if fmt.aggregated:
            # Staged, and folded into the rollups once at the end of the source.
            good = w.parse.sql(f"SELECT {_COUNT_COLUMNS} FROM _p WHERE reason IS NULL").to_arrow_table()
            if good.num_rows:
                run(con, f"CREATE TEMP TABLE IF NOT EXISTS _counts_stage AS SELECT {_COUNT_COLUMNS} FROM requests "
                         f"CROSS JOIN (SELECT 1::BIGINT AS requests) LIMIT 0")
                con.from_arrow(good).insert_into("_counts_stage")
            sr.rows_loaded += n_good
            return
        if lo is None:
            return
        good = w.parse.sql(f"SELECT {_REQUEST_COLUMNS}, {sid}::BIGINT AS source_id, line_no "
                           f"FROM _p WHERE reason IS NULL").to_arrow_table()
    finally:
        w.parse.unregister("_p")
    if not n_logged:   # ids made from source and line number: unique by construction
        _append(con, "requests", good)
        sr.rows_loaded += good.num_rows
        return
    sr.extra_logged_ids = True
    # Requests already committed by earlier sources (same id, same time span) are duplicates.
    w.committed.register("_ids", good.select(["request_id"]))
    try:
        dups = w.committed.sql(
            f"SELECT DISTINCT i.request_id FROM _ids i SEMI JOIN (SELECT request_id FROM requests "
            f"WHERE ts BETWEEN TIMESTAMP '{lo.isoformat()}' AND TIMESTAMP '{hi.isoformat()}') r USING (request_id)"
        ).to_arrow_table()
    finally:
        w.committed.unregister("_ids")
    if dups.num_rows:
        good = good.filter(pc.invert(pc.is_in(good["request_id"], value_set=dups["request_id"])))
    _append(con, "requests", good)
    sr.rows_loaded += good.num_rows
    sr.rows_duplicate += n_good - good.num_rows


def _append(con, table: str, rows: pa.Table) -> None:
    """Insert an Arrow table into a store table (columns in table order).

    Through a relation, not a registered view: a view registered inside the load's transaction
    would keep every chunk's Arrow table alive until the commit.
    """
    if rows.num_rows == 0:
        return
    con.from_arrow(rows).insert_into(table)


def dedupe_source(con, sid: int) -> int:
    """Repeated request ids inside one source keep their first line; returns how many were dropped.

    Done once per source, over its rows, so a repeat far apart in a huge file is caught too.
    """
    # 64-bit hashes keep the check small; a collision only costs the exact pass below, never a miss.
    n = one(con, "SELECT count(*) - count(DISTINCT hash(request_id)) FROM requests WHERE source_id = ?", [sid])[0]
    if n:
        n = one(con, "SELECT count(*) - count(DISTINCT request_id) FROM requests WHERE source_id = ?", [sid])[0]
    if n:
        run(con, """DELETE FROM requests WHERE source_id = ? AND line_no IN (
                        SELECT line_no FROM (SELECT line_no, row_number() OVER (PARTITION BY request_id ORDER BY line_no) AS k
                                             FROM requests WHERE source_id = ?) WHERE k > 1)""", [sid, sid])
    return n
