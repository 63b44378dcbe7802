"""Loading one chunk of a source, and the checks around it.

A chunk is parsed and typed in SQL (see :class:`SourceLoad`); bad lines go to ``rejects`` with their
reason, requests already stored (by an earlier source, or by an earlier line of this one) are
dropped as duplicates (:mod:`.dedupe`), the rest is appended to ``requests``, and the chunk is
folded into the rollups (:mod:`.rollups`; counts rows go to the rollups only).
:mod:`forecaster.ingest.loader` runs this per chunk inside the source's transaction.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ..config import Settings
from ..errors import BadInput
from ..store import sources as sources_table
from ..store.db import (Connection, append_arrow, cursor, from_arrow, materialize, rel_arrow, rel_insert,
                        rel_query, rel_rows, run)
from . import dedupe, llm, rollups
from .chunks import Chunk, StreamStats, int64_array
from .appender import Appender
from .dedupe import SeenIds
from .formats import LogFormat, all_formats
from .mined_routes import MinedRoutes
from .normalize import OCCURRENCES_TABLE, NormalizeContext, normalized_sql
from .rollups import MinuteLedger


def reject_oversize(con, sid: int, stats: StreamStats, max_line: int, settings: Settings) -> int:
    n = len(stats.oversize)
    for line_no, head, length in stats.oversize:
        raw = head[: settings.reject_raw_max_chars].decode("utf-8", "backslashreplace")
        sources_table.reject(con, sid, line_no, raw, f"line too long: {length} bytes (max {max_line})")
    stats.oversize.clear()
    return n


def has_content(chunk: Chunk) -> bool:
    return any(b.strip() for b in chunk.lines.to_pylist())


def first_content_line(chunk: Chunk) -> str | None:
    for b in chunk.lines.slice(0, 1000).to_pylist():
        if b.strip():
            return b.decode("utf-8", "replace")
    return None


DETECT_SAMPLE = 600


def detect_format(chunk: Chunk, sample: int = DETECT_SAMPLE) -> LogFormat | None:
    """The format most sample lines match, the lines taken evenly from across the chunk (the whole
    file when it is small), so a log opening with a run of fragments is still recognised.

    None when no format matches half the sample, or a tenth of it and at least three lines.
    """
    n = len(chunk.lines)
    idx = np.unique(np.linspace(0, n - 1, min(n, sample)).astype(np.int64)) if n else np.empty(0, np.int64)
    lines: list[str] = []
    for b in chunk.lines.take(int64_array(idx)).to_pylist():   # (pa.array on numpy imports pandas)
        try:
            s = b.decode("utf-8").rstrip("\r\n")
        except UnicodeDecodeError:
            continue
        if s.strip():
            lines.append(s)
    best, best_score = None, 0.0
    for f in all_formats().values():
        score = f.detect(lines)
        if score > best_score:
            best, best_score = f, score
    return best if best_score >= 0.5 or (best_score >= 0.1 and best_score * len(lines) >= 3) else None


def undetected(uri: str) -> BadInput:
    """The error of a source whose format no registered one matches."""
    return BadInput(f"{uri}: cannot tell the log format from its first lines; name it with --format "
                    f"(one of: {', '.join(sorted(all_formats()))})")


class SourceLoad:
    """What one source's load carries from chunk to chunk.

    Chunks are parsed and typed on the load's own connection, inside its transaction, and held as
    DuckDB rows (a materialized relation, dropped after the chunk) from which the rejects, the
    inserts and the rollup fold are all taken: no Arrow round trip, and nothing per chunk outlives
    it. ``committed``: a cursor on the store outside the transaction, which sees only committed
    rows — the ones a new source may duplicate — so that lookup never scans this load's own rows.
    """

    def __init__(self, con: Connection, source_id: int):
        self.source_id = source_id
        self.committed = cursor(con)
        self.appender = Appender(con, source_id, _REQUEST_COLUMNS)
        self.seen = SeenIds()            # hashes of the ids stored so far (once any line carried its own id)
        self.logged = False              # some row carried the log's own request id
        self.dropped = False             # some row was dropped as a duplicate (the drop table is in use)
        self.occurrences = False         # the content-id occurrence table exists (stdin)
        self.dedupe_tables = False       # created with the first logged id (most small logs never need them)
        self.minutes = MinuteLedger()
        self.routes: MinedRoutes | None = None   # mined route templates (with the first chunk: it has the settings)
        rollups.ensure_macros(con)

    def finish(self, con: Connection) -> None:
        """Append the rows still waiting, refold the minutes several chunks shared, exactly, and drop
        the scratch tables (created in the source's transaction: a rollback drops them too)."""
        self.appender.flush()
        rollups.refold_minutes(con, self.committed, self.source_id, self.minutes.split)
        if self.routes is not None:
            self.routes.finish(con)
        self.appender.drop_table()
        if self.dedupe_tables:
            dedupe.drop_tables(con)
        if self.occurrences:
            run(con, f"DROP TABLE IF EXISTS {OCCURRENCES_TABLE}")

    def close(self) -> None:
        self.committed.close()


REQUEST_COLUMNS = _REQUEST_COLUMNS = ("ts, api, api_type, stage, route, method, status, latency_ms, integration_latency_ms, "
                    "bytes_out, region, client, request_id")

_STATS = """SELECT count(*) FILTER (WHERE reason IS NOT NULL), count(*) FILTER (WHERE reason IS NULL),
                   count(*) FILTER (WHERE reason IS NULL AND id_logged),
                   min(ts) FILTER (WHERE reason IS NULL), max(ts) FILTER (WHERE reason IS NULL) FROM _p"""


def load_chunk(con, state: SourceLoad, chunk: Chunk, fmt: LogFormat, ctx: NormalizeContext, settings: Settings,
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
    if ctx.content_ids and not state.occurrences:
        run(con, f"CREATE OR REPLACE TEMP TABLE {OCCURRENCES_TABLE} (h VARCHAR PRIMARY KEY, n BIGINT)")
        state.occurrences = True
    parsed = materialize(rel_query(from_arrow(con, table), normalized_sql(fmt, "_chunk", ctx, with_line=False), "_chunk"))
    n_bad, n_good, n_logged, lo, hi = rel_rows(parsed, _STATS)[0]
    if n_bad:
        _reject_bad(con, parsed, table, sid, keep)
    sr.rows_rejected += n_bad
    sr.lines_blank += lines_in - n_bad - n_good   # lines a format leaves out on purpose (a CSV header)
    if fmt.tokens is not None:   # model-call logs: their tokens to llm_calls (and only there, unless also requests)
        n_good = llm.load_chunk(con, parsed, table, fmt, ctx, settings, sr, n_good)
    if not n_good:
        return
    if state.routes is None:
        state.routes = MinedRoutes(sid, settings)
    if fmt.aggregated:
        parsed = state.routes.apply(con, parsed, "reason IS NULL")
        rollups.keep_counts(parsed, "reason IS NULL", sid)   # so the source can be forgotten exactly
        sr.requests_counted += rollups.fold_counts_chunk(parsed, "reason IS NULL")
        sr.rows_loaded += n_good
        return
    if ctx.content_ids:
        _count_occurrences(con, parsed)
    dropped = 0
    if n_logged or state.logged:
        if not state.dedupe_tables:
            dedupe.create_tables(con)
            state.dedupe_tables = True
        stored = state.appender.stored_ids_sql()
        if not state.logged:
            state.logged = True
            dedupe.seed(con, stored, state.seen)
        dropped = dedupe.mark_committed(con, state.committed, parsed, lo, hi)
        dropped += dedupe.mark_repeats(con, parsed, stored, state.seen)
        state.dropped = state.dropped or dropped > 0
    where = "reason IS NULL" + (f" AND line_no NOT IN (SELECT line_no FROM {dedupe.DROP_TABLE})" if state.dropped else "")
    parsed = state.routes.apply(con, parsed, where)
    state.appender.append(parsed, where, n_good - dropped)
    state.minutes.add(rollups.chunk_minutes(parsed, "reason IS NULL"))
    rollups.fold_chunk(parsed, where)
    sr.rows_loaded += n_good - dropped
    sr.rows_duplicate += dropped
    sr.requests_counted += n_good - dropped


def _count_occurrences(con, parsed) -> None:
    """Remember how often each line's content came (its id says which occurrence it is)."""
    parsed.query("_p", f"""INSERT INTO {OCCURRENCES_TABLE} SELECT _content_hash, count(*) FROM _p
                           WHERE _content_hash IS NOT NULL GROUP BY 1
                           ON CONFLICT (h) DO UPDATE SET n = n + EXCLUDED.n""").fetchall()


def _reject_bad(con, parsed, table: pa.Table, sid: int, keep: int) -> None:
    """Every line of the chunk with a reason goes to ``rejects``, its text taken from the chunk."""
    bad = rel_arrow(parsed, "SELECT line_no, reason FROM _p WHERE reason IS NOT NULL ORDER BY line_no")
    line_nos = table.column("line_no").to_numpy()
    at = np.searchsorted(line_nos, bad.column("line_no").to_numpy())
    lines = table.column("line").take(pa.array(at))
    rows = pa.Table.from_arrays([bad.column("line_no"), lines, bad.column("reason")], names=["line_no", "line", "reason"])
    rel_insert(rel_query(from_arrow(con, rows), f"SELECT {sid}::BIGINT AS source_id, line_no, "
                         f"left(regexp_replace(line, '\r?\n$', ''), {keep}) AS raw, reason FROM _r", "_r"), "rejects")


def _append(con, table: str, rows: pa.Table) -> None:
    """Insert an Arrow table into a store table (columns by name; see ``store.db.append_arrow``)."""
    append_arrow(con, table, rows)
