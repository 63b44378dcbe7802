"""Where a stream's new bytes begin: grown files, rotated files and copies load only what is new.

Every load remembers how many bytes of its stream it covered (whole lines only), the sha256 of
those bytes from the stream's start, and a key of the stream's first lines (:func:`head_keys`).
A new stream whose first lines give the same key is checked against each such load by hashing
its first ``loaded_bytes`` bytes (reading, never parsing): when they match, the earlier load's
bytes are skipped and the load continues after them. A changed prefix (a file truncated and
rewritten) matches nothing and loads from its start.

So ``access.log`` that grew loads only its appended lines; renamed to ``access.log.1`` (and later
gzipped: the decompressed stream is what is hashed) it loads nothing again, or only the lines
written before the rotation; and a same-bytes copy under another name is skipped after hashing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import BinaryIO, Callable

from ..store import sources as store_sources
from ..store.sources import Prior
from .sources import sniff

HEAD_BYTES = 4096     # the key covers at most this many bytes of the first lines
HEAD_LINES = 3        # ... and at most this many lines
_READ = 1 << 20


def head_key(head: bytes, lines: int) -> str | None:
    """The key of the first ``lines`` whole lines of ``head`` (capped at HEAD_BYTES), or None when
    ``head`` (a stream's first bytes, HEAD_BYTES of them unless the stream is shorter) holds fewer."""
    end = 0
    for _ in range(lines):
        nl = head.find(b"\n", end, HEAD_BYTES)
        if nl < 0:
            if len(head) >= HEAD_BYTES:
                end = HEAD_BYTES
                break
            return None
        end = nl + 1
    return hashlib.sha256(head[:end]).hexdigest()


def head_keys(head: bytes) -> list[str]:
    """Every key an earlier load of a stream beginning with ``head`` may have been stored under."""
    keys = [head_key(head, n) for n in range(1, HEAD_LINES + 1)]
    return list(dict.fromkeys(k for k in keys if k is not None))


def stored_key(head: bytes, lines_total: int) -> str | None:
    """The key a load covering ``lines_total`` whole lines is stored under."""
    return head_key(head, min(lines_total, HEAD_LINES)) if lines_total > 0 else None


@dataclass
class Resume:
    """Where a load starts: after ``prior``'s bytes (None: at the stream's start)."""

    stream: BinaryIO
    head: bytes
    prior: Prior | None = None
    sha256: "hashlib._Hash | None" = None     # hash of the skipped bytes, continued by the load

    @property
    def offset(self) -> int:
        return self.prior.loaded_bytes if self.prior else 0

    @property
    def first_line(self) -> int:
        return self.prior.lines_total + 1 if self.prior else 1


def find_resume(con, opener: Callable[[], BinaryIO], resumable: bool = True) -> Resume:
    """Open the stream and skip what earlier loads already covered (see the module docstring).

    Non-resumable streams (stdin: it cannot be read twice) only get their head read.
    """
    head, stream = sniff(opener(), HEAD_BYTES)
    if not resumable:
        return Resume(stream, head)
    priors = store_sources.priors(con, head_keys(head))
    if not priors:
        return Resume(stream, head)
    sha, pos, best, best_sha = hashlib.sha256(), 0, None, None
    for p in priors:
        pos = _hash_to(stream, sha, pos, p.loaded_bytes)
        if pos < p.loaded_bytes:
            break                       # the stream is shorter than this load: not its continuation
        if sha.hexdigest() == p.checksum:
            best, best_sha = p, sha.copy()
    if best is None or best.loaded_bytes != pos:
        stream.close()
        head, stream = sniff(opener(), HEAD_BYTES)
        if best is not None:
            _hash_to(stream, hashlib.sha256(), 0, best.loaded_bytes)
    return Resume(stream, head, best, best_sha)


def _hash_to(stream: BinaryIO, sha, pos: int, target: int) -> int:
    """Read ``stream`` from ``pos`` up to ``target``, hashing; returns where it stopped."""
    while pos < target:
        b = stream.read(min(_READ, target - pos))
        if not b:
            break
        sha.update(b)
        pos += len(b)
    return pos
