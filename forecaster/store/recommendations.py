"""Repository of the ``recommendations`` table (owner: ``forecaster.decide``).

Records are :class:`Recommendation` dataclasses; ``params`` and ``expected_impact`` are dicts
(stored as JSON). Timestamps are naive UTC. The control plane, the API and the dashboards read
through :func:`in_force`, :func:`by_run` and :func:`get`, and change status with :func:`set_status`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from typing import Any, Iterable

import duckdb

from ..errors import BadInput, NotFound
from .db import and_where, one, run, scalar

KINDS = ("throttle", "prewarm", "route", "cache", "websocket")
STATUSES = ("proposed", "forecast_only", "superseded", "applied", "rolled_back")
COLUMNS = ("id", "run_id", "kind", "target", "params", "valid_from", "valid_to", "rationale",
           "expected_impact", "status")


@dataclasses.dataclass
class Recommendation:
    id: str
    run_id: str | None
    kind: str
    target: str
    params: dict[str, Any]
    valid_from: dt.datetime | None
    valid_to: dt.datetime | None
    rationale: str
    expected_impact: dict[str, float]
    status: str = "proposed"

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        for k in ("valid_from", "valid_to"):
            d[k] = d[k].isoformat() if d[k] is not None else None
        return d


def _row(r: tuple) -> Recommendation:
    d = dict(zip(COLUMNS, r))
    d["params"] = json.loads(d["params"]) if isinstance(d["params"], str) else (d["params"] or {})
    ei = d["expected_impact"]
    d["expected_impact"] = json.loads(ei) if isinstance(ei, str) else (ei or {})
    return Recommendation(**d)


_SELECT = f"SELECT {', '.join(COLUMNS)} FROM recommendations"


def insert(con: duckdb.DuckDBPyConnection, recs: Iterable[Recommendation]) -> int:
    """Append records (inside the caller's transaction, if any); returns how many."""
    rows = []
    for r in recs:
        if r.kind not in KINDS:
            raise BadInput(f"recommendation kind must be one of {', '.join(KINDS)}, got {r.kind!r}")
        if r.status not in STATUSES:
            raise BadInput(f"recommendation status must be one of {', '.join(STATUSES)}, got {r.status!r}")
        rows.append([r.id, r.run_id, r.kind, r.target, json.dumps(r.params, sort_keys=True), r.valid_from,
                     r.valid_to, r.rationale, json.dumps(r.expected_impact, sort_keys=True), r.status])
    if rows:
        import pandas as pd

        frame = pd.DataFrame(rows, columns=list(COLUMNS))
        for c in ("valid_from", "valid_to"):
            frame[c] = pd.to_datetime(frame[c])
        con.register("_recs_in", frame)
        try:
            run(con, f"INSERT INTO recommendations ({', '.join(COLUMNS)}) SELECT {', '.join(COLUMNS)} FROM _recs_in")
        finally:
            con.unregister("_recs_in")
    return len(rows)


def get(con: duckdb.DuckDBPyConnection, rec_id: str) -> Recommendation:
    """One record by id; :class:`NotFound` when there is none."""
    r = one(con, f"{_SELECT} WHERE id = ?", [rec_id])
    if r is None:
        raise NotFound(f"no recommendation with id {rec_id!r}")
    return _row(r)


def by_run(con: duckdb.DuckDBPyConnection, run_id: str, kind: str | None = None) -> list[Recommendation]:
    """Every record a decide run wrote (optionally of one kind), by kind, target, window."""
    params: list[Any] = [run_id]
    where = and_where("run_id = ?", params, ("kind = ?", kind))
    return [_row(r) for r in run(con, f"{_SELECT} WHERE {where} ORDER BY kind, target, valid_from, id", params)]


def in_force(con: duckdb.DuckDBPyConnection, valid_at: dt.datetime | None = None, api: str | None = None,
             stage: str | None = None, route: str | None = None, kind: str | None = None,
             statuses: tuple[str, ...] = ("proposed", "forecast_only", "applied")) -> list[Recommendation]:
    """Records whose window holds ``valid_at`` (default: every window; a null bound is open), not
    superseded or rolled back, filtered by params' api / stage / route and kind. When several decide
    runs cover the same kind, target and moment, only the newest run's record is returned."""
    sql, params = _in_force_query(valid_at, api, stage, route, kind, statuses)
    return [_row(r) for r in run(con, sql + " ORDER BY r.kind, r.target, r.valid_from, r.id", params)]


def in_force_fingerprint(con: duckdb.DuckDBPyConnection, valid_at: dt.datetime | None = None, api: str | None = None,
                         stage: str | None = None, route: str | None = None, kind: str | None = None,
                         statuses: tuple[str, ...] = ("proposed", "forecast_only", "applied")) -> str:
    """A digest of every column of the rows :func:`in_force` returns, in its order, computed in DuckDB:
    the same digest, the same records (the API checks it before rebuilding a response in Python)."""
    sql, params = _in_force_query(valid_at, api, stage, route, kind, statuses)
    cols = ", ".join(f"r.{c}" for c in COLUMNS)
    row = one(con, f"""
        SELECT count(*), md5(coalesce(string_agg(CAST(row({cols}) AS VARCHAR), chr(30)
                                                 ORDER BY r.kind, r.target, r.valid_from, r.id), ''))
        FROM ({sql}) r""", params)
    assert row is not None   # an aggregate without GROUP BY always returns its one row
    return f"{row[0]}:{row[1]}"


def _in_force_query(valid_at, api, stage, route, kind, statuses) -> tuple[str, list[Any]]:
    where = [f"r.status IN ({', '.join('?' * len(statuses))})"]
    params: list[Any] = list(statuses)
    if valid_at is not None:
        where.append("(r.valid_from IS NULL OR r.valid_from <= ?) AND (r.valid_to IS NULL OR r.valid_to > ?)")
        params += [valid_at, valid_at]
    for col, v in (("api", api), ("stage", stage), ("route", route)):
        if v is not None:
            where.append(f"json_extract_string(r.params, '$.{col}') = ?")
            params.append(v)
    if kind is not None:
        where.append("r.kind = ?")
        params.append(kind)
    return f"""
        SELECT {', '.join('r.' + c for c in COLUMNS)} FROM recommendations r
        LEFT JOIN runs u ON u.run_id = r.run_id
        WHERE {' AND '.join(where)}
        QUALIFY dense_rank() OVER (PARTITION BY r.kind, r.target, r.valid_from
                                   ORDER BY u.started DESC NULLS LAST, r.run_id DESC) = 1""", params


def set_status(con: duckdb.DuckDBPyConnection, rec_ids: str | Iterable[str], status: str) -> int:
    """Set the status of records by id; returns how many changed. Unknown ids raise :class:`NotFound`."""
    if status not in STATUSES:
        raise BadInput(f"recommendation status must be one of {', '.join(STATUSES)}, got {status!r}")
    ids = [rec_ids] if isinstance(rec_ids, str) else list(rec_ids)
    if not ids:
        return 0
    found = {r[0] for r in run(con, "SELECT id FROM recommendations WHERE id IN (SELECT unnest(?::VARCHAR[]))", [ids])}
    missing = sorted(set(ids) - found)
    if missing:
        raise NotFound(f"no recommendation with id {', '.join(map(repr, missing[:5]))}")
    run(con, "UPDATE recommendations SET status = ? WHERE id IN (SELECT unnest(?::VARCHAR[]))", [status, ids])
    return len(found)


def supersede(con: duckdb.DuckDBPyConnection, run_id: str, kinds: Iterable[str]) -> int:
    """Mark ``proposed`` / ``forecast_only`` records of other runs with the same kind and target whose
    window is not over before the new run's first window as ``superseded``; returns how many."""
    kinds = list(kinds)
    if not kinds:
        return 0
    n = scalar(con, """
        SELECT count(*) FROM recommendations o
        WHERE o.run_id IS DISTINCT FROM ? AND o.status IN ('proposed', 'forecast_only')
          AND o.kind IN (SELECT unnest(?::VARCHAR[]))
          AND EXISTS (SELECT 1 FROM recommendations n WHERE n.run_id = ? AND n.kind = o.kind AND n.target = o.target
                      AND (o.valid_to IS NULL OR n.valid_from IS NULL OR o.valid_to > n.valid_from))""",
               [run_id, kinds, run_id])
    run(con, """
        UPDATE recommendations o SET status = 'superseded'
        WHERE o.run_id IS DISTINCT FROM ? AND o.status IN ('proposed', 'forecast_only')
          AND o.kind IN (SELECT unnest(?::VARCHAR[]))
          AND EXISTS (SELECT 1 FROM recommendations n WHERE n.run_id = ? AND n.kind = o.kind AND n.target = o.target
                      AND (o.valid_to IS NULL OR n.valid_from IS NULL OR o.valid_to > n.valid_from))""",
        [run_id, kinds, run_id])
    return int(n)
