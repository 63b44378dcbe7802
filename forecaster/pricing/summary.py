"""Group priced (or carbon) lines by route, api, region or component: the CLI/API row shape.

``{"key": ..., "<value>": X, "components": {component: X}, "flags": [...]}`` — one helper for
costs (summed exactly in integer micro-dollars) and carbon (grams).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..errors import UnknownName

GROUPINGS: dict[str, list[str]] = {
    "route": ["api", "stage", "route", "region"],
    "api": ["api"],
    "region": ["region"],
    "component": ["component"],
    "kind": ["kind"],
}


def group_key(frame: pd.DataFrame, by: str) -> pd.Series:
    """The grouping key of each line ('api|stage|route|region' for routes)."""
    if by not in GROUPINGS:
        raise UnknownName("grouping", by, list(GROUPINGS))
    cols = GROUPINGS[by]
    if not len(frame):
        return pd.Series([], dtype=str)
    key = frame[cols[0]].fillna("").astype(str)
    for c in cols[1:]:
        key = key + "|" + frame[c].fillna("").astype(str)
    return key


def summarize(frame: pd.DataFrame, by: str, value: str, out_name: str, scale: float = 1.0,
              digits: int | None = 6) -> list[dict]:
    """Rows sorted by value (largest first), each with components and the union of flags.

    ``digits`` rounds the output (6 for dollars from micro-dollars: exact); None keeps floats.
    """
    if not len(frame):
        group_key(frame, by)   # still validates ``by``
        return []
    f = frame.assign(_key=group_key(frame, by).values)
    rows: list[dict[str, Any]] = []
    for key, g in f.groupby("_key", sort=True):
        comps = g.groupby("component")[value].sum()
        flags = sorted({x for s in g["flags"].fillna("") for x in str(s).split(",") if x})
        rows.append({
            "key": key,
            out_name: _round(_num(g[value].sum()) * scale, digits),
            "components": {str(c): _round(_num(v) * scale, digits) for c, v in comps.items()},
            "flags": flags,
        })
    rows.sort(key=lambda r: (-r[out_name], r["key"]))
    return rows


def _round(v: float, digits: int | None) -> float:
    return round(v, digits) if digits is not None else float(v)


def _num(v) -> float:
    return int(v) if float(v).is_integer() else float(v)
