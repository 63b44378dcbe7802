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
        return pa.Table.from_batches(table.to_batches(max_chunksize=batch_rows)), rejects, blank


@dataclass
class StreamStats:
    bytes_read: int = 0
    lines: int = 0
    sha256: "hashlib._Hash" = field(default_factory=hashlib.sha256)
    stream_error: str | None = None   # e.g. a gzip stream cut short: reported as a reject
    oversize: list = field(default_factory=list)  # (line_no, head bytes, length) of lines too long to hold

    @property
    def checksum(self) -> str:
        return self.sha256.hexdigest()


def int64_array(values: np.ndarray) -> pa.Array:
    """A numpy int64 array as Arrow, zero-copy (``pa.array`` on numpy would import pandas: ~0.3 s)."""
    values = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(values)])


def lines_from_block(block) -> pa.BinaryArray:
    """All lines of ``block`` (bytes or memoryview ending at a line boundary, or the stream's tail), zero-copy."""
    buf = np.frombuffer(block, dtype=np.uint8)
    ends = np.flatnonzero(buf == NEWLINE) + 1
    if len(ends) == 0 or ends[-1] != len(buf):
        ends = np.append(ends, len(buf))
    offsets = np.empty(len(ends) + 1, dtype=np.int32 if len(buf) < 2**31 else np.int64)
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
    align_lines: int | None = None,
) -> Iterator[Chunk]:
    """Yield chunks of whole lines from ``stream``, hashing every byte into ``stats``.

    Each chunk owns a fresh buffer: the unfinished last line of the previous read is copied to
    its front and the stream is read in behind it, so no block is ever concatenated or sliced.
    A line longer than ``max_line_bytes`` is not held in memory: its first 4 KiB, number and
    length go to ``stats.oversize`` (the loader rejects it) and reading carries on after it.
    A damaged compressed stream (gzip cut short, bad CRC) ends the iteration after the last whole
    block that could be read; ``stats.stream_error`` says what happened and where.
    With ``align_lines``, a chunk holding at least that many lines ends after a multiple of it
    (the rest is carried into the next): the loader's appends then fill whole row groups.
    """
    carry = b""
    carried_lines = False          # the carry is whole lines left over by alignment (not a partial line)
    next_line = 1
    skipping: list | None = None   # [line_no, head, length] of an oversize line being skipped
    damaged: BaseException | None = None   # the read error that ends the stream after this block
    while True:
        read = max(chunk_bytes - len(carry), chunk_bytes // 4) if carried_lines else chunk_bytes
        buf = bytearray(len(carry) + read)
        view = memoryview(buf)
        view[:len(carry)] = carry
        try:
            n = _fill(stream, view[len(carry):]) if damaged is None else 0
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
            stats.sha256.update(view[len(carry):end])
            if skipping is not None:
                nl = buf.find(b"\n", 0, end)
                if nl < 0:
                    skipping[2] += n
                    continue
                skipping[2] += nl + 1
                stats.oversize.append(tuple(skipping))
                stats.lines += 1
                next_line += 1
                skipping = None
                start = nl + 1
            cut = buf.rfind(b"\n", start, end) + 1
            carried_lines = False
            if cut == 0:
                if end - start > max_line_bytes:   # a huge line: remember its head, skip the rest
                    skipping = [next_line, bytes(view[start:start + 4096]), end - start]
                    carry = b""
                else:
                    carry = bytes(view[start:end])
                continue
            if align_lines:
                aligned = _aligned_cut(view, start, cut, align_lines)
                carried_lines = aligned < cut
                cut = aligned
            carry = bytes(view[cut:end])
        else:
            if skipping is not None:
                stats.oversize.append(tuple(skipping))
                stats.lines += 1
                skipping = None
            if not carry:
                break
            cut = len(carry)
        if cut > start:
            arr = lines_from_block(view[start:cut])
            stats.lines += len(arr)
            yield Chunk(next_line, arr, ascii=buf.isascii())
            next_line += len(arr)
        if not n:
            break


def _aligned_cut(view: memoryview, start: int, cut: int, rows: int) -> int:
    """The end of the last whole multiple of ``rows`` lines in ``view[start:cut]`` (``cut`` if fewer)."""
    ends = np.flatnonzero(np.frombuffer(view[start:cut], dtype=np.uint8) == NEWLINE)
    if len(ends) <= rows or len(ends) % rows == 0:
        return cut
    return start + int(ends[len(ends) // rows * rows - 1]) + 1


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
