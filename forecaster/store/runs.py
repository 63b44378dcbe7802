"""Repository of ``runs``: every forecast, backtest, costs (and later pipeline) run, with its status."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

from .db import Connection, records, run, scalar, utcnow


@dataclasses.dataclass(frozen=True)
class Run:
    run_id: str
    kind: str
    params: dict[str, Any] | None
    started: dt.datetime
    finished: dt.datetime | None
    status: str
    error: str | None
    summary: dict[str, Any] | None


def _json(v: Any) -> str | None:
    return None if v is None else json.dumps(v, default=str)


def start(con: Connection, run_id: str, kind: str, params: dict[str, Any], started: dt.datetime | None = None) -> None:
    """Record a run as ``running``."""
    run(con, "INSERT INTO runs (run_id, kind, params, started, status) VALUES (?, ?, ?, ?, 'running')",
        [run_id, kind, _json(params), started or utcnow()])


def finish(con: Connection, run_id: str, summary: dict[str, Any] | None) -> None:
    """Mark a run ``ok`` with its summary."""
    run(con, "UPDATE runs SET status = 'ok', finished = ?, summary = ? WHERE run_id = ?",
        [utcnow(), _json(summary), run_id])


def fail(con: Connection, run_id: str, error: str) -> None:
    """Mark a run ``failed`` with the error."""
    run(con, "UPDATE runs SET status = 'failed', finished = ?, error = ? WHERE run_id = ?",
        [utcnow(), error, run_id])


def record(con: Connection, run_id: str, kind: str, params: dict[str, Any], started: dt.datetime,
           summary: dict[str, Any] | None, status: str = "ok") -> None:
    """Record a run that is already over (one row, finished now)."""
    run(con, "INSERT INTO runs (run_id, kind, params, started, finished, status, error, summary) "
             "VALUES (?, ?, ?, ?, ?, ?, NULL, ?)",
        [run_id, kind, _json(params), started, utcnow(), status, _json(summary)])


def exists(con: Connection, run_id: str) -> bool:
    return bool(scalar(con, "SELECT count(*) FROM runs WHERE run_id = ?", [run_id]))


def latest_ok(con: Connection, kind: str = "forecast") -> str | None:
    """The id of the newest run of ``kind`` that finished ok, or None."""
    return scalar(con, "SELECT run_id FROM runs WHERE kind = ? AND status = 'ok' ORDER BY started DESC LIMIT 1", [kind])


def get(con: Connection, run_id: str) -> Run | None:
    rows = records(con, "SELECT run_id, kind, params, started, finished, status, error, summary FROM runs "
                        "WHERE run_id = ?", [run_id])
    if not rows:
        return None
    r = rows[0]
    for k in ("params", "summary"):
        r[k] = json.loads(r[k]) if r[k] is not None else None
    return Run(**r)
