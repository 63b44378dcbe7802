"""``plan``: what the current recommendations would change, read against each target's live state.

Each recommendation is matched to the ``[[targets]]`` that serve it; each target is read once
through its adapter; a change is listed per setting whose live value differs from the recommended
one (like ``terraform plan``). Recommendations that cannot go anywhere are listed as skipped with the
reason: forecast-only, superseded, outside their window, no target, a target that cannot be read,
a guardrail the change would cross against the live values, or a newer recommendation for the
same setting.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import math
from typing import Any

from ..config import Settings, Target
from ..errors import ForecasterError
from . import recs as recs_mod
from .adapters import base
from .aws import Clients

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Change:
    """One setting of one resource, before -> after (the plan's printed and JSON lines)."""

    target: str
    kind: str
    setting: str
    before: Any
    after: Any
    recommendation_id: str
    reason: str


@dataclasses.dataclass
class Op:
    """One recommendation on one part of one resource: what apply writes in one call."""

    adapter: str
    target: Target
    resource: str
    key: str
    recommendation: dict
    before: dict | None
    after: dict
    problems: list[str] = dataclasses.field(default_factory=list)

    @property
    def where(self) -> str:
        return f"{self.resource} {self.key}"


@dataclasses.dataclass
class Plan:
    changes: list[Change]
    skipped: list[dict]
    ops: list[Op]            # the writes apply would make (each with at least one change)
    refused: list[Op]        # ops a guardrail or a bad value refuses: apply records them and stops
    now: dt.datetime
    peaks: dict[tuple, float] = dataclasses.field(default_factory=dict)   # (api, stage, route) -> observed rps
    considered: int = 0      # recommendations in force that the plan read

    def to_dict(self) -> dict:
        return {"changes": [dataclasses.asdict(c) for c in self.changes], "skipped": self.skipped}


def flatten(values: dict | None) -> dict[str, Any]:
    """``{"weights": {"us-east-1": 3}}`` -> ``{"weights.us-east-1": 3}`` (settings as the plan lists them)."""
    out: dict[str, Any] = {}
    for k, v in (values or {}).items():
        if isinstance(v, dict):
            out.update({f"{k}.{kk}": vv for kk, vv in v.items()})
        else:
            out[k] = v
    return out


def diff(op: Op) -> list[Change]:
    before, after = flatten(op.before), flatten(op.after)
    rec = op.recommendation
    reason = str(rec.get("rationale") or "")
    return [Change(op.where, op.adapter, k, before.get(k), after[k], rec["id"], reason)
            for k in after if not base.same(before.get(k), after[k])]


def guardrail_problems(op: Op, settings: Settings, peaks: dict[tuple, float] | None = None) -> list[str]:
    """The guardrails of decide, against the live values (before) of this target and, for a route's
    throttle, the peak observed over ``decide_floor_lookback_hours`` (the floor)."""
    from ..decide.guardrails import check_change

    rec = op.recommendation
    p = rec["params"]
    live = None if op.before is None else {**p, **op.before}
    peak = (peaks or {}).get((p.get("api"), p.get("stage"), p.get("route"))) if rec["kind"] == "throttle" else None
    return list(check_change(rec["kind"], live, dict(p), settings, observed_peak_rps=peak))


def observed_peaks(con, settings: Settings, now: dt.datetime) -> dict[tuple, float]:
    """(api, stage, route) -> the busiest second observed in the guardrail's lookback before ``now``."""
    from ..store.decide_reads import observed_peak_rps

    df = observed_peak_rps(con, now - dt.timedelta(hours=settings.decide_floor_lookback_hours), now,
                           settings.decide_counts_peak_factor)
    out: dict[tuple, float] = {}
    for api, stage, route, peak in df[["api", "stage", "route", "peak_rps"]].itertuples(index=False):
        if peak is not None and math.isfinite(float(peak)):
            out[(api, stage, route)] = float(peak)
    return out


def plan(con, settings: Settings, run_id: str | None = None, now: dt.datetime | None = None,
         clients: Clients | None = None) -> Plan:
    """The diff the current recommendations (or those of ``run_id``) would make to the live targets."""
    from ..store.db import utcnow

    now = now or utcnow()
    recs, skipped = recs_mod.current(con, run_id, now)
    return plan_recommendations(recs, settings, now, clients or Clients(settings), skipped,
                                observed_peaks(con, settings, now))


def plan_recommendations(recs: list[dict], settings: Settings, now: dt.datetime, clients: Clients,
                         skipped: list[dict] | None = None, peaks: dict[tuple, float] | None = None) -> Plan:
    """The plan of ``recs`` against the live targets (``peaks``: observed rps for the floor guardrail)."""
    skipped = list(skipped or [])
    peaks = peaks or {}
    base_adapters = {t.kind: base.get(t.kind) for t in settings.targets}
    wanted: dict[tuple[int, str], Op] = {}
    for rec in sorted(recs, key=lambda r: (str(r.get("valid_from") or ""), r["id"]), reverse=True):
        hits = [(i, t) for i, t in enumerate(settings.targets) if base_adapters[t.kind].matches(t, rec)]
        if not hits:
            p = rec["params"]
            near = sorted({f"{t.kind} (stage {t.stage})" if t.stage else t.kind for t in settings.targets
                           if t.api == p.get("api")})
            skipped.append({"recommendation_id": rec["id"], "why": (
                f"no [[targets]] entry serves {rec['kind']} for api {p.get('api')!r} stage {p.get('stage')!r}"
                + (f" route {p.get('route')!r}" if p.get("route") else "") + f" (target {rec['target']})"
                + (f"; targets of api {p.get('api')!r}: {', '.join(near)}" if near else ""))})
            continue
        for i, t in hits:
            a = base_adapters[t.kind]
            key = a.key(t, rec)
            if (i, key) in wanted:
                other = wanted[(i, key)].recommendation["id"]
                skipped.append({"recommendation_id": rec["id"], "why": f"{a.label(t)} {key} is set by the newer "
                                                                         f"recommendation {other}"})
                continue
            try:
                after = a.desired(t, rec, settings)
            except (ForecasterError, KeyError, TypeError, ValueError) as e:
                op = Op(t.kind, t, a.label(t), key, rec, None, {}, [f"params not usable: {e}"])
            else:
                op = Op(t.kind, t, a.label(t), key, rec, None, after)
            wanted[(i, key)] = op
    ops: list[Op] = []
    refused: list[Op] = []
    by_target: dict[int, list[Op]] = {}
    for (i, _), op in wanted.items():
        by_target.setdefault(i, []).append(op)
    for i, group in sorted(by_target.items()):
        t = settings.targets[i]
        a = base_adapters[t.kind]
        try:
            live = a.read(clients, t, [op.key for op in group])
        except ForecasterError as e:
            for op in group:
                op.problems.append(f"cannot read the live state: {e}")
                skipped.append({"recommendation_id": op.recommendation["id"], "why": op.problems[-1]})
                refused.append(op)
            continue
        for op in group:
            op.before = live.get(op.key)
            if not op.problems:
                op.problems = guardrail_problems(op, settings, peaks)
            if op.problems:
                skipped.append({"recommendation_id": op.recommendation["id"],
                                "why": f"{op.where}: refused: " + "; ".join(op.problems)})
                refused.append(op)
            elif diff(op):
                ops.append(op)
    changes = [c for op in ops for c in diff(op)]
    return Plan(changes, skipped, ops, refused, now, peaks, considered=len(recs))
