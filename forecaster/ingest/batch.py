"""Many small sources per transaction (S3 and CloudWatch exports, ALB and Firehose objects of a few KB).

A transaction per source costs a dozen statements, far more than parsing a small source. Here a
source of at most ``ingest_batch_kb`` (and a quarter of ``ingest_chunk_mb``) is read whole, the way
the streaming path reads it (:func:`.chunks.iter_chunks`: the same checksum, held last line,
damaged-stream and too-long-line handling, the format detected on the same lines), and up to
``ingest_batch_files`` of them load in ONE transaction (:mod:`.batchload`): one SQL parse per
format for all their lines, the source id in the high bits of each line number, so the ids made
from line numbers, the rejects and the per-source counts are those of loading them one by one.
A batch is all-or-nothing: a crash leaves none of it, and the next run loads it again.

Before anything is parsed, for the whole run of sources at once: a source already loaded (path +
size + mtime, or key + ETag) is skipped, and so are the same bytes under another name (by checksum).
A source the batch cannot take as it is goes through the streaming path, after the batch before it
is committed, so loads keep their order: one whose first lines match an earlier load (a grown or
rotated file continues it), a CSV of counts (its header), model-call logs (their tokens), one
bigger than it said, one met twice.
If the batch's SQL fails, it rolls back and its sources load one by one (each failing alone).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable

import pyarrow as pa

from ..config import Settings
from ..errors import SourceError
from ..store import sources as store_sources
from ..store.db import Connection, transaction
from .appender import ROW_GROUP_ROWS
from .batchload import Load, load_batch
from .chunkload import detect_format, has_content, undetected
from .chunks import Chunk, StreamStats, iter_chunks
from .formats import LogFormat
from .report import FAILED_SOURCE_LOG, SOURCE_ERRORS, SourceReport, failed, skipped_copy, skipped_seen
from .resume import HEAD_BYTES, head_keys, stored_key
from .routes import RouteTemplate
from .sources import Source, sniff

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int | None], None]   # (uri, bytes read, total bytes or None)
Single = Callable[[Source], SourceReport]            # the streaming path, one source in its own transaction

_MIN_READ = 1 << 16


@dataclass
class _Item:
    """One source of a run of small ones, from its read to its report."""

    src: Source
    sr: SourceReport | None = None    # set once the source is settled (skipped, failed or loaded)
    single: bool = False              # to load through the streaming path
    load: Load | None = None          # read and ready for a batch
    copy_of: "_Item | None" = None    # the same bytes as a source earlier in the batch


class SmallSources:
    """Loads runs of small sources, many per transaction (see the module docstring)."""

    def __init__(self, con: Connection, settings: Settings, fmt: LogFormat | None,
                 templates: tuple[RouteTemplate, ...], progress: Progress | None, single: Single):
        self.con, self.settings, self.fmt, self.templates = con, settings, fmt, templates
        self.progress, self.single_path = progress, single
        self.max_bytes = min(settings.ingest_batch_kb << 10, (settings.ingest_chunk_mb << 20) // 4)
        self.max_files = settings.ingest_batch_files if settings.ingest_batch_files > 1 else 0
        self.batch_bytes = settings.ingest_chunk_mb << 20

    def eligible(self, src: Source) -> bool:
        """Whether ``src`` may load in a batch (what its listing says; its read may still say no)."""
        return (self.max_files > 1 and src.resumable and src.size is not None and src.size <= self.max_bytes
                and (self.fmt is None or batchable(self.fmt)))

    def load(self, sources: list[Source]) -> list[SourceReport]:
        """Load ``sources`` (each :meth:`eligible`), in order; one report each, in the same order."""
        items = [_Item(s) for s in sources]
        keys = [(s.uri, s.size if s.quick_key else None, s.mtime if s.quick_key else None, s.etag) for s in sources]
        uris: set[str] = set()
        for it, prior in zip(items, store_sources.seen_many(self.con, keys)):
            if prior is not None:
                it.sr = skipped_seen(it.src.uri, prior)
            elif it.src.uri in uris:
                it.single = True      # named twice: the streaming path sees the first load once it is committed
            uris.add(it.src.uri)
        pending: list[_Item] = []
        pending_bytes = 0
        for it in items:
            if it.sr is None and not it.single:
                self._read(it)
                pending_bytes += it.load.stats.bytes_read if it.load else 0
            pending.append(it)
            if pending_bytes >= self.batch_bytes:
                self._settle(pending)
                pending, pending_bytes = [], 0
        self._settle(pending)
        return [it.sr for it in items if it.sr is not None]

    # ---- reading ------------------------------------------------------------------------------

    def _read(self, it: _Item) -> None:
        """Read a source whole, or decide it needs the streaming path, or fail it."""
        src, t0 = it.src, time.perf_counter()
        stats = StreamStats()
        try:
            head, stream = sniff(src.open(), HEAD_BYTES)
            try:
                chunks = self._chunks(src, stream, stats)
            finally:
                stream.close()
            if chunks is None:
                it.single = True
                return
            if stats.stream_error and not stats.bytes_read:
                raise SourceError(f"{src.uri}: nothing could be read: {stats.stream_error}")
            chunk = _merged(chunks)
            if chunk is not None and len(chunk) > ROW_GROUP_ROWS:
                it.single = True      # the streaming path would cut it in chunks: keep its detection sample
                return
            fmt = self.fmt
            if fmt is None and chunk is not None:
                fmt = detect_format(chunk)
                if fmt is None and has_content(chunk):
                    raise undetected(src.uri)
            if fmt is not None and not batchable(fmt):
                it.single = True
                return
        except SOURCE_ERRORS as e:
            log.warning(FAILED_SOURCE_LOG, src.uri, e)
            it.sr = failed(src.uri, e)
            it.sr.seconds = round(time.perf_counter() - t0, 3)
            return
        it.load = Load(src, SourceReport(uri=src.uri, format=fmt.name if fmt else None), stats, head, fmt)
        it.load.take(chunk, self.settings)
        it.load.seconds = time.perf_counter() - t0
        if self.progress:
            self.progress(src.uri, stats.bytes_read, None if src.extra.get("gzip") else src.size)

    def _chunks(self, src: Source, stream, stats: StreamStats) -> list[Chunk] | None:
        """All chunks of the stream, or None once it holds more than a small source may."""
        gz = bool(src.extra.get("gzip"))
        hold_tail = (src.hold_tail and not gz
                     and (src.mtime is None or time.time() - src.mtime < self.settings.ingest_tail_wait_s))
        size = src.size or 0
        read = min(self.max_bytes + 1, max(_MIN_READ, (8 * size if gz else size + 1)))
        max_line = max(self.settings.ingest_max_line_kb * 1024, 1 << 20)
        chunks = []
        for c in iter_chunks(stream, read, stats, max_line_bytes=max_line, hold_tail=hold_tail):
            chunks.append(c)
            if stats.bytes_read > self.max_bytes:
                return None
        return None if stats.bytes_read > self.max_bytes else chunks

    # ---- settling: skip, batch or stream each source, in order ---------------------------------

    def _settle(self, items: list[_Item]) -> None:
        if not items:
            return
        ready = [it.load for it in items if it.load is not None]
        known = store_sources.known_head_keys(self.con, [k for ld in ready for k in head_keys(ld.head)])
        sums = store_sources.by_checksums(self.con, [ld.checksum for ld in ready if ld.checksum])
        batch: list[_Item] = []
        batch_keys: set[str] = set()
        batch_sums: dict[str, _Item] = {}
        next_id = store_sources.next_id(self.con)

        def flush() -> int:
            self._flush(batch, known, sums)
            batch.clear()
            batch_keys.clear()
            batch_sums.clear()
            return store_sources.next_id(self.con)

        for it in items:
            if it.sr is not None:
                continue
            ld = it.load
            cs = ld.checksum if ld is not None else None   # None for an empty or damaged read: no copy of anything
            if cs is not None and cs in sums:
                it.sr = skipped_copy(it.src.uri, sums[cs])
                continue
            copy = cs is not None and cs in batch_sums           # the same bytes as a source of this batch
            if ld is not None and not copy and set(head_keys(ld.head)) & (known | batch_keys):
                it.single, it.load, ld = True, None, None   # may continue an earlier load: the streaming path resumes it
            if ld is None:
                next_id = flush()
                it.sr = self.single_path(it.src)
                self._remember(it, known, sums)
                next_id = store_sources.next_id(self.con)
                continue
            if copy and cs is not None:
                it.copy_of = batch_sums[cs]
            else:
                ld.sr.source_id, next_id = next_id, next_id + 1
                if ld.stored_key:
                    batch_keys.add(ld.stored_key)
                batch_sums.setdefault(ld.stats.checksum, it)
            batch.append(it)
            if len(batch) >= self.max_files:
                next_id = flush()
        flush()

    def _flush(self, batch: list[_Item], known: set[str], sums: dict[str, int]) -> None:
        """Load ``batch`` in one transaction; if its SQL fails, each of its sources one by one."""
        loads = [it.load for it in batch if it.copy_of is None and it.load is not None]
        if not loads:
            return
        t0 = time.perf_counter()
        try:
            with transaction(self.con):
                load_batch(self.con, loads, self.settings, self.templates)
        except SOURCE_ERRORS as e:
            log.warning("a batch of %d small sources failed (%s: %s); loading them one by one",
                        len(batch), type(e).__name__, e)
            for it in batch:
                it.sr = self.single_path(it.src)
                self._remember(it, known, sums)
            return
        share = (time.perf_counter() - t0) / len(loads)
        for it in batch:
            if it.copy_of is not None and it.copy_of.load is not None:
                it.sr = skipped_copy(it.src.uri, it.copy_of.load.sr.source_id or 0)
            elif it.load is not None:
                it.sr = it.load.sr
                it.sr.seconds = round(it.sr.seconds + share, 3)
                self._remember(it, known, sums)

    @staticmethod
    def _remember(it: _Item, known: set[str], sums: dict[str, int]) -> None:
        """What a later source of the run is checked against: this one's head key and checksum."""
        rec = it.src.extra.get("resume")
        if it.sr is None or it.sr.status != "loaded" or not rec or it.sr.source_id is None:
            return
        if rec.get("head_sha256") and rec.get("loaded_bytes"):
            known.add(rec["head_sha256"])
        if rec.get("checksum"):
            sums.setdefault(rec["checksum"], it.sr.source_id)


def batchable(fmt: LogFormat) -> bool:
    """Formats that load in batches: not a CSV whose header every chunk needs, not counts (their
    rows go to the rollups alone), not model calls (their tokens go to ``llm_calls``)."""
    return not (fmt.header or fmt.aggregated or fmt.tokens is not None)


def _merged(chunks: list[Chunk]) -> Chunk | None:
    """The chunks of a small source as one (the streaming path reads it as one chunk)."""
    if not chunks:
        return None
    if len(chunks) == 1:
        return chunks[0]
    lines = pa.concat_arrays([c.lines for c in chunks])
    return Chunk(chunks[0].first_line_no, lines, ascii=all(c.ascii for c in chunks))


__all__ = ["SmallSources", "Progress", "Single"]
