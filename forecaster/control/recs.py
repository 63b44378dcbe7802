"""The recommendations the control plane pushes, read through decide's repository as plain dicts."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any

PUSHABLE = ("proposed", "applied", "rolled_back")
LISTED = PUSHABLE + ("forecast_only",)


def as_dict(r: Any) -> dict:
    d = dataclasses.asdict(r) if dataclasses.is_dataclass(r) and not isinstance(r, type) else dict(r)
    for k in ("params", "expected_impact"):
        if isinstance(d.get(k), str):
            d[k] = json.loads(d[k])
    d["params"] = d.get("params") or {}
    return d


def _in_window(r: dict, now: dt.datetime) -> bool:
    start, end = r.get("valid_from"), r.get("valid_to")
    if r["kind"] == "prewarm":          # scheduled ahead: every window not yet over
        return end is None or end > now
    return (start is None or start <= now) and (end is None or end > now)


def current(con, run_id: str | None, now: dt.datetime) -> tuple[list[dict], list[dict]]:
    """(recommendations to push, skipped ones with why): those of ``run_id``, or every one in force
    at ``now`` (pre-warm windows: every one not over, scheduled ahead); forecast-only and superseded
    ones in force are skipped with the reason, windows over or not begun are left out."""
    from ..store import recommendations as repo

    found = repo.by_run(con, run_id) if run_id else repo.in_force(con, valid_at=None, statuses=LISTED)
    rows = [as_dict(r) for r in found]
    keep, skipped = [], []
    for r in rows:
        if not _in_window(r, now):
            continue    # a window that is over or not yet begun: nothing to push now, nothing to report
        if r["status"] == "forecast_only":
            skipped.append({"recommendation_id": r["id"], "why": "forecast_only: the forecast's accuracy is too "
                                                                  "poor to act on it automatically"})
        elif r["status"] not in PUSHABLE:
            skipped.append({"recommendation_id": r["id"], "why": f"status {r['status']}"})
        else:
            keep.append(r)
    return keep, skipped


def set_status(con, rec_id: str, status: str) -> None:
    from ..store import recommendations as repo

    repo.set_status(con, rec_id, status)
