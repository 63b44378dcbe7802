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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

from ..errors import SourceError, UnknownName

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
    extra: dict[str, Any] = field(default_factory=dict)

    def open(self) -> BinaryIO:
        return self.opener()


Expander = Callable[[str, Any, Any], Iterator[Source]]   # (uri, settings, connection) -> sources
_SCHEMES: dict[str, Expander] = {}


def register_scheme(scheme: str, expander: Expander) -> None:
    _SCHEMES[scheme] = expander


def open_maybe_gzip(path: str) -> BinaryIO:
    """Open a file, transparently decompressing gzip (by magic bytes, not by name)."""
    f = open(path, "rb", buffering=1 << 20)
    if f.read(2) == GZIP_MAGIC:
        f.seek(0)
        return gzip.GzipFile(fileobj=f, mode="rb")  # type: ignore[return-value]
    f.seek(0)
    return f


def file_source(path: str) -> Source:
    st = os.stat(path)
    uri = str(Path(path).resolve())
    return Source(uri=uri, opener=lambda: open_maybe_gzip(path), size=st.st_size, mtime=st.st_mtime,
                  quick_key=("file", uri, st.st_size, st.st_mtime))


def stdin_source(stream: BinaryIO | None = None) -> Source:
    s = stream if stream is not None else sys.stdin.buffer

    def opener() -> BinaryIO:
        head = s.peek(2)[:2] if hasattr(s, "peek") else b""
        if head == GZIP_MAGIC:
            return gzip.GzipFile(fileobj=s, mode="rb")  # type: ignore[return-value]
        return s if hasattr(s, "peek") else io.BufferedReader(s)  # type: ignore[arg-type]

    return Source(uri="stdin:", opener=opener)


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
            if scheme not in _SCHEMES:
                problems.append(str(UnknownName("source scheme", scheme + "://", [s + "://" for s in _SCHEMES] + ["file://", "-"])))
                continue
            try:
                out.extend(_SCHEMES[scheme](uri, settings, con))
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
                problems.append(f"{uri}: no such file or directory")
    if problems:
        raise SourceError("cannot read the sources: " + "; ".join(problems))
    return out
