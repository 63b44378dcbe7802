"""``cwlogs://GROUP``: a CloudWatch Logs log group, read incrementally by event time.

URI: ``cwlogs://GROUP[?stream=PREFIX][&start=ISO|MS][&end=ISO|MS][&lag=SECONDS]`` (a group name
starting with ``/`` gives ``cwlogs:///aws/...``). Each run reads the events after the previous
run's cursor with ``FilterLogEvents`` (all pages) and makes ONE source of them, with
``uri="cwlogs://GROUP[?stream=PREFIX]#<first ms>-<last ms>"``; no new events, no source.

The cursor, stored in ``sources.cursor`` of the batch that read up to it, is JSON
``{"ts_ms": <last event time>, "ids": [<event ids at exactly that ms>]}``: the next run starts AT
``ts_ms`` (inclusive) and drops the ids already read, so events sharing the boundary millisecond
are neither skipped nor read twice. Cursors are kept per group and stream prefix (``start`` and
``end`` only narrow a run). If a batch fails to load, nothing is recorded and the next run reads
it again. ``start`` is used when there is no cursor yet (default: everything the group retains)
or when it is later than the cursor.

Caveat: CloudWatch Logs can make an event visible some time after its timestamp; an event older
than the cursor that arrives after a run is not read. ``lag=SECONDS`` reads only up to
now - lag so late events are still ahead of the cursor.

Messages become lines as in :func:`.cwrecords.event_line` (embedded newlines folded to spaces).
Events are fetched when the source is expanded (that is when the range, the uri and any AWS error
are known) into a spooled temporary file: memory stays under :data:`SPOOL_MEMORY_BYTES`.
"""

from __future__ import annotations

import functools
import json
import logging
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterator
from urllib.parse import parse_qs

from ..errors import SourceError
from ..store.db import one
from .cwrecords import event_line
from .sources import Source, register_scheme

log = logging.getLogger(__name__)

SPOOL_MEMORY_BYTES = 8 << 20


@dataclass(frozen=True)
class LogsQuery:
    group: str
    stream_prefix: str | None = None
    start_ms: int | None = None
    end_ms: int | None = None
    lag_s: int = 0

    @property
    def key(self) -> str:
        """The name its cursors are kept under: group and stream prefix."""
        return f"cwlogs://{self.group}" + (f"?stream={self.stream_prefix}" if self.stream_prefix else "")


@dataclass(frozen=True)
class Cursor:
    ts_ms: int
    ids: frozenset[str]

    def to_json(self) -> str:
        return json.dumps({"ts_ms": self.ts_ms, "ids": sorted(self.ids)}, separators=(",", ":"))


def _ms(uri: str, name: str, value: str) -> int:
    if value.isdigit():
        return int(value)
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise SourceError(f"{uri}: {name}={value!r} is neither an ISO 8601 time nor epoch milliseconds") from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return int(dt.timestamp() * 1000)


def parse_cwlogs_uri(uri: str) -> LogsQuery:
    """``cwlogs://GROUP?stream=P&start=ISO&end=ISO&lag=S`` -> :class:`LogsQuery` (unknown keys are errors)."""
    rest = uri[len("cwlogs://"):]
    group, _, query = rest.partition("?")
    if not group:
        raise SourceError(f"{uri}: expected cwlogs://LOG_GROUP, the log group name is missing")
    params = {k: v[-1] for k, v in parse_qs(query.replace("+", "%2B"), keep_blank_values=True).items()}  # keep "+00:00"
    unknown = sorted(set(params) - {"stream", "start", "end", "lag"})
    if unknown:
        raise SourceError(f"{uri}: unknown parameter(s) {', '.join(unknown)}; known: end, lag, start, stream")
    lag = params.get("lag", "0")
    if not lag.isdigit():
        raise SourceError(f"{uri}: lag={lag!r} must be whole seconds")
    return LogsQuery(
        group=group,
        stream_prefix=params.get("stream") or None,
        start_ms=_ms(uri, "start", params["start"]) if params.get("start") else None,
        end_ms=_ms(uri, "end", params["end"]) if params.get("end") else None,
        lag_s=int(lag),
    )


def previous_cursor(con: Any, key: str) -> Cursor | None:
    """The cursor recorded by the last loaded batch of ``key`` (None before the first)."""
    if con is None:
        return None
    row = one(con, "SELECT source_id, cursor FROM sources WHERE starts_with(uri, ?) AND cursor IS NOT NULL "
                   "ORDER BY source_id DESC LIMIT 1", [key + "#"])
    if row is None:
        return None
    try:
        data = json.loads(row[1])
        return Cursor(int(data["ts_ms"]), frozenset(str(i) for i in data["ids"]))
    except (ValueError, KeyError, TypeError) as e:
        raise SourceError(f"{key}: the cursor of source {row[0]} is unreadable ({e}): {row[1][:200]!r}") from None


def logs_client(settings: Any):
    """A CloudWatch Logs client for ``settings`` (endpoint override, region), cached per process."""
    return _logs_client(getattr(settings, "logs_endpoint_url", None), getattr(settings, "aws_region", None))


@functools.lru_cache(maxsize=8)
def _logs_client(endpoint: str | None, region: str | None):
    import boto3   # imported here: the CLI does not pay for boto3 unless it reads AWS
    from botocore.config import Config

    return boto3.session.Session().client(
        "logs", endpoint_url=endpoint, region_name=region,
        config=Config(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=10, read_timeout=60))


def expand_cwlogs(uri: str, settings: Any, con: Any = None) -> Iterator[Source]:
    """At most one source: the events of the group after its cursor."""
    q = parse_cwlogs_uri(uri)
    cur = previous_cursor(con, q.key)
    start = q.start_ms
    if cur is not None:
        start = cur.ts_ms if start is None else max(start, cur.ts_ms)
    end = q.end_ms if q.end_ms is not None else (int(time.time() * 1000) - q.lag_s * 1000 if q.lag_s else None)
    if start is not None and end is not None and end < start:
        log.info("%s: nothing to read (start %d ms is after end %d ms)", uri, start, end)
        return
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MEMORY_BYTES)
    stats = {"events": 0, "already_read": 0, "folded": 0}
    first = last = None
    at_last: set[str] = set()
    for ev in _events(uri, q, settings, start, end):
        ts, eid = int(ev["timestamp"]), str(ev["eventId"])
        if cur is not None and ts == cur.ts_ms and eid in cur.ids:
            stats["already_read"] += 1
            continue
        if (start is not None and ts < start) or (q.stream_prefix and not ev.get("logStreamName", "").startswith(q.stream_prefix)):
            continue   # outside the query: only if the service ignored a parameter
        msg = str(ev.get("message", ""))
        stats["folded"] += "\n" in msg.rstrip("\r\n") or "\r" in msg.rstrip("\r\n")
        spool.write(event_line(msg))
        stats["events"] += 1
        first = ts if first is None else min(first, ts)
        if last is None or ts > last:
            last, at_last = ts, {eid}
        elif ts == last:
            at_last.add(eid)
    if not stats["events"] or last is None:
        spool.close()
        log.info("%s: no new events (from %s ms, %d already read)", uri, start, stats["already_read"])
        return
    if cur is not None and last == cur.ts_ms:
        at_last |= cur.ids
    cursor = Cursor(last, frozenset(at_last))
    log.info("%s: %d new event(s) from %d to %d ms (%d already read skipped, %d multi-line message(s) folded)",
             uri, stats["events"], first, last, stats["already_read"], stats["folded"])
    size = spool.tell()

    def opener():
        spool.seek(0)
        return spool

    yield Source(uri=f"{q.key}#{first}-{last}", opener=opener, size=size, cursor=cursor.to_json(),
                 extra={"cwlogs": stats})


def _events(uri: str, q: LogsQuery, settings: Any, start: int | None, end: int | None) -> Iterator[dict]:
    from botocore.exceptions import BotoCoreError, ClientError

    kwargs: dict[str, Any] = {"logGroupName": q.group}
    if start is not None:
        kwargs["startTime"] = start
    if end is not None:
        kwargs["endTime"] = end
    if q.stream_prefix:
        kwargs["logStreamNamePrefix"] = q.stream_prefix
    client = logs_client(settings)
    try:
        for page in client.get_paginator("filter_log_events").paginate(**kwargs):
            yield from page.get("events", [])
    except ClientError as e:
        err = e.response.get("Error", {})
        code = str(err.get("Code", ""))
        if code == "ResourceNotFoundException":
            raise SourceError(f"{uri}: no such log group {q.group!r} in region {client.meta.region_name}") from None
        if code in ("AccessDeniedException", "UnrecognizedClientException", "403"):
            raise SourceError(f"{uri}: access denied ({code}); reading needs logs:FilterLogEvents on "
                              f"arn:aws:logs:{client.meta.region_name}:ACCOUNT:log-group:{q.group}:* (docs/aws.md)") from None
        raise SourceError(f"{uri}: {code or 'error'}: {err.get('Message', e)}") from None
    except BotoCoreError as e:
        raise SourceError(f"{uri}: cannot read the log group: {type(e).__name__}: {e}") from None


register_scheme("cwlogs", expand_cwlogs)
