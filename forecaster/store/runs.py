"""Repository of ``runs``: every forecast, backtest, costs (and later pipeline) run, with its status."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
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


# ---- the pipeline's runs (forecaster.pipeline): ids made here, every status, idempotency keys ----

STATUSES = ("running", "ok", "failed", "interrupted", "skipped")


def to_dict(r: Run) -> dict[str, Any]:
    d = dataclasses.asdict(r)
    for k in ("started", "finished"):
        d[k] = None if d[k] is None else d[k].isoformat()
    return d


def new_id(prefix: str) -> str:
    return f"{prefix}-{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def begin(con: Connection, kind: str, params: dict[str, Any], prefix: str | None = None) -> str:
    """Record a new ``running`` run (committed at once, so a crash leaves a trace); its id."""
    run_id = new_id(prefix or kind.replace(":", "-"))
    start(con, run_id, kind, params)
    return run_id


def end(con: Connection, run_id: str, status: str = "ok", summary: dict[str, Any] | None = None,
        error: str | None = None) -> None:
    """Finish a run with any status of :data:`STATUSES` (``skipped``: its inputs had not changed)."""
    if status not in STATUSES:
        raise ValueError(f"run status {status!r} is not one of {', '.join(STATUSES)}")
    run(con, "UPDATE runs SET status = ?, finished = ?, summary = ?, error = ? WHERE run_id = ?",
        [status, utcnow(), _json(summary), error, run_id])


def mark_interrupted(con: Connection, reason: str, run_ids: list[str] | None = None) -> list[str]:
    """Mark ``running`` rows (all of them, or those given) ``interrupted`` with ``reason``; their ids."""
    if run_ids is not None and not run_ids:
        return []
    where = "status = 'running'" + (f" AND run_id IN ({', '.join('?' * len(run_ids))})" if run_ids else "")
    ids = [r[0] for r in run(con, f"SELECT run_id FROM runs WHERE {where}", list(run_ids or []))]
    if ids:
        run(con, f"UPDATE runs SET status = 'interrupted', finished = ?, error = ? "
                 f"WHERE run_id IN ({', '.join('?' * len(ids))}) AND status = 'running'", [utcnow(), reason, *ids])
    return ids


def find_done(con: Connection, kind: str, key: str) -> Run | None:
    """The newest ``ok`` run of ``kind`` whose params carry this idempotency ``key``."""
    run_id = scalar(con, "SELECT run_id FROM runs WHERE kind = ? AND status = 'ok' AND params->>'key' = ? "
                         "ORDER BY started DESC LIMIT 1", [kind, key])
    return None if run_id is None else get(con, run_id)


def counts_by_status(con: Connection) -> list[tuple[str, str, int]]:
    """(kind, status, runs) for every kind and status present (the /metrics gauge)."""
    return [(k, s, int(n)) for k, s, n in run(con, "SELECT kind, status, count(*) FROM runs GROUP BY ALL ORDER BY ALL")]


def step_durations(con: Connection, prefix: str = "step:") -> list[tuple[str, int, float]]:
    """(step kind, finished ok runs, their total seconds) of the pipeline's steps (for /metrics)."""
    return [(k, int(n), float(s or 0)) for k, n, s in run(con, """
        SELECT kind, count(*), sum(epoch(finished) - epoch(started)) FROM runs
        WHERE kind LIKE ? AND status = 'ok' AND finished IS NOT NULL GROUP BY kind ORDER BY kind""", [prefix + "%"])]
