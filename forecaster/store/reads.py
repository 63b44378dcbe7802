"""Paged, filtered reads the REST API serves (forecasts, spikes, costs, carbon, routes, runs).

Keyset pagination: every listing has a total order on a few columns (its ``key``), and a page
starts strictly after the key of the previous page's last row, so pages never shift under
concurrent writes and cost the same at any depth. Rows come back as dicts with the same field
names as the CLI's ``--json``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass
from typing import Any

from .db import one, run


@dataclass(frozen=True)
class Listing:
    """A table (or query) the API pages through: its columns, its key (total order) and filters."""

    source: str                        # FROM clause (a table or a parenthesised query)
    columns: tuple[str, ...]
    key: tuple[str, ...]               # ORDER BY columns that make rows unique
    descending: bool = False
    json_columns: tuple[str, ...] = ()


LISTINGS: dict[str, Listing] = {
    "forecasts": Listing("forecasts", ("run_id", "series", "ds", "model", "yhat", "yhat_lo_80", "yhat_hi_80",
                                       "yhat_lo_95", "yhat_hi_95"), ("series", "ds", "model")),
    "spikes": Listing("spikes", ("run_id", "series", "start_ts", "end_ts", "peak_ts", "peak", "baseline", "ratio",
                                 "threshold", "probability", "lead_time_hours", "reason", "event"),
                      ("start_ts", "series", "peak_ts")),
    "costs": Listing("(SELECT *, rowid AS row_no FROM costs)", (
        "run_id", "kind", "ts", "api", "stage", "route", "region", "component", "quantity", "unit", "usd",
        "usd_micros", "flags", "price_key", "catalog"), ("ts", "row_no")),
    "carbon": Listing("(SELECT *, rowid AS row_no FROM carbon)", (
        "run_id", "kind", "ts", "api", "stage", "route", "region", "component", "kwh", "g_co2e", "requests",
        "g_co2e_per_kwh", "flags"), ("ts", "row_no")),
    "routes": Listing("""(SELECT api, stage, route, region, any_value(api_type) AS api_type, sum(requests)::BIGINT AS requests,
                                 sum(status_4xx)::BIGINT AS status_4xx, sum(status_5xx)::BIGINT AS status_5xx,
                                 min(ts) AS first_ts, max(ts) AS last_ts FROM traffic_1m GROUP BY ALL)""",
                      ("api", "stage", "route", "region", "api_type", "requests", "status_4xx", "status_5xx",
                       "first_ts", "last_ts"), ("api", "stage", "route", "region")),
    "runs": Listing("runs", ("run_id", "kind", "params", "started", "finished", "status", "error", "summary"),
                    ("started", "run_id"), descending=True, json_columns=("params", "summary")),
}


def plain(v: Any) -> Any:
    if isinstance(v, (dt.datetime, dt.date)):
        return v.isoformat()
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    return v


def page(con, name: str, filters: list[tuple[str, str, Any]], after: list | None, limit: int
         ) -> tuple[list[dict[str, Any]], list | None]:
    """One page of listing ``name``: rows matching ``filters`` ((column, op, value) with op one of
    = >= < LIKE), strictly after key ``after``; returns the rows and the key of the last one when
    more may follow (None at the end)."""
    lst = LISTINGS[name]
    where, params = [], []
    for col, op, value in filters:
        if col not in lst.columns and col not in lst.key or op not in ("=", ">=", "<", "LIKE"):
            raise ValueError(f"bad filter {col} {op}")
        where.append(f"{col} {op} ?")
        params.append(value)
    if after is not None:
        if len(after) != len(lst.key):
            raise ValueError("cursor does not fit this listing")
        cmp = "<" if lst.descending else ">"
        where.append(f"({', '.join(lst.key)}) {cmp} ({', '.join('?' * len(lst.key))})")
        params.extend(after)
    order = ", ".join(f"{k} {'DESC' if lst.descending else 'ASC'}" for k in lst.key)
    cols = list(dict.fromkeys(lst.columns + lst.key))
    sql = (f"SELECT {', '.join(cols)} FROM {lst.source} AS t {'WHERE ' + ' AND '.join(where) if where else ''} "
           f"ORDER BY {order} LIMIT {int(limit) + 1}")
    rows = run(con, sql, params)
    more = len(rows) > limit
    rows = rows[:limit]
    out = []
    for r in rows:
        d = dict(zip(cols, r))
        for c in lst.json_columns:
            if d.get(c):
                d[c] = json.loads(d[c])
        out.append({c: plain(d[c]) for c in lst.columns})
    last = None
    if more and rows:
        d = dict(zip(cols, rows[-1]))
        last = [d[k] for k in lst.key]   # typed: a cursor keeps timestamps as timestamps
    return out, last


def latest_forecast_run(con) -> str | None:
    """The newest ok forecast run (the one /v1/forecasts and /v1/spikes show by default)."""
    t = one(con, "SELECT run_id FROM runs WHERE kind = 'forecast' AND status = 'ok' ORDER BY started DESC LIMIT 1")
    return t[0] if t else None


def latest_ok_finished(con) -> tuple[str, dt.datetime] | None:
    """(kind, finished) of the newest ok run of any kind: /readyz reports its age."""
    t = one(con, "SELECT kind, finished FROM runs WHERE status = 'ok' AND finished IS NOT NULL "
                 "ORDER BY finished DESC LIMIT 1")
    return (t[0], t[1]) if t else None


def ping(con) -> int | None:
    """The schema version, read through the store (the readiness probe)."""
    t = one(con, "SELECT max(version) FROM schema_version")
    return t[0] if t else None


def recommendations_boundary(con, after: dt.datetime) -> dt.datetime | None:
    """The first valid_from or valid_to after ``after``: when the set in force next changes by itself."""
    t = one(con, """SELECT min(b) FROM (SELECT valid_from AS b FROM recommendations WHERE valid_from > ?
                    UNION ALL SELECT valid_to FROM recommendations WHERE valid_to > ?)""", [after, after])
    return t[0] if t else None


def data_watermark(con) -> str:
    """Changes whenever a source is loaded or traffic is dropped: the input a forecast depends on."""
    t = one(con, "SELECT count(*), coalesce(max(source_id), 0), coalesce(max(loaded_at)::VARCHAR, '') FROM sources")
    u = one(con, "SELECT count(*), coalesce(max(ts)::VARCHAR, '') FROM traffic_1m")
    assert t is not None and u is not None   # an aggregate without GROUP BY always returns its one row
    return f"{t[0]}:{t[1]}:{t[2]}|{u[0]}:{u[1]}"


def rows_ingested(con) -> dict[str, int]:
    """Rows loaded and rejected over every source (the /metrics counters)."""
    t = one(con, "SELECT coalesce(sum(rows_loaded), 0), coalesce(sum(rows_rejected), 0) FROM sources")
    return {"loaded": int(t[0]), "rejected": int(t[1])} if t else {"loaded": 0, "rejected": 0}
