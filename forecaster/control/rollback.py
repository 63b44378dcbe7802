"""``rollback``: put recorded before-states back, newest first; each restore is an ``actions`` row.

A restore is refused when the live value is no longer what the apply left (someone or something
changed it since): putting the old value back would silently undo that other change.
"""

from __future__ import annotations

import dataclasses

from ..config import Settings, Target
from ..errors import BadInput, ForecasterError, NotFound
from ..store import actions as audit
from . import recs as recs_mod
from .adapters import base
from .apply import default_actor, new_id, record
from .aws import Clients


@dataclasses.dataclass
class RollbackResult:
    restored: list[str]
    failed: list[dict]
    dry_run: bool
    batch_id: str

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _targets(con, action_ids: list[str] | None, last: bool) -> list[audit.Action]:
    if last:
        batch = audit.last_applied_batch(con)
        if batch is None:
            raise NotFound("nothing to roll back: no apply has changed anything yet")
        rows = [a for a in audit.by_batch(con, batch) if a.outcome == "applied" and a.rollback_of is None]
    else:
        rows = []
        for aid in action_ids or []:
            a = audit.get(con, aid)
            if a is None:
                raise NotFound(f"no action with id {aid!r} (see `forecaster actions`)")
            if a.dry_run or a.outcome != "applied" or a.rollback_of is not None:
                raise BadInput(f"action {aid} cannot be rolled back: it is a "
                               f"{'dry run' if a.dry_run else 'rollback' if a.rollback_of else a.outcome + ' action'}, "
                               f"only real applied changes can")
            rows.append(a)
    done = audit.rolled_back_ids(con, [a.id for a in rows])
    if done and len(done) == len(rows):
        raise BadInput(f"already rolled back: {', '.join(sorted(done))}")
    return [a for a in rows if a.id not in done]


def rollback(con, settings: Settings, action_ids: list[str] | None = None, last: bool = False,
             dry_run: bool = True, actor: str | None = None, clients: Clients | None = None) -> RollbackResult:
    """Restore the before-state of ``action_ids`` (or of the last apply's changes); dry run by default."""
    if not last and not action_ids:
        raise BadInput("rollback needs action ids or last=True")
    clients = clients or Clients(settings)
    actor = actor or default_actor()
    batch = new_id()
    res = RollbackResult([], [], dry_run, batch)
    for a in sorted(_targets(con, action_ids, last), key=lambda a: (a.at_ts, a.id), reverse=True):
        call = a.request or {}
        target, key = Target(**call["target"]), call["key"]
        adapter = base.get(target.kind)
        row = {"recommendation_id": a.recommendation_id, "adapter": a.adapter, "target": a.target,
               "batch_id": batch, "actor": actor, "dry_run": dry_run, "rollback_of": a.id}
        try:
            live = adapter.read(clients, target, [key])[key]
        except ForecasterError as e:
            rid = record(con, row, outcome="failed", error=f"cannot read the live state: {e}")
            res.failed.append({"target": a.target, "error": str(e), "action_id": rid})
            continue
        row["before_state"] = live
        if not base.covers(live, a.after_state):
            err = (f"changed since action {a.id}: live {live}, the apply left {a.after_state}; "
                   f"not restored (would undo that later change)")
            rid = record(con, row, outcome="refused", error=err)
            res.failed.append({"target": a.target, "error": err, "action_id": rid})
            continue
        request = adapter.request(target, key, live, a.before_state)
        row["request"] = {"target": call["target"], "key": key, "call": request}
        if dry_run:
            res.restored.append(record(con, row, outcome="would_restore"))
            continue
        try:
            got = adapter.send(clients, target, key, request)
            if not base.covers(got, a.before_state):
                raise ForecasterError(f"after the restore the gateway reports {got}, expected {a.before_state}")
        except ForecasterError as e:
            rid = record(con, row, outcome="failed", error=str(e))
            res.failed.append({"target": a.target, "error": str(e), "action_id": rid})
            continue
        res.restored.append(record(con, row, outcome="restored", after_state=got))
        if a.recommendation_id:
            recs_mod.set_status(con, a.recommendation_id, "rolled_back")
    return res
