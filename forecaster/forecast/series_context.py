"""What the forecast of one series needs besides its values, built once per distinct calendar and grid.

For a series ending at ``ds[-1]``: the future timestamps, its event regressors split at the
forecast origin (history part for ``fit``, future part for ``predict``), and the expected-uplift
multiplier that the run applies for models that ignore regressors (one-off events never seen in
the history: the calendar is the only thing that knows about a first Black Friday).

Every series of a run shares the same few events (country holidays, a sale on some routes) and
nearly always the same time grid, so these frames differ only by which events apply to the series
and where its grid starts. They are cached per worker process on exactly that (the events that
apply, first timestamp, length, horizon, step): building them per series cost ~2 ms of pandas, more
than a seasonal naive fit. Cached frames are shared between series and must not be modified.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .events import UPLIFT_SUFFIX, Event, regressors

log = logging.getLogger(__name__)

#: distinct (events, grid) contexts kept per process; a run has a handful
CACHE_SIZE = 64


@dataclass(frozen=True)
class SeriesContext:
    """The future index, the regressors split at it, and the uplift multiplier on it (None: all 1)."""

    future: pd.DatetimeIndex
    hist_regs: pd.DataFrame | None
    fut_regs: pd.DataFrame | None
    uplift: np.ndarray | None


_CACHE: OrderedDict[tuple, SeriesContext] = OrderedDict()
_LOCK = threading.Lock()


def series_context(events: tuple[Event, ...] | list[Event], series: str, ds: np.ndarray, horizon: int,
                   step: pd.Timedelta) -> SeriesContext:
    """The context of ``series`` whose history has timestamps ``ds`` (sorted, naive UTC), from the cache
    when a series with the same applicable events and grid was seen before in this process."""
    ds = np.asarray(ds, dtype="datetime64[ns]")
    applicable = tuple(ev for ev in events if ev.applies_to(series))
    if len(ds) < 2 or not bool((np.diff(ds) == pd.Timedelta(step).to_timedelta64()).all()):
        return build_context(applicable, series, ds, horizon, step)   # not on a regular grid: not shareable
    key = (applicable, ds[0], len(ds), horizon, step)
    with _LOCK:
        hit = _CACHE.get(key)
        if hit is not None:
            _CACHE.move_to_end(key)
            return hit
    ctx = build_context(applicable, series, ds, horizon, step)
    with _LOCK:   # threads share the cache (the dask engine with thread workers)
        _CACHE[key] = ctx
        if len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return ctx


def build_context(events: tuple[Event, ...] | list[Event], series: str, ds: np.ndarray, horizon: int,
                  step: pd.Timedelta) -> SeriesContext:
    """:func:`series_context` without the cache."""
    history = pd.DatetimeIndex(np.asarray(ds, dtype="datetime64[ns]"))
    future = pd.date_range(history[-1] + step, periods=horizon, freq=step)
    regs = regressors(list(events), series, pd.DatetimeIndex(history.append(future)), step)
    if regs is None:
        return SeriesContext(future, None, None, None)
    n = len(history)  # regressors are built on history + future, in order: the origin is row n
    hist_regs, fut_regs = regs.iloc[:n].reset_index(drop=True), regs.iloc[n:].reset_index(drop=True)
    return SeriesContext(future, hist_regs, fut_regs, uplift_multiplier(hist_regs, fut_regs, future))


def uplift_multiplier(hist_regs: pd.DataFrame | None, fut_regs: pd.DataFrame | None,
                      future: pd.DatetimeIndex) -> np.ndarray | None:
    """Per future step, the product of the expected uplifts of events active then and never active in
    the history; None when that is 1 everywhere."""
    if fut_regs is None:
        return None
    mult = np.ones(len(future))
    fut = fut_regs.set_index("ds").reindex(future).fillna(0.0)
    for col in [c for c in fut.columns if c.endswith(UPLIFT_SUFFIX)]:
        event = col[: -len(UPLIFT_SUFFIX)]
        seen = hist_regs is not None and event in hist_regs.columns and bool((hist_regs[event] > 0).any())
        if not seen:
            m = fut[col].to_numpy(dtype=float)
            mult *= np.where(m > 0, m, 1.0)
    return None if np.all(mult == 1.0) else mult


def clear_cache() -> None:
    """Forget every cached context (tests; a long-lived worker between runs needs no call: keys hold the events)."""
    with _LOCK:
        _CACHE.clear()


__all__ = ["SeriesContext", "build_context", "clear_cache", "series_context", "uplift_multiplier"]
