"""The ``runs`` table: one row per run of anything (pipeline, its steps, forecast, costs, decide...).

``status``: ``running`` (in flight), ``ok``, ``failed`` (with ``error``), ``interrupted`` (the
process stopped or was killed before the run finished; set at shutdown or at the next start), and
``skipped`` (a pipeline step whose inputs had not changed since an ok run with the same key).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass
from typing import Any

from .db import one, run, utcnow

STATUSES = ("running", "ok", "failed", "interrupted", "skipped")


@dataclass
class RunRow:
    run_id: str
    kind: str
    params: dict[str, Any]
    started: dt.datetime
    finished: dt.datetime | None
    status: str
    error: str | None
    summary: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "kind": self.kind, "params": self.params,
                "started": _iso(self.started), "finished": _iso(self.finished), "status": self.status,
                "error": self.error, "summary": self.summary}


COLUMNS = "run_id, kind, params, started, finished, status, error, summary"


def _iso(v: dt.datetime | None) -> str | None:
    return None if v is None else v.isoformat()


def row_of(t: tuple) -> RunRow:
    return RunRow(t[0], t[1], json.loads(t[2]) if t[2] else {}, t[3], t[4], t[5], t[6],
                  json.loads(t[7]) if t[7] else None)


def new_id(prefix: str) -> str:
    return f"{prefix}-{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def start(con, kind: str, params: dict[str, Any], prefix: str | None = None) -> str:
    """Insert a ``running`` row (committed at once, so a crash leaves a trace) and return its id."""
    run_id = new_id(prefix or kind.replace(":", "-"))
    run(con, "INSERT INTO runs (run_id, kind, params, started, status) VALUES (?, ?, ?, ?, 'running')",
        [run_id, kind, json.dumps(params, default=str), utcnow()])
    return run_id


def finish(con, run_id: str, status: str = "ok", summary: dict[str, Any] | None = None,
           error: str | None = None) -> None:
    if status not in STATUSES:
        raise ValueError(f"run status {status!r} is not one of {', '.join(STATUSES)}")
    run(con, "UPDATE runs SET status = ?, finished = ?, summary = ?, error = ? WHERE run_id = ?",
        [status, utcnow(), None if summary is None else json.dumps(summary, default=str), error, run_id])


def get(con, run_id: str) -> RunRow | None:
    t = one(con, f"SELECT {COLUMNS} FROM runs WHERE run_id = ?", [run_id])
    return row_of(t) if t else None


def mark_interrupted(con, reason: str, run_ids: list[str] | None = None) -> list[str]:
    """Mark ``running`` rows (all of them, or those given) ``interrupted`` with ``reason``; their ids."""
    if run_ids is not None and not run_ids:
        return []
    where = "status = 'running'" + (f" AND run_id IN ({', '.join('?' * len(run_ids))})" if run_ids else "")
    ids = [r[0] for r in run(con, f"SELECT run_id FROM runs WHERE {where}", list(run_ids or []))]
    if ids:
        run(con, f"UPDATE runs SET status = 'interrupted', finished = ?, error = ? "
                 f"WHERE run_id IN ({', '.join('?' * len(ids))}) AND status = 'running'", [utcnow(), reason, *ids])
    return ids


def find_done(con, kind: str, key: str) -> RunRow | None:
    """The newest ``ok`` run of ``kind`` whose params carry this idempotency ``key``."""
    t = one(con, f"""SELECT {COLUMNS} FROM runs WHERE kind = ? AND status = 'ok' AND params->>'key' = ?
                     ORDER BY started DESC LIMIT 1""", [kind, key])
    return row_of(t) if t else None


def latest(con, kind: str, status: str | None = "ok") -> RunRow | None:
    t = one(con, f"SELECT {COLUMNS} FROM runs WHERE kind = ? AND (? IS NULL OR status = ?) "
                 "ORDER BY started DESC LIMIT 1", [kind, status, status])
    return row_of(t) if t else None


def counts_by_status(con) -> list[tuple[str, str, int]]:
    """(kind, status, runs) for every kind and status present (the /metrics gauge)."""
    return [(k, s, int(n)) for k, s, n in run(con, "SELECT kind, status, count(*) FROM runs GROUP BY ALL ORDER BY ALL")]


def step_durations(con, prefix: str = "step:") -> list[tuple[str, int, float]]:
    """(step kind, finished runs, total seconds) of the pipeline's steps (the /metrics summary)."""
    return [(k, int(n), float(s or 0)) for k, n, s in run(con, """
        SELECT kind, count(*), sum(epoch(finished) - epoch(started)) FROM runs
        WHERE kind LIKE ? AND finished IS NOT NULL GROUP BY kind ORDER BY kind""", [prefix + "%"])]
