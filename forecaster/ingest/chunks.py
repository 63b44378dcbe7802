"""Cutting a byte stream into Arrow arrays of lines, without a Python loop per line.

A chunk is a block of whole lines read from the stream (the tail after the last newline is
carried into the next block). Lines are exposed zero-copy as an Arrow ``binary`` array whose
values still end in ``\\n`` (stripped in SQL): building the offsets is one numpy pass.
"""

from __future__ import annotations

import codecs
import gzip
import queue
import threading
import hashlib
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator

import numpy as np
import pyarrow as pa

NEWLINE = 10


@dataclass
class Chunk:
    first_line_no: int          # 1-based number of the chunk's first line in the source
    lines: pa.BinaryArray       # each value is one line including its trailing newline (if any)
    ascii: bool = False         # the whole read buffer was ASCII (so valid UTF-8)

    def __len__(self) -> int:
        return len(self.lines)

    def split(self, max_line_bytes: int, keep_chars: int,
              batch_rows: int = 16384) -> tuple[pa.Table, list[tuple[int, str, str]], int]:
        """Sort the chunk's lines: (table of good text lines, rejects, number of blank lines).

        Good lines keep their terminator and become an Arrow ``string`` table (line_no, line)
        without a copy when the chunk is valid UTF-8 (the usual case, checked in one C call).
        Rejects are (line_no, raw text, reason) for lines too long or not UTF-8.
        """
        arr = self.lines
        n = len(arr)
        offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32 if arr.type == pa.binary() else np.int64)[: n + 1]
        data = arr.buffers()[2]
        raw = memoryview(data)
        lengths = np.diff(offsets)
        keep = np.ones(n, dtype=bool)
        rejects: list[tuple[int, str, str]] = []
        # blank: nothing but white space (only short lines are looked at: a blank line is short)
        short = np.flatnonzero(lengths <= 64)
        blank = 0
        for i in short:
            if not bytes(raw[offsets[i]:offsets[i + 1]]).strip():
                keep[i] = False
                blank += 1
        for i in np.flatnonzero(lengths > max_line_bytes):
            keep[i] = False
            head = bytes(raw[offsets[i]:offsets[i] + keep_chars])
            rejects.append((self.first_line_no + int(i), head.decode("utf-8", "backslashreplace"),
                            f"line too long: {int(lengths[i])} bytes (max {max_line_bytes})"))
        if not self.ascii:
            try:
                codecs.utf_8_decode(raw, "strict", True)
            except UnicodeDecodeError:
                for i in np.flatnonzero(keep):
                    b = bytes(raw[offsets[i]:offsets[i + 1]])
                    if b.isascii():
                        continue
                    try:
                        b.decode("utf-8")
                    except UnicodeDecodeError as e:
                        keep[i] = False
                        rejects.append((self.first_line_no + int(i),
                                        b[:keep_chars].rstrip(b"\r\n").decode("utf-8", "backslashreplace"),
                                        f"invalid UTF-8 at byte {e.start}"))
        text = pa.Array.from_buffers(pa.string() if arr.type == pa.binary() else pa.large_string(), n,
                                     [None, arr.buffers()[1], data])
        line_no = int64_array(np.arange(self.first_line_no, self.first_line_no + n, dtype=np.int64))
        table = pa.Table.from_arrays([line_no, text], names=["line_no", "line"])
        if not keep.all():
            table = table.filter(pa.Array.from_buffers(pa.bool_(), n, [None, pa.py_buffer(np.packbits(keep, bitorder="little"))]))
        # Several record batches, so DuckDB's Arrow scan spreads the chunk over its threads.
        # (A chunk may have no good line left: a last line that is blank, not UTF-8 or too long.)
        return pa.Table.from_batches(table.to_batches(max_chunksize=batch_rows), schema=table.schema), rejects, blank


@dataclass
class StreamStats:
    """What :func:`iter_chunks` saw. ``sha256`` covers the stream's whole lines only (from its start,
    when the caller seeds it with the hash of bytes skipped before), never a held partial last line."""

    bytes_read: int = 0
    lines: int = 0
    sha256: "hashlib._Hash" = field(default_factory=hashlib.sha256)
    stream_error: str | None = None   # e.g. a gzip stream cut short: reported as a reject
    oversize: list = field(default_factory=list)  # (line_no, head bytes, length) of lines too long to hold
    tail_bytes: int = 0               # bytes of an unfinished last line left for the next load

    @property
    def whole_bytes(self) -> int:
        """Bytes read that ended in whole lines (what a later load of the same stream skips)."""
        return self.bytes_read - self.tail_bytes

    @property
    def checksum(self) -> str:
        return self.sha256.hexdigest()


def int64_array(values: np.ndarray) -> pa.Array:
    """A numpy int64 array as Arrow, zero-copy (``pa.array`` on numpy would import pandas: ~0.3 s)."""
    values = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(values)])


_SCAN_BLOCK = 1 << 20


def line_ends(block) -> np.ndarray:
    """Offsets just past every newline of ``block`` (bytes-like), ascending.

    Scanned a megabyte at a time: a whole-chunk ``buf == 10`` would allocate a boolean array as
    big as the chunk, and touching fresh memory (page faults) costs here several times the
    comparison itself (0.55 s against 0.10 s for 417 MB).
    """
    buf = np.frombuffer(block, dtype=np.uint8)
    parts = [np.flatnonzero(buf[i:i + _SCAN_BLOCK] == NEWLINE) + (i + 1) for i in range(0, len(buf), _SCAN_BLOCK)]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)


def lines_from_block(block, ends: np.ndarray | None = None) -> pa.BinaryArray:
    """All lines of ``block`` (bytes or memoryview ending at a line boundary, or the stream's tail), zero-copy.

    ``ends``: the block's :func:`line_ends`, when the caller has them already.
    """
    size = len(block)
    if ends is None:
        ends = line_ends(block)
    if len(ends) == 0 or ends[-1] != size:
        ends = np.append(ends, size)
    offsets = np.empty(len(ends) + 1, dtype=np.int32 if size < 2**31 else np.int64)
    offsets[0] = 0
    offsets[1:] = ends
    typ = pa.binary() if offsets.dtype == np.int32 else pa.large_binary()
    return pa.Array.from_buffers(typ, len(ends), [None, pa.py_buffer(offsets), pa.py_buffer(block)])


class _Damaged(Exception):
    """A read failed after ``got`` bytes of this fill had arrived: keep them, then report the error."""

    def __init__(self, got: int, error: BaseException):
        self.got, self.error = got, error


def _fill(stream: BinaryIO, view: memoryview) -> int:
    """Read into ``view`` until it is full or the stream ends (pipes and decompressors read short)."""
    got = 0
    readinto = getattr(stream, "readinto", None)
    while got < len(view):
        try:
            if readinto is not None:
                n = readinto(view[got:])
            else:
                b = stream.read(len(view) - got)
                n = len(b) if b else 0
                view[got:got + n] = b
        except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as e:
            if got:
                raise _Damaged(got, e) from e
            raise
        if not n:
            break
        got += n
    return got


def iter_chunks(
    stream: BinaryIO, chunk_bytes: int, stats: StreamStats, max_line_bytes: int = 16 << 20,
    align_lines: int | None = None, hold_tail: bool = False, first_line: int = 1,
    first_chunk_bytes: int | None = None,
) -> Iterator[Chunk]:
    """Yield chunks of whole lines from ``stream``, hashing every byte into ``stats``.

    Each chunk owns its buffer while anything refers to its lines: the unfinished last line of the
    previous read is copied to its front and the stream is read in behind it, so no block is ever
    concatenated or sliced. A buffer no chunk refers to any more is read into again (see
    :class:`_Buffers`).
    A line longer than ``max_line_bytes`` is not held in memory: its first 4 KiB, number and
    length go to ``stats.oversize`` (the loader rejects it) and reading carries on after it.
    A damaged compressed stream (gzip cut short, bad CRC) ends the iteration after the last whole
    block that could be read; ``stats.stream_error`` says what happened and where.
    With ``align_lines``, a chunk holding at least that many lines ends after a multiple of it
    (the rest is carried into the next): the loader's appends then fill whole row groups.
    With ``hold_tail``, a last line without a newline (a log still being written) is not yielded:
    its length goes to ``stats.tail_bytes`` and it is not hashed, so the next load of the grown
    stream starts at it. ``first_line``: the number of the stream's first line (a resumed load).
    ``first_chunk_bytes``: a smaller first read, so the caller's work on the first chunk starts
    sooner (nothing overlaps the first read, newline scan and hash: 0.3-0.5 s for 128 MB here).
    """
    buffers = _Buffers()
    carry = b""
    carried_lines = False          # the carry is whole lines left over by alignment (not a partial line)
    next_line = first_line
    skipping: list | None = None   # [line_no, head, length] of an oversize line being skipped
    damaged: BaseException | None = None   # the read error that ends the stream after this block
    size = first_chunk_bytes or chunk_bytes
    while True:
        read = max(size - len(carry), size // 4) if carried_lines else size
        size = chunk_bytes
        view = None
        buf = buffers.take(len(carry) + read)
        view = memoryview(buf)
        view[:len(carry)] = carry
        try:
            n = _fill(stream, view[len(carry):len(carry) + read]) if damaged is None else 0
        except _Damaged as d:          # keep the bytes that came before the damage
            n, damaged = d.got, d.error
        except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as e:
            damaged, n = e, 0
        if damaged is not None and not n:
            stats.stream_error = (f"stream damaged after {stats.bytes_read} bytes: "
                                  f"{type(damaged).__name__}: {damaged}")
        start, end = 0, len(carry) + n
        if n:
            stats.bytes_read += n
            if skipping is not None:
                nl = buf.find(b"\n", 0, end)
                if nl < 0:
                    skipping[2] += n
                    stats.sha256.update(view[:end])
                    continue
                skipping[2] += nl + 1
                stats.sha256.update(view[:nl + 1])
                stats.oversize.append(tuple(skipping))
                stats.lines += 1
                next_line += 1
                skipping = None
                start = nl + 1
            cut = buf.rfind(b"\n", start, end) + 1
            carried_lines = False
            if cut == 0:
                if end - start > max_line_bytes:   # a huge line: remember its head, skip the rest
                    skipping = [next_line, bytes(view[start:min(start + 4096, end)]), end - start]
                    stats.sha256.update(view[start:end])
                    carry = b""
                else:
                    carry = bytes(view[start:end])
                continue
            ends = line_ends(view[start:cut])
            if align_lines:
                aligned = _aligned_cut(ends, start, cut, align_lines)
                carried_lines = aligned < cut
                if carried_lines:
                    ends = ends[: np.searchsorted(ends, aligned - start, side="right")]
                cut = aligned
            carry = bytes(view[cut:end])
        else:
            ends = None
            if skipping is not None:
                stats.oversize.append(tuple(skipping))
                stats.lines += 1
                skipping = None
            if not carry:
                break
            cut = len(carry)
            if hold_tail and damaged is None:
                cut = buf.rfind(b"\n", 0, cut) + 1
                stats.tail_bytes = len(carry) - cut
        if cut > start:
            stats.sha256.update(view[start:cut])
            arr = lines_from_block(view[start:cut], ends)
            stats.lines += len(arr)
            yield Chunk(next_line, arr, ascii=(buf.isascii() if len(buf) == cut else is_ascii(view[start:cut])))
            next_line += len(arr)
        if not n:
            break


class _Buffers:
    """Read buffers for :func:`iter_chunks`, reused once nothing refers to their bytes.

    A fresh 128 MB buffer costs about 0.1 s here before a byte is read into it (zeroing it, and the
    page faults of touching new memory), about as much as hashing it. A buffer is free when no
    buffer export of it is alive: every Arrow array of a chunk's lines holds one, so a chunk still
    in use (or kept by the caller) keeps its buffer out of reuse. A bytearray with exports cannot
    be resized, which is the test: shrinking one by a byte and growing it back neither moves nor
    copies it.
    """

    KEEP = 3    # prefetch keeps two chunks alive, and one is being read

    def __init__(self) -> None:
        self._pool: list[bytearray] = []

    @staticmethod
    def _free(buf: bytearray) -> bool:
        try:
            last = buf.pop()
        except BufferError:
            return False
        buf.append(last)
        return True

    def take(self, size: int) -> bytearray:
        for buf in self._pool:
            if len(buf) >= size and len(buf) <= 2 * size and self._free(buf):
                return buf
        buf = bytearray(size + size // 8)   # room for the next read's longer carry
        if len(self._pool) < self.KEEP:
            self._pool.append(buf)
        else:   # replace a free one that was too small or too big (else it stays unpooled)
            for i, old in enumerate(self._pool):
                if self._free(old):
                    self._pool[i] = buf
                    break
        return buf


def is_ascii(block) -> bool:
    """Whether every byte of ``block`` is below 128 (a megabyte at a time, like :func:`line_ends`)."""
    buf = np.frombuffer(block, dtype=np.uint8)
    return all(int(buf[i:i + _SCAN_BLOCK].max()) < 128 for i in range(0, len(buf), _SCAN_BLOCK))


def _aligned_cut(ends: np.ndarray, start: int, cut: int, rows: int) -> int:
    """The end of the last whole multiple of ``rows`` lines in ``[start, cut)`` (``cut`` if fewer);
    ``ends``: the line ends of that span, relative to ``start``."""
    if len(ends) <= rows or len(ends) % rows == 0:
        return cut
    return start + int(ends[len(ends) // rows * rows - 1])


def prefetch(it: Iterator, depth: int = 1) -> Iterator:
    """Run ``it`` in a background thread, ``depth`` items ahead (reading, hashing and newline
    scanning release the GIL, so they overlap with DuckDB's work on the previous chunk).

    At most ``depth + 1`` items are alive at once: the next one is only started once the consumer
    is done with the one before (a chunk is a big buffer).
    """
    q: queue.Queue = queue.Queue()
    room = threading.Semaphore(depth + 1)
    done = object()
    stop = threading.Event()

    def produce() -> None:
        try:
            while True:
                while not room.acquire(timeout=0.1):
                    if stop.is_set():
                        return
                if stop.is_set():
                    return
                item = next(it, done)
                q.put(item)
                if item is done:
                    return
        except BaseException as e:  # handed to the consumer, re-raised there
            q.put(e)

    t = threading.Thread(target=produce, name="ingest-prefetch", daemon=True)
    t.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
            del item
            room.release()
    finally:
        stop.set()
        t.join(timeout=5)
