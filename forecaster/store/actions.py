"""The ``actions`` table: the control plane's audit log (owner: forecaster.control).

One row per change the control plane considered — dry or real, success or failure: which
recommendation, which adapter and resource, the live state before, the request sent, the state
read back after, the outcome and the error. A rollback is itself a row (``rollback_of`` names the
row it undid); rows of one ``apply`` or ``rollback`` call share a ``batch_id``. Secrets never reach
this table: callers pass requests already stripped of them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

from .db import run, utcnow

COLUMNS = ("id", "recommendation_id", "adapter", "target", "before_state", "request", "after_state", "dry_run",
           "outcome", "error", "at_ts", "actor", "batch_id", "rollback_of")


@dataclasses.dataclass
class Action:
    id: str
    recommendation_id: str | None
    adapter: str
    target: str | None
    before_state: Any
    request: Any
    after_state: Any
    dry_run: bool
    outcome: str
    error: str | None
    at_ts: dt.datetime
    actor: str | None
    batch_id: str | None
    rollback_of: str | None

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["at_ts"] = self.at_ts.isoformat(timespec="seconds")
        return d


def _dump(v: Any) -> str | None:
    return None if v is None else json.dumps(v, default=str, sort_keys=True)


def _load(v: Any) -> Any:
    return None if v is None else json.loads(v)


def insert(con, action: Action) -> Action:
    """Write one audit row (named columns)."""
    values = [getattr(action, c) for c in COLUMNS]
    for i, c in enumerate(COLUMNS):
        if c in ("before_state", "request", "after_state"):
            values[i] = _dump(values[i])
    run(con, f"INSERT INTO actions ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))})", values)
    return action


def new(**fields: Any) -> Action:
    """An Action with its time set now and unset fields None (``dry_run`` False)."""
    base: dict[str, Any] = {c: None for c in COLUMNS}
    base.update(dry_run=False, at_ts=utcnow())
    base.update(fields)
    return Action(**base)


def _rows(con, where: str = "", params: list | None = None) -> list[Action]:
    rows = run(con, f"SELECT {', '.join(COLUMNS)} FROM actions {where} ORDER BY at_ts, id", params)
    out = []
    for r in rows:
        d = dict(zip(COLUMNS, r))
        for c in ("before_state", "request", "after_state"):
            d[c] = _load(d[c])
        out.append(Action(**d))
    return out


def all_actions(con, limit: int | None = None) -> list[Action]:
    """The audit log, oldest first (the newest ``limit`` when given)."""
    rows = _rows(con)
    return rows if limit is None else rows[-int(limit):] if limit > 0 else []


def get(con, action_id: str) -> Action | None:
    rows = _rows(con, "WHERE id = ?", [action_id])
    return rows[0] if rows else None


def by_batch(con, batch_id: str) -> list[Action]:
    return _rows(con, "WHERE batch_id = ?", [batch_id])


def last_applied_batch(con) -> str | None:
    """The batch of the newest real apply that changed something (rollbacks and dry runs aside)."""
    rows = run(con, """
        SELECT batch_id FROM actions
        WHERE NOT dry_run AND outcome = 'applied' AND rollback_of IS NULL AND batch_id IS NOT NULL
        ORDER BY at_ts DESC, id DESC LIMIT 1""")
    return rows[0][0] if rows else None


def rolled_back_ids(con, action_ids: list[str]) -> set[str]:
    """Which of these actions a real, successful rollback row already undid."""
    if not action_ids:
        return set()
    marks = ", ".join("?" * len(action_ids))
    rows = run(con, f"""SELECT rollback_of FROM actions WHERE NOT dry_run AND outcome = 'restored'
                        AND rollback_of IN ({marks})""", list(action_ids))
    return {r[0] for r in rows}
