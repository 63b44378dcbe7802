"""``apply``: push a plan to the targets — checked first, written in order, undone on failure.

1. Check everything before writing anything: each target is read again (the *live* state now,
   not the plan's), every change goes through decide's guardrails against it. One refusal stops
   the whole apply: nothing is written, and each op gets an ``actions`` row saying why (refused,
   or cancelled because another was).
2. A dry run (the default) stops there, recording what it would send.
3. Otherwise the ops are written one by one, each read back and compared with what was asked.
   When one fails, what this apply already changed is put back in reverse order (each restore is
   an ``actions`` row too); a restore that fails is reported exactly, by target and error.
A key already at its recommended values is not written again (``unchanged``): applying the same
plan twice changes nothing the second time.
"""

from __future__ import annotations

import dataclasses
import getpass
import logging
import uuid

from ..config import Settings
from ..errors import ForecasterError
from ..store import actions as audit
from ..store.db import transaction, utcnow
from . import recs as recs_mod
from .adapters import base
from .aws import Clients
from .plan import Op, Plan, guardrail_problems

log = logging.getLogger(__name__)


@dataclasses.dataclass
class ApplyResult:
    applied: list[str]                 # action ids of the changes made (or, dry run, that would be)
    failed: list[dict]                 # {"target", "error"}
    dry_run: bool
    batch_id: str
    unchanged: list[str] = dataclasses.field(default_factory=list)
    restored: list[str] = dataclasses.field(default_factory=list)      # rows of the undo after a failure
    restore_failed: list[dict] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict:
        return {"applied": self.applied, "failed": self.failed, "dry_run": self.dry_run, "batch_id": self.batch_id,
                "unchanged": self.unchanged, "restored": self.restored, "restore_failed": self.restore_failed}


def new_id() -> str:
    return f"{utcnow():%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:6]}"


def default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):   # no passwd entry (containers)
        return "unknown"


def record(con, op_like: dict, **fields) -> str:
    aid = new_id()
    with transaction(con):
        audit.insert(con, audit.new(id=aid, **op_like, **fields))
    return aid


def _row(op: Op, request: dict | None, batch_id: str, actor: str, dry_run: bool) -> dict:
    return {"recommendation_id": op.recommendation["id"], "adapter": op.adapter, "target": op.where,
            "before_state": op.before, "request": None if request is None else
            {"target": op.target.model_dump(exclude_none=True), "key": op.key, "call": request},
            "batch_id": batch_id, "actor": actor, "dry_run": dry_run}


def _check(plan: Plan, settings: Settings, clients: Clients) -> list[Op]:
    """Re-read every target of the plan's ops and run the guardrails against it; the refused ops."""
    refused = list(plan.refused)
    groups: dict[tuple[str, str], list[Op]] = {}
    for op in plan.ops:
        groups.setdefault((op.adapter, op.resource), []).append(op)
    for group in groups.values():
        t = group[0].target
        try:
            live = base.get(t.kind).read(clients, t, [op.key for op in group])
        except ForecasterError as e:
            for op in group:
                op.problems = [f"cannot read the live state: {e}"]
            refused += group
            continue
        for op in group:
            op.before = live.get(op.key)
            op.problems = guardrail_problems(op, settings)
            if op.problems:
                refused.append(op)
    return refused


def apply(con, settings: Settings, plan: Plan, dry_run: bool = True, actor: str | None = None,
          clients: Clients | None = None) -> ApplyResult:
    """Apply ``plan`` (dry run by default); every op considered becomes an ``actions`` row."""
    clients = clients or Clients(settings)
    actor = actor or default_actor()
    batch = new_id()
    res = ApplyResult([], [], dry_run, batch)
    refused = _check(plan, settings, clients)
    if refused:
        bad = {id(op) for op in refused}
        for op in refused:
            err = "; ".join(op.problems)
            record(con, _row(op, None, batch, actor, dry_run), outcome="refused", error=err)
            res.failed.append({"target": op.where, "recommendation_id": op.recommendation["id"], "error": err})
        for op in plan.ops:
            if id(op) not in bad:
                record(con, _row(op, None, batch, actor, dry_run), outcome="cancelled",
                       error=f"not applied: {len(refused)} other change(s) of this apply were refused")
        return res
    done: list[tuple[str, Op]] = []
    adapters = {op.adapter: base.get(op.adapter) for op in plan.ops}
    for n, op in enumerate(plan.ops):
        a = adapters[op.adapter]
        if base.covers(op.before, op.after):
            res.unchanged.append(record(con, _row(op, None, batch, actor, dry_run), outcome="unchanged",
                                        after_state=op.before))
            continue
        request = a.request(op.target, op.key, op.before, op.after)
        if dry_run:
            res.applied.append(record(con, _row(op, request, batch, actor, True), outcome="would_apply"))
            continue
        try:
            got = a.send(clients, op.target, op.key, {**request, "recommendation_id": op.recommendation["id"]})
            if not base.covers(got, op.after):
                raise ForecasterError(f"{op.where}: the gateway reports {got} after the change, expected {op.after}")
        except ForecasterError as e:
            aid = record(con, _row(op, request, batch, actor, False), outcome="failed", error=str(e))
            res.failed.append({"target": op.where, "recommendation_id": op.recommendation["id"], "error": str(e),
                               "action_id": aid})
            log.warning("apply %s: %s failed (%s); undoing %d change(s) of this apply", batch, op.where, e, len(done))
            _undo(con, done, clients, batch, actor, res)
            for later in plan.ops[n + 1:]:
                record(con, _row(later, None, batch, actor, False), outcome="cancelled",
                       error=f"not applied: {op.where} failed before it")
            return res
        aid = record(con, _row(op, request, batch, actor, False), outcome="applied", after_state=got)
        res.applied.append(aid)
        done.append((aid, op))
    if not dry_run:
        for rid in {op.recommendation["id"] for op in plan.ops}:
            recs_mod.set_status(con, rid, "applied")
    return res


def _undo(con, done: list[tuple[str, Op]], clients: Clients, batch: str, actor: str, res: ApplyResult) -> None:
    """Put back, newest first, what this apply changed before it failed."""
    for aid, op in reversed(done):
        a = base.get(op.adapter)
        request = a.request(op.target, op.key, op.after, op.before)
        row = {**_row(op, request, batch, actor, False), "rollback_of": aid}
        row["before_state"] = op.after
        try:
            got = a.send(clients, op.target, op.key, request)
            if not base.covers(got, op.before):
                raise ForecasterError(f"{op.where}: after the restore the gateway reports {got}, expected {op.before}")
        except ForecasterError as e:
            rid = record(con, row, outcome="failed", error=f"restore failed: {e}")
            res.restore_failed.append({"target": op.where, "error": str(e), "action_id": rid,
                                       "left_as": op.after, "was": op.before})
            continue
        res.restored.append(record(con, row, outcome="restored", after_state=got))
