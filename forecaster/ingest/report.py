"""What a load reports, per source and in total (shared by the streaming and the batched path)."""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass, field
from typing import Any

from ..errors import ForecasterError
from ..store.db import DatabaseError

#: the log line of a source that failed (its report carries the same; `forecaster ingest` shows it once)
FAILED_SOURCE_LOG = "source %s failed: %s"

# What fails one source (recorded as "failed", its transaction rolled back) rather than the run.
SOURCE_ERRORS = (OSError, EOFError, zlib.error, DatabaseError, ForecasterError, ValueError)


@dataclass
class SourceReport:
    uri: str
    status: str = "loaded"        # loaded | skipped (seen before) | failed
    source_id: int | None = None
    format: str | None = None
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_duplicate: int = 0
    lines_blank: int = 0
    requests_counted: int = 0     # counts format: requests these rows stand for
    bytes: int = 0
    seconds: float = 0.0
    note: str | None = None


@dataclass
class IngestReport:
    sources: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_duplicate: int = 0
    seconds: float = 0.0
    by_source: list[SourceReport] = field(default_factory=list)

    def add(self, sr: SourceReport) -> None:
        self.by_source.append(sr)
        self.sources += 1
        self.rows_loaded += sr.rows_loaded
        self.rows_rejected += sr.rows_rejected
        self.rows_duplicate += sr.rows_duplicate

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def failed(self) -> list[SourceReport]:
        return [s for s in self.by_source if s.status == "failed"]


def failed(uri: str, e: BaseException) -> SourceReport:
    return SourceReport(uri=uri, status="failed", note=f"{type(e).__name__}: {e}")


def skipped_copy(uri: str, source_id: int) -> SourceReport:
    return SourceReport(uri=uri, status="skipped", source_id=source_id,
                        note=f"same bytes already loaded as source {source_id}")


def skipped_seen(uri: str, source_id: int) -> SourceReport:
    return SourceReport(uri=uri, status="skipped", source_id=source_id, note=f"already loaded as source {source_id}")


def cwrecords_note(extra: dict[str, Any]) -> str | None:
    """What a run of CloudWatch Logs subscription records unpacked to, and what it skipped."""
    cw = extra.get("cwrecords")
    if not cw:
        return None
    return (f"{cw['records']} CloudWatch Logs subscription record(s), {cw['events']} log event(s); "
            f"skipped {cw['control_messages']} CONTROL_MESSAGE and {cw['other_records']} other record(s)")


def tail_note(tail_bytes: int) -> str | None:
    return (f"unfinished last line ({tail_bytes} bytes, no newline) left for the next load; a file unmodified "
            f"for ingest_tail_wait_s loads it as is") if tail_bytes else None
