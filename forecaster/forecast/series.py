"""``traffic_1m`` -> regular per-series time series at a chosen step (one SQL query: ``store.traffic.series_table``).

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

import numpy as np
import pandas as pd

from ..errors import BadInput, NotFound, UnknownName
from ..store import traffic
from ..store.db import Connection

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


def data_cutoff(con: Connection, step: str, as_of: dt.datetime | None) -> pd.Timestamp | None:
    """The first bucket not read: ``as_of`` floored to the step, or the end of the last logged minute, floored."""
    width = step_delta(step)
    if as_of is not None:
        return pd.Timestamp(as_of).floor(width)
    last = traffic.last_minute(con)
    if last is None:
        return None
    return (pd.Timestamp(last) + pd.Timedelta(minutes=1)).floor(width)


#: distinct timestamps needed before the data's resolution is judged (fewer: any step is accepted)
MIN_RESOLUTION_ROWS = 24


def data_resolution(con: Connection, cutoff: pd.Timestamp | None = None) -> pd.Timedelta | None:
    """The coarsest step of :data:`STEPS` that every timestamp in ``traffic_1m`` (before ``cutoff``)
    falls on: hourly counts ingested as minute rows are one row an hour, and a finer forecast step
    would read 11 missing buckets of every 12 as gaps. None when every minute is possible, or
    there are fewer than ``MIN_RESOLUTION_ROWS`` distinct timestamps to tell."""
    widths = sorted(STEPS.values(), reverse=True)
    n, on_grid = traffic.grid_fit(con, [int(w.total_seconds()) for w in widths],
                                  None if cutoff is None else cutoff.to_pydatetime())
    if n < MIN_RESOLUTION_ROWS:
        return None
    for width, fits in zip(widths, on_grid):
        if fits:
            return width
    return None


def load_series(con: Connection, step: str = "1h", as_of: dt.datetime | None = None,
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
    since = None if history_days is None else (cutoff - pd.Timedelta(days=history_days)).to_pydatetime()
    wanted = None
    if patterns:
        wanted = [sid for sid in _all_ids(con, cutoff, since) if matches(sid, patterns)]
    table = traffic.series_table(con, int(width.total_seconds()), cutoff.to_pydatetime(), since, wanted)
    frame = _grouped(table, step, cutoff)
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


def _all_ids(con: Connection, cutoff: pd.Timestamp, since: dt.datetime | None) -> list[str]:
    ids = {"total"}
    for api, stage, route, region in traffic.route_keys(con, cutoff.to_pydatetime(), since):
        ids.update({route_series_id(api, stage, route, region), f"api:{api}", f"stage:{api}|{stage}",
                    f"region:{region}"})
    return sorted(ids)
