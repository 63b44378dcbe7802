"""Engines: where :func:`forecaster.forecast.fit.fit_series` runs — in this process, local worker
processes (``forecaster.forecast.workers``: started from a fork server, stopped by their handles),
or Dask.

Series go to workers in batches (one pickle round trip per batch, not per series) that shrink
toward the end of the run; at most two batches per worker are in flight (memory stays flat for any
number of series), and a batch not back after its deadline is given up as timed out (a local
worker is then terminated and replaced), so a hung worker never stalls the run. Engines only decide *where* the work runs, so
``local`` and ``dask`` give identical results under the same seed.
"""

from __future__ import annotations

import concurrent.futures as cf
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Iterator

from ..registry import Registry
from ..errors import SeriesTimeout
from .fit import FitSpec, History, SeriesResult, fit_series

log = logging.getLogger(__name__)

#: series per task sent to a worker: one pickle round trip and one future per batch, not per series
BATCH_SERIES = 25

Task = tuple[str, History]
Outcome = tuple[str, History, "SeriesResult | BaseException"]


@dataclass(frozen=True)
class EngineOptions:
    workers: int
    scheduler: str | None = None      # dask: scheduler address; None starts a LocalCluster
    dask_processes: bool = True       # dask LocalCluster: worker processes (False: threads, for tests)
    batch: int = BATCH_SERIES         # series per task sent to a worker
    total: int | None = None          # series in the run (batches shrink toward the end when known)


def _serial(tasks: Iterable[Task], spec: FitSpec) -> Iterator[Outcome]:
    for sid, hist in tasks:
        yield sid, hist, fit_series(sid, hist, spec)


def _bounded(submit: Callable[[Any], cf.Future], tasks: Iterable[tuple[str, Any]], limit: int, workers: int,
             backstop_s: float) -> Iterator[tuple[str, Any, Any]]:
    """Keep at most ``limit`` tasks in flight (memory stays flat for any number of series); a task
    not back after ``backstop_s`` is given up as timed out, so a hung worker never stalls the run."""
    it, hung = iter(tasks), 0
    inflight: dict[cf.Future, tuple[tuple[str, Any], float]] = {}
    while True:
        while len(inflight) < limit and hung < workers:
            task = next(it, None)
            if task is None:
                break
            inflight[submit(task)] = (task, time.monotonic())
        if not inflight:
            break
        done, _ = cf.wait(list(inflight), timeout=1.0, return_when=cf.FIRST_COMPLETED)
        for fut in done:
            (sid, hist), _t = inflight.pop(fut)
            try:
                yield sid, hist, fut.result()
            except BaseException as e:  # noqa: BLE001 - a crashed task becomes a recorded fallback
                yield sid, hist, e
        now = time.monotonic()
        for fut, ((sid, hist), t0) in list(inflight.items()):
            if now - t0 > backstop_s:
                del inflight[fut]
                fut.cancel()
                hung += 1
                yield sid, hist, SeriesTimeout(f"{sid}: no result after {backstop_s:.0f}s (worker hung)")
    for sid, hist in it:   # every worker hung: the rest fall back here rather than wait forever
        yield sid, hist, SeriesTimeout(f"{sid}: not fitted, all {workers} workers hung")


Batch = tuple[str, list[Task]]


def fit_batch(batch: list[Task], spec: FitSpec) -> list[SeriesResult]:
    """:func:`fit_series` on each series of a batch, in order (what a worker runs per task)."""
    return [fit_series(sid, hist, spec) for sid, hist in batch]


def batches(tasks: Iterable[Task], size: int, total: int | None = None, workers: int = 1) -> Iterator[Batch]:
    """Group tasks into lists of ``size`` (the last one shorter), labelled by their first series.

    With ``total`` (the number of tasks) known, batches shrink toward the end: at most a quarter of
    each worker's share of what is left (guided scheduling), so that the workers finish together
    instead of one fitting a last full batch while the other waits."""
    def cap(done: int) -> int:
        if total is None:
            return size
        return max(1, min(size, -(-(total - done) // (4 * max(workers, 1)))))

    chunk: list[Task] = []
    done, limit = 0, cap(0)
    for task in tasks:
        chunk.append(task)
        if len(chunk) >= limit:
            yield chunk[0][0], chunk
            done, chunk = done + len(chunk), []
            limit = cap(done)
    if chunk:
        yield chunk[0][0], chunk


def batch_size(n_series: int, workers: int) -> int:
    """``BATCH_SERIES``, smaller when there are few series, so that every worker gets work (4 tasks each)."""
    return max(1, min(BATCH_SERIES, -(-n_series // (4 * max(workers, 1)))))


def _unbatched(outcomes: Iterable[tuple[str, Any, Any]]) -> Iterator[Outcome]:
    """Per-series outcomes of batch outcomes; a failed batch fails each of its series (they fall back)."""
    for _label, batch, res in outcomes:
        if isinstance(res, BaseException):
            for sid, hist in batch:
                yield sid, hist, res
        else:
            for (sid, hist), r in zip(batch, res):
                yield sid, hist, r


def _local(tasks: Iterable[Task], spec: FitSpec, opts: EngineOptions) -> Iterator[Outcome]:
    """``workers`` local processes (``forecaster.forecast.workers``; in-process when 1), one batch of
    :func:`batch_size` series at a time each; a batch not back within its deadline (its series'
    own deadlines plus slack) times out and its worker is replaced."""
    if opts.workers <= 1:
        yield from _serial(tasks, spec)
        return
    from .workers import Workers, context, extension_models, models_of, preload_of

    wanted = models_of(spec.model, spec.preset)
    with Workers(opts.workers, extension_models(wanted), context(preload_of(wanted))) as pool:
        outcomes = pool.map(fit_batch, batches(tasks, opts.batch, opts.total, opts.workers),
                            lambda b: (b[1], spec), deadline_s=opts.batch * spec.timeout_s + 30.0)
        yield from _unbatched((label, batch, res) for (label, batch), res in outcomes)


def _dask(tasks: Iterable[Task], spec: FitSpec, opts: EngineOptions) -> Iterator[Outcome]:
    """``dask.distributed``: the scheduler at ``opts.scheduler`` or a LocalCluster of ``workers`` workers."""
    from dask.distributed import Client, LocalCluster

    cluster = None
    if opts.scheduler:
        client = Client(opts.scheduler)
    else:
        cluster = LocalCluster(n_workers=opts.workers, threads_per_worker=1, processes=opts.dask_processes,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        n = max(1, len(client.scheduler_info().get("workers", {})) or opts.workers)
        pool = client.get_executor(pure=False)
        yield from _unbatched(_bounded(lambda t: pool.submit(fit_batch, t[1], spec),
                                       batches(tasks, opts.batch, opts.total, n), 2 * n, n, _backstop(spec, opts.batch)))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _backstop(spec: FitSpec, batch: int = 1) -> float:
    # a batch may queue behind one other per worker (2 in flight each), plus start-up slack; each of
    # its series is bounded by the worker's own per-series deadline (timeout_s)
    return 2 * batch * spec.timeout_s + 30.0


#: engine name -> runner(tasks, spec, options) yielding (series, history, result or exception)
Engine = Callable[[Iterable[Task], FitSpec, EngineOptions], Iterator[Outcome]]
ENGINES: Registry[Engine] = Registry("engine")
ENGINES.register("local", _local)
ENGINES.register("dask", _dask)
