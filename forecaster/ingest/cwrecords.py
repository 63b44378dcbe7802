"""CloudWatch Logs subscription records (as Kinesis Data Firehose writes them to S3) -> log lines.

A subscription record is a gzip'd JSON object ``{"messageType": "DATA_MESSAGE", "owner", "logGroup",
"logStream", "subscriptionFilters", "logEvents": [{"id", "timestamp", "message"}]}``
(https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/SubscriptionFilters.html). Firehose
concatenates records with no separator, so after gzip is undone (one member per record, and
maybe a second gzip layer when the delivery stream compresses too) the stream is ``{...}{...}``.

:func:`unpack` turns such a stream into one line per log event message, reading it through a
rolling buffer with :meth:`json.JSONDecoder.raw_decode`, so memory stays bounded by the largest
record. ``CONTROL_MESSAGE`` records (CloudWatch's reachability checks) hold no log events: they
are skipped, and counted in the ``info`` dict the caller passes and in an INFO log line, as are
records of any other type. A record that is not valid JSON ends the stream with
:class:`RecordStreamError` (an ``OSError``), which the chunk reader records as a reject naming the
byte offset; the events before it are kept.

Messages holding newlines are folded to ONE line (each ``\\r\\n``, ``\\n`` or ``\\r`` becomes a
space; a trailing one is dropped): a log event is one request, and a space is what a
pretty-printed JSON message needs between its tokens to stay valid JSON.
"""

from __future__ import annotations

import codecs
import io
import json
import logging
import re
from typing import Any, BinaryIO, Iterator

log = logging.getLogger(__name__)

RECORD_HEAD = b'{"messageType"'
READ_BYTES = 1 << 20                 # read the decompressed stream in blocks of 1 MiB
MAX_RECORD_BYTES = 64 << 20          # a record larger than this is not a subscription record
_NEWLINES = re.compile(r"\r\n|\n|\r")
_JSON_SPACE = " \t\r\n"


class RecordStreamError(OSError):
    """The stream stopped being a sequence of subscription records (bad JSON, wrong shape)."""


def looks_like_records(head: bytes) -> bool:
    """True if a decompressed stream starting with ``head`` holds subscription records."""
    return head.lstrip().startswith(RECORD_HEAD)


def event_line(message: str) -> bytes:
    """One log event message as one newline-terminated line (embedded newlines become spaces)."""
    if "\n" in message or "\r" in message:
        message = _NEWLINES.sub(" ", message.rstrip("\r\n"))
    return message.encode("utf-8", "surrogateescape") + b"\n"


def iter_records(stream: BinaryIO, max_record_bytes: int = MAX_RECORD_BYTES) -> Iterator[dict[str, Any]]:
    """The JSON objects of a concatenated stream ``{...}{...}`` (whitespace between them allowed)."""
    decoder = json.JSONDecoder()
    text = codecs.getincrementaldecoder("utf-8")("strict")
    buf, pos, eof, consumed = "", 0, False, 0     # consumed: characters before buf[0]
    read = getattr(stream, "read1", None) or stream.read   # read1: what came before a damaged gzip tail is kept
    while True:
        while pos < len(buf) and buf[pos] in _JSON_SPACE:
            pos += 1
        if pos < len(buf):
            try:
                obj, end = decoder.raw_decode(buf, pos)
            except json.JSONDecodeError as e:
                if eof or len(buf) - pos > max_record_bytes:
                    raise RecordStreamError(
                        f"subscription record at character {consumed + pos} is not valid JSON: {e.msg} "
                        f"(at character {consumed + e.pos})"
                    ) from None
            else:
                if not isinstance(obj, dict):
                    raise RecordStreamError(
                        f"subscription record at character {consumed + pos} is a JSON {type(obj).__name__}, "
                        f"expected an object"
                    )
                yield obj
                pos = end
                continue
        elif eof:
            return
        block = read(READ_BYTES)
        eof = not block
        try:
            more = text.decode(block or b"", final=eof)
        except UnicodeDecodeError as e:
            raise RecordStreamError(f"subscription records are not UTF-8 near character {consumed + len(buf)}: {e}") from None
        consumed += pos
        buf, pos = buf[pos:] + more, 0


def record_lines(stream: BinaryIO, info: dict[str, int]) -> Iterator[bytes]:
    """The log lines of every DATA_MESSAGE record, one block per record; counts go into ``info``."""
    for rec in iter_records(stream):
        kind = rec.get("messageType")
        if kind == "DATA_MESSAGE":
            events = rec.get("logEvents")
            if not isinstance(events, list):
                raise RecordStreamError(
                    f"DATA_MESSAGE record {info['records'] + 1} from {rec.get('logGroup')!r} has no logEvents list"
                )
            info["records"] += 1
            info["events"] += len(events)
            yield b"".join(event_line(str(ev.get("message", ""))) for ev in events)
        elif kind == "CONTROL_MESSAGE":
            info["control_messages"] += 1
        else:
            info["other_records"] += 1
            log.warning("skipping a subscription record of messageType %r (expected DATA_MESSAGE)", kind)


class _LineStream(io.RawIOBase):
    """A readable byte stream over an iterator of byte blocks."""

    def __init__(self, blocks: Iterator[bytes], inner: BinaryIO, on_close):
        self._blocks, self._inner, self._on_close = blocks, inner, on_close
        self._pending, self._at = b"", 0
        self._error: Exception | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if self._error is not None:      # sticky: every read after the damage says so again
            raise self._error
        while self._at >= len(self._pending):
            try:
                nxt = next(self._blocks, None)
            except Exception as e:       # bad record or damaged gzip below: the chunk reader reports it
                self._error = e
                raise
            if nxt is None:
                return 0
            self._pending, self._at = nxt, 0
        n = min(len(b), len(self._pending) - self._at)
        b[:n] = self._pending[self._at:self._at + n]
        self._at += n
        return n

    def close(self) -> None:
        if not self.closed:
            try:
                self._inner.close()
            finally:
                self._on_close()
        super().close()


def unpack(stream: BinaryIO, uri: str = "", info: dict[str, int] | None = None) -> BinaryIO:
    """A byte stream of the log lines held in the subscription records of ``stream`` (decompressed).

    ``info`` (if given) is filled with ``records``, ``events``, ``control_messages`` and
    ``other_records`` as the stream is read; the totals are logged at INFO when it is closed.
    """
    counts = info if info is not None else {}
    for k in ("records", "events", "control_messages", "other_records"):
        counts[k] = 0

    def report() -> None:
        log.info("%s: %d DATA_MESSAGE record(s) unpacked to %d log event line(s); skipped %d CONTROL_MESSAGE "
                 "and %d other record(s)", uri or "stream", counts["records"], counts["events"],
                 counts["control_messages"], counts["other_records"])

    # unbuffered on purpose: each read returns whole records, so the lines before a damaged record
    # reach the caller before the error does (a BufferedReader would drop them with the exception)
    return _LineStream(record_lines(stream, counts), stream, report)  # type: ignore[return-value]
