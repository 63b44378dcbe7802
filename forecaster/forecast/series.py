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
from functools import cached_property
from typing import Iterator

import duckdb
import numpy as np
import pandas as pd

from ..errors import BadInput, NotFound, UnknownName
from ..store.db import one, run, scalar

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
    """Every selected series, concatenated (sorted by series then ds): ``ds`` and ``y`` arrays, series
    ``ids`` and their ``bounds`` (series i is rows ``bounds[i]:bounds[i+1]``).

    Held as arrays because the forecast run sends each series to a worker: slicing numpy arrays costs
    microseconds, where a pandas groupby plus a frame per series cost more than a seasonal naive fit.
    ``data`` gives the long frame (``series, ds, y``) for callers that want one."""

    ids: list[str]
    bounds: np.ndarray            # int64, len(ids) + 1 offsets
    ds: np.ndarray                # datetime64[ns]
    y: np.ndarray                 # float64, NaN = no data
    step: str
    cutoff: pd.Timestamp | None   # first bucket NOT read (forecasts start here); None when no data

    @cached_property
    def data(self) -> pd.DataFrame:
        """The long frame: ``series, ds, y``, one row per series and step."""
        counts = np.diff(self.bounds)
        return pd.DataFrame({"series": np.repeat(np.array(self.ids, dtype=object), counts),
                             "ds": self.ds, "y": self.y})

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def first_ds(self) -> pd.Timestamp | None:
        """The earliest timestamp of any series (None when there is none)."""
        return pd.Timestamp(self.ds.min()) if len(self.ds) else None

    def arrays(self) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """``(series_id, ds, y)`` one series at a time as array views, in order (sorted by series)."""
        b = self.bounds
        for i, sid in enumerate(self.ids):
            yield sid, self.ds[b[i]:b[i + 1]], self.y[b[i]:b[i + 1]]

    def items(self) -> Iterator[tuple[str, pd.DataFrame]]:
        """``(series_id, DataFrame[ds, y])`` one series at a time, in order (sorted by series)."""
        for sid, ds, y in self.arrays():
            yield sid, pd.DataFrame({"ds": ds, "y": y})

    def get(self, series_id: str) -> pd.DataFrame:
        try:
            i = self.ids.index(series_id)
        except ValueError:
            raise NotFound(f"no series {series_id!r}; there are {len(self)} series") from None
        a, b = self.bounds[i], self.bounds[i + 1]
        return pd.DataFrame({"ds": self.ds[a:b], "y": self.y[a:b]})


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
    last = scalar(con, "SELECT max(ts) FROM traffic_1m")
    if last is None:
        return None
    return (pd.Timestamp(last) + pd.Timedelta(minutes=1)).floor(width)


#: distinct timestamps needed before the data's resolution is judged (fewer: any step is accepted)
MIN_RESOLUTION_ROWS = 24


def data_resolution(con: duckdb.DuckDBPyConnection, cutoff: pd.Timestamp | None = None) -> pd.Timedelta | None:
    """The coarsest step of :data:`STEPS` that every timestamp in ``traffic_1m`` (before ``cutoff``)
    falls on: hourly counts ingested as minute rows are one row an hour, and a finer forecast step
    would read 11 missing buckets of every 12 as gaps. None when every minute is possible, or
    there are fewer than ``MIN_RESOLUTION_ROWS`` distinct timestamps to tell."""
    widths = sorted(STEPS.values(), reverse=True)
    checks = ", ".join(f"bool_and(epoch(ts)::BIGINT % {int(w.total_seconds())} = 0)" for w in widths)
    row = one(con, f"SELECT count(*), {checks} FROM (SELECT DISTINCT ts FROM traffic_1m WHERE ? IS NULL OR ts < ?)",
              [None if cutoff is None else cutoff.to_pydatetime()] * 2)
    if row is None or row[0] < MIN_RESOLUTION_ROWS:
        return None
    for width, on_grid in zip(widths, row[1:]):
        if on_grid:
            return width
    return None


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
SELECT series, ds, y FROM routes {route_filter}
UNION ALL
SELECT series, ds, y FROM aggs {agg_filter}
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
        return SeriesFrame([], np.zeros(1, dtype=np.int64), np.zeros(0, dtype="datetime64[ns]"), np.zeros(0), step, None)
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
    frame = _grouped(con.sql(sql, params=params).to_arrow_table(), step, cutoff)
    log.info("loaded %d series x %s steps up to %s", len(frame), step, cutoff)
    return frame


def _grouped(table, step: str, cutoff: pd.Timestamp) -> SeriesFrame:
    """The query's rows (series, ds, y; any order) as a SeriesFrame sorted by series then ds.

    Arrow and numpy, not pandas and not SQL's ORDER BY: 1,000 series x 28 days hourly are 700k rows
    whose series names would each become a Python string, and sorting them by that long string
    costs DuckDB ~0.5 s; dictionary-encoding the names and sorting integer codes costs ~0.05 s."""
    codes = table["series"].combine_chunks().dictionary_encode()
    names = codes.dictionary.to_pylist()
    rank = np.empty(len(names), dtype=np.int64)
    rank[np.argsort(np.array(names, dtype=object), kind="stable")] = np.arange(len(names))
    key = rank[codes.indices.to_numpy(zero_copy_only=False)] if len(names) else np.zeros(0, dtype=np.int64)
    ds = table["ds"].to_numpy().astype("datetime64[ns]")
    order = np.lexsort((ds, key))
    key, ds, y = key[order], ds[order], table["y"].to_numpy().astype(float)[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if len(key) else np.zeros(0, dtype=np.int64)
    ids = sorted(names)
    return SeriesFrame([ids[k] for k in key[starts]], np.r_[starts, len(key)].astype(np.int64), ds, y, step, cutoff)


def _all_ids(con: duckdb.DuckDBPyConnection, cutoff: pd.Timestamp, since: str, since_params: list) -> list[str]:
    rows = run(con, f"""
        SELECT DISTINCT api, stage, route, region FROM traffic_1m WHERE ts < ? {since}
    """, [cutoff.to_pydatetime(), *since_params])
    ids = {"total"}
    for api, stage, route, region in rows:
        ids.update({route_series_id(api, stage, route, region), f"api:{api}", f"stage:{api}|{stage}",
                    f"region:{region}"})
    return sorted(ids)
