"""``traffic_1m`` -> regular per-series time series at a chosen step, in SQL.

Series ids: ``route:api|stage|route|region`` for every route, and aggregates ``api:API``,
``stage:API|STAGE``, ``region:REGION`` and ``total``.

Gaps: a bucket in which the whole gateway logged nothing is *missing* (NaN: no logs is not no
traffic); a route without requests in a bucket where other routes had some is *zero*. A route's
series starts at its first request; aggregates start at the first request of all.

``as_of``: only rows strictly before it are read (the bound is in the SQL). The last bucket
kept is the last *complete* one: data is cut at ``as_of`` floored to the step, so a
half-filled bucket never looks like a traffic drop. Without ``as_of`` it is the end of the
last logged minute.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import logging
from dataclasses import dataclass
from typing import Iterator

import duckdb
import numpy as np
import pandas as pd

from .errors import BadInput, UnknownName
from .store.db import one, run

log = logging.getLogger(__name__)

#: step name -> bucket width. Registry: add a step here and every command accepts it.
STEPS: dict[str, pd.Timedelta] = {
    "5m": pd.Timedelta(minutes=5),
    "15m": pd.Timedelta(minutes=15),
    "1h": pd.Timedelta(hours=1),
}

ROUTE_PREFIX = "route:"


def step_delta(step: str) -> pd.Timedelta:
    """The bucket width of a step name (``5m``, ``15m``, ``1h``)."""
    try:
        return STEPS[step]
    except KeyError:
        raise UnknownName("step", step, list(STEPS)) from None


def steps_in(duration: str | pd.Timedelta, step: str) -> int:
    """How many steps of ``step`` fit in ``duration`` (e.g. ``72h`` at ``1h`` -> 72); must divide evenly."""
    if isinstance(duration, str) and duration.endswith("d"):
        duration = duration[:-1] + "D"
    try:
        d = pd.Timedelta(duration)
    except ValueError as e:
        raise BadInput(f"horizon {duration!r} is not a duration like '72h' or '3d': {e}") from None
    width = step_delta(step)
    n, rest = divmod(d, width)
    if n < 1 or rest:
        raise BadInput(f"horizon {duration} is not a positive whole number of {step} steps")
    return int(n)


@dataclass(frozen=True)
class SeriesFrame:
    """Every selected series in one long frame (``series, ds, y``), sorted by series then ds."""

    data: pd.DataFrame
    step: str
    cutoff: pd.Timestamp | None   # first bucket NOT read (forecasts start here); None when no data

    @property
    def ids(self) -> list[str]:
        return list(self.data["series"].unique())

    def __len__(self) -> int:
        return self.data["series"].nunique()

    def items(self) -> Iterator[tuple[str, pd.DataFrame]]:
        """``(series_id, DataFrame[ds, y])`` one series at a time, in the frame's order (sorted by series).

        Split with numpy on the series boundaries: a pandas groupby plus column selection per series
        costs more than fitting a seasonal naive model."""
        if len(self.data) == 0:
            return
        ids = self.data["series"].to_numpy(dtype=object)
        ds = self.data["ds"].to_numpy()
        y = self.data["y"].to_numpy(dtype=float)
        starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
        if len(set(ids[starts])) != len(starts):  # not grouped by series (built by hand): group it
            for sid, g in self.data.groupby("series", sort=False, observed=True):
                yield str(sid), g[["ds", "y"]].reset_index(drop=True)
            return
        ends = np.r_[starts[1:], len(ids)]
        for a, b in zip(starts, ends):
            yield str(ids[a]), pd.DataFrame({"ds": ds[a:b], "y": y[a:b]})

    def get(self, series_id: str) -> pd.DataFrame:
        g = self.data[self.data["series"] == series_id]
        if g.empty:
            raise BadInput(f"no series {series_id!r}; there are {len(self)} series")
        return g[["ds", "y"]].reset_index(drop=True)


def route_series_id(api: str, stage: str, route: str, region: str) -> str:
    return f"{ROUTE_PREFIX}{api}|{stage}|{route}|{region}"


def route_parts(series_id: str) -> tuple[str, str, str, str] | None:
    """``(api, stage, route, region)`` of a route series id, else None."""
    if not series_id.startswith(ROUTE_PREFIX):
        return None
    parts = series_id[len(ROUTE_PREFIX):].split("|")
    if len(parts) != 4:
        return None
    return parts[0], parts[1], parts[2], parts[3]


def route_of(series_id: str) -> str | None:
    """The route part (``GET /products``) of a route series id, else None."""
    parts = route_parts(series_id)
    return parts[2] if parts else None


def region_of(series_id: str) -> str | None:
    """The region of a route series or a ``region:`` aggregate, else None."""
    parts = route_parts(series_id)
    if parts:
        return parts[3]
    return series_id[len("region:"):] if series_id.startswith("region:") else None


def matches(series_id: str, patterns: list[str] | tuple[str, ...] | None) -> bool:
    """fnmatch of any pattern on the series id, or (route series) on the route (``GET /products*``)
    or the ``api:route`` key (``shop:GET /products``). No patterns matches everything."""
    if not patterns:
        return True
    parts = route_parts(series_id)
    for p in patterns:
        if fnmatch.fnmatchcase(series_id, p):
            return True
        if parts and (fnmatch.fnmatchcase(parts[2], p) or fnmatch.fnmatchcase(f"{parts[0]}:{parts[2]}", p)):
            return True
    return False


def data_cutoff(con: duckdb.DuckDBPyConnection, step: str, as_of: dt.datetime | None) -> pd.Timestamp | None:
    """The first bucket not read: ``as_of`` floored to the step, or the end of the last logged minute, floored."""
    width = step_delta(step)
    if as_of is not None:
        return pd.Timestamp(as_of).floor(width)
    last = one(con, "SELECT max(ts) FROM traffic_1m")[0]
    if last is None:
        return None
    return (pd.Timestamp(last) + pd.Timedelta(minutes=1)).floor(width)


_SQL = """
WITH src AS (
    SELECT time_bucket(INTERVAL '{secs} seconds', ts) AS ds, api, stage, route, region, sum(requests) AS y
    FROM traffic_1m
    WHERE ts < ? {since}
    GROUP BY ALL
),
active AS (SELECT DISTINCT ds FROM src),
bounds AS (SELECT min(ds) AS lo FROM src),
grid AS (
    SELECT unnest(generate_series(lo, ?::TIMESTAMP - INTERVAL '{secs} seconds', INTERVAL '{secs} seconds')) AS ds
    FROM bounds WHERE lo IS NOT NULL
),
keys AS (SELECT api, stage, route, region, min(ds) AS first_ds FROM src GROUP BY ALL),
filled AS (
    SELECT k.api, k.stage, k.route, k.region, g.ds,
           CASE WHEN a.ds IS NULL THEN NULL ELSE coalesce(s.y, 0) END::DOUBLE AS y
    FROM keys k JOIN grid g ON g.ds >= k.first_ds
    LEFT JOIN active a ON a.ds = g.ds
    LEFT JOIN src s ON s.ds = g.ds AND s.api = k.api AND s.stage = k.stage AND s.route = k.route AND s.region = k.region
),
routes AS (
    SELECT 'route:' || api || '|' || stage || '|' || route || '|' || region AS series, ds, y FROM filled
),
agg_src AS (
    SELECT CASE
             WHEN grouping(api) = 0 AND grouping(stage) = 0 THEN 'stage:' || api || '|' || stage
             WHEN grouping(api) = 0 THEN 'api:' || api
             WHEN grouping(region) = 0 THEN 'region:' || region
             ELSE 'total' END AS series,
           ds, sum(y) AS y
    FROM src
    GROUP BY GROUPING SETS ((ds, api), (ds, api, stage), (ds, region), (ds))
),
agg_keys AS (SELECT series, min(ds) AS first_ds FROM agg_src GROUP BY series),
aggs AS (
    SELECT k.series, g.ds, CASE WHEN a.ds IS NULL THEN NULL ELSE coalesce(x.y, 0) END::DOUBLE AS y
    FROM agg_keys k JOIN grid g ON g.ds >= k.first_ds
    LEFT JOIN active a ON a.ds = g.ds
    LEFT JOIN agg_src x ON x.series = k.series AND x.ds = g.ds
)
SELECT series, ds, y FROM (
    SELECT * FROM routes {route_filter}
    UNION ALL
    SELECT * FROM aggs {agg_filter}
) ORDER BY series, ds
"""


def load_series(con: duckdb.DuckDBPyConnection, step: str = "1h", as_of: dt.datetime | None = None,
                routes: list[str] | str | None = None, history_days: float | None = None) -> SeriesFrame:
    """Read ``traffic_1m`` into regular series at ``step`` (see module doc for gaps and ``as_of``).

    ``routes``: fnmatch globs on the series id or the route (``GET /products*``); None keeps all.
    ``history_days``: read only this much history before the cutoff (None: all).
    """
    width = step_delta(step)
    patterns = [routes] if isinstance(routes, str) else list(routes or [])
    cutoff = data_cutoff(con, step, as_of)
    if cutoff is None:
        return SeriesFrame(pd.DataFrame({"series": [], "ds": [], "y": []}), step, None)
    params: list = [cutoff.to_pydatetime()]
    since = ""
    if history_days is not None:
        since = "AND ts >= ?"
        params.append((cutoff - pd.Timedelta(days=history_days)).to_pydatetime())
    params.append(cutoff.to_pydatetime())
    route_filter = agg_filter = ""
    if patterns:
        wanted = [sid for sid in _all_ids(con, cutoff, since, params[1:-1]) if matches(sid, patterns)]
        run(con, "CREATE OR REPLACE TEMP TABLE _series_wanted (series VARCHAR)")
        if wanted:
            con.executemany("INSERT INTO _series_wanted VALUES (?)", [[w] for w in wanted])
        route_filter = "WHERE series IN (SELECT series FROM _series_wanted)"
        agg_filter = "WHERE series IN (SELECT series FROM _series_wanted)"
    sql = _SQL.format(secs=int(width.total_seconds()), since=since, route_filter=route_filter, agg_filter=agg_filter)
    data = con.execute(sql, params).df()
    data["ds"] = pd.to_datetime(data["ds"]).astype("datetime64[ns]")
    log.info("loaded %d series x %s steps up to %s", data["series"].nunique(), step, cutoff)
    return SeriesFrame(data, step, cutoff)


def _all_ids(con: duckdb.DuckDBPyConnection, cutoff: pd.Timestamp, since: str, since_params: list) -> list[str]:
    rows = run(con, f"""
        SELECT DISTINCT api, stage, route, region FROM traffic_1m WHERE ts < ? {since}
    """, [cutoff.to_pydatetime(), *since_params])
    ids = {"total"}
    for api, stage, route, region in rows:
        ids.update({route_series_id(api, stage, route, region), f"api:{api}", f"stage:{api}|{stage}",
                    f"region:{region}"})
    return sorted(ids)
