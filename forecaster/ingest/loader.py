"""Loading sources into DuckDB exactly once.

Per source, in one transaction: read the bytes in chunks of whole lines; per chunk, parse and type
them in SQL, put every bad line in ``rejects`` with its reason, insert the new requests
(deduplicated by ``request_id``) and fold them into the per-minute rollups. If the bytes were
loaded before (same checksum), or anything fails, the transaction rolls back: no partial source
is ever left behind, and a rerun gets the totals right.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import BinaryIO

from ..config import Settings
from ..errors import BadInput, SourceError
from ..store import requests as store_requests
from ..store import sources as store_sources
from ..store.db import Connection, transaction, utcnow
from . import llm
from .chunks import StreamStats, iter_chunks, prefetch
from .formats import LogFormat, all_formats, get_format
from .formats.custom import register_custom_formats
from .appender import ROW_GROUP_ROWS
from .chunkload import SourceLoad, detect_format, undetected, first_content_line, has_content, reject_oversize
from .chunkload import load_chunk as _load_chunk  # a module global, so tests can interrupt a load
from .batch import Progress, SmallSources
from .normalize import load_context
from .report import (FAILED_SOURCE_LOG, SOURCE_ERRORS, IngestReport, SourceReport, cwrecords_note, failed, skipped_copy,
                     skipped_seen, tail_note)
from .resume import find_resume, stored_key
from .routes import RouteTemplate, load_route_map
from .sources import Source, expand

log = logging.getLogger(__name__)

__all__ = ["IngestReport", "SourceReport", "ingest", "load_source", "apply_retention"]


class _AlreadyLoaded(Exception):
    """Raised inside the source transaction to roll it back when the bytes were loaded before."""

    def __init__(self, source_id: int):
        self.source_id = source_id


def ingest(
    con: Connection,
    uris: list[str],
    settings: Settings | None = None,
    fmt: str = "auto",
    route_map: Path | str | None = None,
    progress: Progress | None = None,
    stdin: BinaryIO | None = None,
) -> IngestReport:
    """Load every source named by ``uris`` (paths, globs, directories, '-', s3://, cwlogs://)."""
    settings = settings or Settings()
    register_custom_formats(settings.custom_formats)
    if fmt != "auto":
        get_format(fmt)  # unknown names fail before any work, listing the known ones
    rm = route_map or settings.route_map
    templates = tuple(load_route_map(rm)) if rm else ()
    t0 = time.perf_counter()
    report = IngestReport()
    sources = expand(uris, settings, con, stdin=stdin)
    small = SmallSources(con, settings, None if fmt == "auto" else get_format(fmt), templates, progress,
                         single=lambda src: load_source(con, src, settings, fmt, templates, progress))
    i = 0
    while i < len(sources):   # runs of small sources load many per transaction; the rest one by one
        j = i
        while j < len(sources) and j - i < small.max_files and small.eligible(sources[j]):
            j += 1
        if j == i:
            report.add(load_source(con, sources[i], settings, fmt, templates, progress))
            i += 1
        else:
            for sr in small.load(sources[i:j]):
                report.add(sr)
            i = j
    # model calls: attribute to gateway routes by request id (before retention), rebuild tokens_1m
    llm.refresh(con, [s.source_id for s in report.by_source if s.status == "loaded" and s.source_id is not None])
    apply_retention(con, settings)
    report.seconds = round(time.perf_counter() - t0, 3)
    return report


def _seen_before(con: Connection, src: Source) -> int | None:
    if src.etag is not None:
        return store_sources.seen_object(con, src.uri, src.etag)
    if src.quick_key is not None:
        return store_sources.seen_file(con, src.uri, src.size, src.mtime)
    return None


def load_source(
    con: Connection,
    src: Source,
    settings: Settings,
    fmt: str = "auto",
    templates: tuple[RouteTemplate, ...] = (),
    progress: Progress | None = None,
) -> SourceReport:
    """Load one source atomically; never raises for bad content, only records it."""
    t0 = time.perf_counter()
    sr = SourceReport(uri=src.uri)
    prior = _seen_before(con, src)
    if prior is not None:
        return skipped_seen(src.uri, prior)
    try:
        with transaction(con):
            _load_in_transaction(con, src, settings, fmt, templates, progress, sr)
            sr.seconds = round(time.perf_counter() - t0, 3)
            _record_source(con, src, sr)
    except _AlreadyLoaded as e:
        sr = skipped_copy(src.uri, e.source_id)
    except SOURCE_ERRORS as e:
        log.warning(FAILED_SOURCE_LOG, src.uri, e)
        sr = failed(src.uri, e)
    if sr.status == "loaded":   # subscription records: say what was unpacked and what was skipped
        sr.note = cwrecords_note(src.extra) or sr.note
    sr.seconds = round(time.perf_counter() - t0, 3)
    return sr


def _load_in_transaction(con, src: Source, settings: Settings, fmt: str, templates, progress, sr: SourceReport) -> None:
    sid = store_sources.next_id(con)
    sr.source_id = sid
    max_line = settings.ingest_max_line_kb * 1024
    log_format: LogFormat | None = None if fmt == "auto" else get_format(fmt)
    resume = find_resume(con, src.open, resumable=src.resumable)
    stream, prior = resume.stream, resume.prior
    stats = StreamStats(sha256=resume.sha256) if resume.sha256 is not None else StreamStats()
    if prior is not None and log_format is None and prior.format:
        log_format = get_format(prior.format)
        sr.format = log_format.name
    header: str | None = None   # for formats whose first line every chunk needs (CSV header)
    if prior is not None and log_format is not None and log_format.header:
        header = _first_content_line(resume.head)
    ctx = load_context(settings, templates, source_id=sid, content_ids=not src.resumable, now=utcnow())
    state = SourceLoad(con, sid)
    hold_tail = (src.hold_tail and not src.extra.get("gzip")
                 and (src.mtime is None or time.time() - src.mtime < settings.ingest_tail_wait_s))
    try:
        chunk_bytes = settings.ingest_chunk_mb << 20
        if src.size is not None and not src.extra.get("gzip"):   # a small file: no buffer far bigger than it
            chunk_bytes = min(chunk_bytes, max(1 << 20, src.size + 1))
        # The first chunk half as big: DuckDB starts on it while the reader reads the next. (Half of
        # the default 128 MB still holds a whole row group of JSON lines, so its append stays aligned.)
        chunks = iter_chunks(stream, chunk_bytes, stats, max_line_bytes=max(max_line, 1 << 20),
                             align_lines=ROW_GROUP_ROWS, hold_tail=hold_tail, first_line=resume.first_line,
                             first_chunk_bytes=chunk_bytes // 2 if chunk_bytes >= 64 << 20 else None)
        small = src.size is not None and src.size <= (settings.ingest_chunk_mb << 20) // 4
        for chunk in (chunks if small else prefetch(chunks)):   # one chunk: no read-ahead thread to start
            if log_format is None:
                log_format = detect_format(chunk)
                if log_format is None and not has_content(chunk):
                    sr.lines_blank += len(chunk)      # nothing but blank lines so far: keep looking
                    continue
                if log_format is None:
                    raise undetected(src.uri)
                sr.format = log_format.name
            if log_format.header and header is None:
                header = first_content_line(chunk)
            _load_chunk(con, state, chunk, log_format, ctx, settings, sr, header)
            sr.rows_rejected += reject_oversize(con, sid, stats, max_line, settings)
            if progress:   # a .gz's size is of its compressed bytes: no total to measure decompressed ones against
                progress(src.uri, stats.bytes_read, None if src.extra.get("gzip") else src.size)
        state.finish(con)
    finally:
        stream.close()
        state.close()
    sr.rows_rejected += reject_oversize(con, sid, stats, max_line, settings)
    if stats.stream_error and not stats.bytes_read and not sr.rows_loaded:
        raise SourceError(f"{src.uri}: nothing could be read: {stats.stream_error}")
    if stats.stream_error:
        store_sources.reject(con, sid, resume.first_line + stats.lines, None, stats.stream_error)
        sr.rows_rejected += 1
    sr.format = sr.format or (log_format.name if log_format else None)
    sr.bytes = stats.bytes_read
    if prior is not None and stats.whole_bytes == 0 and not stats.stream_error:
        raise _AlreadyLoaded(prior.source_id)       # nothing new past the earlier load's bytes
    checksum = stats.checksum
    if prior is None and stats.whole_bytes and not stats.stream_error:   # a damaged or empty read is not "the same bytes"
        same = store_sources.by_checksum(con, checksum)
        if same is not None:
            raise _AlreadyLoaded(same)
    sr.note = tail_note(stats.tail_bytes)
    lines_total = resume.first_line - 1 + stats.lines
    src.extra["resume"] = {
        "checksum": checksum, "offset_bytes": resume.offset, "loaded_bytes": resume.offset + stats.whole_bytes,
        "lines_total": lines_total, "head_sha256": stored_key(resume.head, lines_total),
        "parent_id": prior.source_id if prior else None, "tail_bytes": stats.tail_bytes,
    }
    if prior is not None:
        sr.note = (f"continues source {prior.source_id} after its {prior.loaded_bytes:,} bytes"
                   + (f"; {sr.note}" if sr.note else ""))
    if settings.retention_raw_days == 0:
        store_sources.delete_requests(con, sid)


def _first_content_line(head: bytes) -> str | None:
    for line in head.split(b"\n")[:-1]:
        if line.strip():
            return line.decode("utf-8", "replace") + "\n"
    return None


def _record_source(con, src: Source, sr: SourceReport) -> None:
    store_sources.insert(con, {
        "source_id": sr.source_id, "uri": src.uri, "size_bytes": src.size if src.size is not None else sr.bytes,
        "mtime": src.mtime, "etag": src.etag, "cursor": src.cursor, "format": sr.format,
        "rows_loaded": sr.rows_loaded, "rows_rejected": sr.rows_rejected, "rows_duplicate": sr.rows_duplicate,
        "lines_blank": sr.lines_blank, "requests_counted": sr.requests_counted, "loaded_at": utcnow(),
        "seconds": sr.seconds, **src.extra.get("resume", {}),
    })


def apply_retention(con: Connection, settings: Settings) -> int:
    """Drop raw requests older than the retention window (the rollups keep them counted)."""
    days = settings.retention_raw_days
    if not days:
        return 0
    return store_requests.drop_older_than(con, days, utcnow())
