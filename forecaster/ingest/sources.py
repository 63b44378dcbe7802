"""Where log bytes come from: files, directories, globs, gzip, stdin, and (by scheme) S3 and
CloudWatch Logs. Each yields :class:`Source` objects; the loader does the rest.

Remote schemes register an expander with :func:`register_scheme`, so the loader never grows
an if-chain per backend.
"""

from __future__ import annotations

import glob
import gzip
import io
import os
import sys
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator, cast

from ..errors import SourceError, UnknownName
from ..registry import Registry
from . import cwrecords

GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class Source:
    """One loadable unit: a file, an object, a stdin stream, a batch of log events."""

    uri: str
    opener: Callable[[], BinaryIO]          # returns the (decompressed) byte stream
    size: int | None = None
    mtime: float | None = None
    etag: str | None = None                 # S3 ETag: same key + ETag = same bytes
    cursor: str | None = None               # CloudWatch Logs: where this batch ends
    quick_key: tuple | None = None          # cheap identity checked before reading a byte
    resumable: bool = True                  # can be opened again (so a grown stream loads only new bytes)
    hold_tail: bool = False                 # an unfinished last line waits for the next load (live files)
    extra: dict[str, Any] = field(default_factory=dict)

    def open(self) -> BinaryIO:
        return self.opener()


Expander = Callable[[str, Any, Any], Iterator[Source]]   # (uri, settings, connection) -> sources
SCHEMES: Registry[Expander] = Registry("source scheme")


def register_scheme(scheme: str, expander: Expander) -> None:
    SCHEMES.register(scheme, expander)


MAX_GZIP_LAYERS = 3   # Firehose may gzip a record that CloudWatch Logs already gzip'd
SNIFF_BYTES = 64


class _Prefixed(io.RawIOBase):
    """``head`` (already read from ``rest``) followed by the rest of the stream, or by ``error``
    (raised by the read after the head) when reading the head failed part way."""

    def __init__(self, head: bytes, rest: BinaryIO, error: BaseException | None = None):
        self._head, self._rest, self._error = head, rest, error

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        if self._error is not None:
            raise self._error
        data = self._rest.read1(len(b)) if hasattr(self._rest, "read1") else self._rest.read(len(b))
        b[:len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._rest.close()
        super().close()


STREAM_ERRORS = (EOFError, OSError, zlib.error)   # a damaged stream (gzip cut short, bad CRC, bad records)


def sniff(stream: BinaryIO, n: int) -> tuple[bytes, BinaryIO]:
    """The first ``n`` bytes of ``stream`` (fewer only at its end), and a stream that still starts with them.

    A read that fails (a damaged gzip) is not raised here: the returned stream gives the bytes
    that came, then raises the error, where the chunk reader records it per source.
    """
    peek = getattr(stream, "peek", None)
    error: BaseException | None = None
    if peek is not None:
        try:
            head = peek(n)[:n]
            if len(head) >= n:
                return head, stream
        except STREAM_ERRORS as e:
            error = e
    head = b""
    while len(head) < n and error is None:
        try:
            more = stream.read(n - len(head))
        except STREAM_ERRORS as e:
            error = e
            break
        if not more:
            break
        head += more
    if error is not None:   # unbuffered: a buffered read would drop the head with the error
        return head, _Prefixed(head, stream, error)  # type: ignore[return-value]
    return head, io.BufferedReader(_Prefixed(head, stream), buffer_size=1 << 20)


class _Layers(io.RawIOBase):
    """The top of a stack of wrapping streams (gzip over a file...): closing it closes them all."""

    def __init__(self, top: BinaryIO, below: list[BinaryIO]):
        self._top, self._below = top, below

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        # read1, not readinto: one decompressed piece per call, so when the stream turns out damaged
        # the pieces before it have already reached the caller (readinto would drop them with the error)
        data = self._top.read1(len(b)) if hasattr(self._top, "read1") else self._top.read(len(b))
        b[:len(data)] = data
        return len(data)

    def read(self, n: int = -1) -> bytes:
        return self._top.read(n)

    def read1(self, n: int = -1) -> bytes:
        return self._top.read1(n) if hasattr(self._top, "read1") else self._top.read(n)

    def peek(self, n: int = 1) -> bytes:
        peek = getattr(self._top, "peek", None)   # a damaged head is not buffered (see sniff)
        return peek(n) if peek is not None else b""

    def close(self) -> None:
        if not self.closed:
            for s in [self._top, *reversed(self._below)]:
                s.close()
        super().close()


def decode_stream(raw: BinaryIO, uri: str = "", info: dict[str, Any] | None = None) -> BinaryIO:
    """The log lines inside a byte stream: the one open path for files, stdin and S3 objects.

    gzip is undone by its magic bytes (not the name), nested layers too, and multi-member gzip
    (concatenated records) is read through. If what is left starts with ``{"messageType"``, it is
    a run of CloudWatch Logs subscription records (Firehose output): unpacked to one line per log
    event by :mod:`.cwrecords`, with counts put in ``info["cwrecords"]``.
    """
    stream, below = raw, []
    for _ in range(MAX_GZIP_LAYERS):
        head, stream = sniff(stream, len(GZIP_MAGIC))
        if head != GZIP_MAGIC:
            break
        below.append(stream)
        stream = gzip.GzipFile(fileobj=stream, mode="rb")  # type: ignore[assignment]
        if info is not None:
            info["gzip"] = True
    head, stream = sniff(stream, SNIFF_BYTES)
    if cwrecords.looks_like_records(head):
        counts: dict[str, int] = {}
        if info is not None:
            info["cwrecords"] = counts
        return cwrecords.unpack(cast(BinaryIO, _Layers(stream, below)) if below else stream, uri, counts)
    return _Layers(stream, below) if below else stream  # type: ignore[return-value]


def open_maybe_gzip(path: str, info: dict[str, Any] | None = None) -> BinaryIO:
    """Open a file, transparently decompressing gzip (by magic bytes, not by name) and unpacking
    CloudWatch Logs subscription records (see :func:`decode_stream`)."""
    return decode_stream(open(path, "rb", buffering=1 << 20), path, info)


def file_source(path: str) -> Source:
    st = os.stat(path)
    uri = str(Path(path).resolve())
    src = Source(uri=uri, opener=lambda: open_maybe_gzip(path), size=st.st_size, mtime=st.st_mtime,
                 quick_key=("file", uri, st.st_size, st.st_mtime), hold_tail=True)
    src.opener = lambda: open_maybe_gzip(path, src.extra)
    return src


def stdin_source(stream: BinaryIO | None = None) -> Source:
    s = stream if stream is not None else sys.stdin.buffer
    src = Source(uri="stdin:", opener=lambda: decode_stream(s, "stdin:"), resumable=False)
    src.opener = lambda: decode_stream(s, "stdin:", src.extra)
    return src


_SKIP_NAMES = (".", "_")   # hidden files and _SUCCESS-style markers inside directories


def expand(uris: list[str], settings: Any = None, con: Any = None, stdin: BinaryIO | None = None) -> list[Source]:
    """Every source named by ``uris``, in a stable order. Problems are collected and raised once."""
    out: list[Source] = []
    problems: list[str] = []
    for uri in uris:
        scheme = uri.split("://", 1)[0] if "://" in uri else None
        if uri == "-":
            out.append(stdin_source(stdin))
        elif scheme and scheme != "file":
            if scheme not in SCHEMES:
                problems.append(str(UnknownName("source scheme", scheme + "://", [s + "://" for s in SCHEMES] + ["file://", "-"])))
                continue
            try:
                out.extend(SCHEMES.get(scheme)(uri, settings, con))
            except SourceError as e:
                problems.append(str(e))
        else:
            path = uri[len("file://"):] if scheme == "file" else uri
            if any(c in path for c in "*?["):
                matches = sorted(p for p in glob.glob(path, recursive=True) if os.path.isfile(p))
                if not matches:
                    problems.append(f"{uri}: the pattern matches no file")
                out.extend(file_source(p) for p in matches)
            elif os.path.isdir(path):
                files = sorted(
                    str(p) for p in Path(path).rglob("*")
                    if p.is_file() and not any(part.startswith(_SKIP_NAMES) for part in p.relative_to(path).parts)
                )
                if not files:
                    problems.append(f"{uri}: the directory holds no file")
                out.extend(file_source(p) for p in files)
            elif os.path.isfile(path):
                out.append(file_source(path))
            else:
                problems.append(f"{uri}: {_not_a_file(path)}")
    if problems:
        raise SourceError("cannot read the sources: " + "; ".join(problems))
    return out


def _not_a_file(path: str) -> str:
    """Why ``path`` is neither a file nor a directory, as a person would want it said."""
    import stat

    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return "no such file or directory" + (" (a symbolic link to nothing)" if os.path.islink(path) else "")
    except OSError as e:
        return e.strerror.lower() if e.strerror else str(e)
    kind = "a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode) else \
        "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "not a regular file"
    return f"{kind}, not a file: pipe it to stdin instead (`cat {path} | forecaster ingest -`)"
