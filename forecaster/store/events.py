"""The ``events`` table: calendar events added over the API (``POST /v1/events``).

Forecast runs use them together with ``events_file``: the pipeline writes both into one calendar
file per run (``calendar_rows``), so the forecasting package keeps reading a single calendar.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

from ..errors import NotFound
from .db import one, run, utcnow

COLUMNS = "id, name, start_ts, end_ts, routes, regions, expected_uplift, recurring, created, created_by"


def _row(t: tuple) -> dict[str, Any]:
    return {"id": t[0], "name": t[1], "start": t[2].isoformat(), "end": t[3].isoformat(),
            "routes": json.loads(t[4]) if t[4] else [], "regions": json.loads(t[5]) if t[5] else [],
            "expected_uplift": t[6], "recurring": t[7], "created": t[8].isoformat(), "created_by": t[9]}


def insert(con, name: str, start, end, routes=(), regions=(), expected_uplift: float | None = None,
           recurring: str | None = None, created_by: str | None = None) -> dict[str, Any]:
    """Store one validated event (see ``forecaster.forecast.events.parse_events``); the stored row."""
    eid = f"ev-{uuid.uuid4().hex[:12]}"
    run(con, "INSERT INTO events (id, name, start_ts, end_ts, routes, regions, expected_uplift, recurring, "
             "created, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [eid, name, start, end, json.dumps(list(routes)), json.dumps(list(regions)), expected_uplift, recurring,
         utcnow(), created_by])
    return get(con, eid)


def get(con, event_id: str) -> dict[str, Any]:
    t = one(con, f"SELECT {COLUMNS} FROM events WHERE id = ?", [event_id])
    if t is None:
        raise NotFound(f"no event {event_id!r}")
    return _row(t)


def delete(con, event_id: str) -> dict[str, Any]:
    row = get(con, event_id)
    run(con, "DELETE FROM events WHERE id = ?", [event_id])
    return row


def all_events(con) -> list[dict[str, Any]]:
    return [_row(t) for t in run(con, f"SELECT {COLUMNS} FROM events ORDER BY start_ts, id")]


def calendar_rows(con) -> list[dict[str, Any]]:
    """The stored events as calendar rows (the YAML calendar's fields)."""
    return [{"name": e["name"], "start": e["start"], "end": e["end"], "routes": e["routes"],
             "regions": e["regions"], "expected_uplift": e["expected_uplift"], "recurring": e["recurring"]}
            for e in all_events(con)]


def fingerprint(con) -> str:
    """Changes whenever an event is added or removed (part of a forecast step's idempotency key)."""
    t = one(con, "SELECT count(*), coalesce(max(created)::VARCHAR, ''), coalesce(string_agg(id, ',' ORDER BY id), '') FROM events")
    return f"{t[0]}:{t[1]}:{hashlib.sha256(t[2].encode()).hexdigest()[:12]}" if t else "0"
