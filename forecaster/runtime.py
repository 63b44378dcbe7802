"""One process's hold on the store, shared by the REST API and the scheduler (``forecaster serve``).

DuckDB lets one process hold the file for writing. This process opens it once (the writer
connection) and every thread works on a cursor of its own over it: request handlers read on
theirs, pipeline steps write on theirs. DuckDB's MVCC gives each statement a snapshot of committed
data, so a reader never waits behind a forecast run that is writing (the run writes in one
transaction and commits at its end) and never sees half of one.

Writers are serialised by step: the ingest lock (ingest steps, uploads) and the compute lock
(forecast, price, carbon, decide, plan, apply), so two writers never race on the same rows while
an upload can land during a long forecast. ``version`` counts the pipeline runs this process
finished: the API's response caches key on it.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any, Iterator

from .config import Settings
from .pipeline import PipelineResult, recover, run_pipeline
from .store import connect
from .store.db import Connection, cursor

log = logging.getLogger(__name__)

INGEST_STEPS = frozenset({"ingest"})


class Runtime:
    """The writer connection, per-thread cursors, the writer locks and the stop signal."""

    def __init__(self, settings: Settings, con: Connection | None = None):
        self.settings = settings
        self.con = con if con is not None else connect(settings.db, settings)
        self.recovered = recover(self.con)
        self.stop = threading.Event()
        self.ingest_lock = threading.Lock()
        self.compute_lock = threading.Lock()
        self._local = threading.local()
        self._cursors: list[Connection] = []
        self._guard = threading.Lock()
        self.version = 0

    def cursor(self) -> Connection:
        """This thread's own cursor of the writer connection (made on first use, kept)."""
        cur = getattr(self._local, "cur", None)
        if cur is None:
            with self._guard:
                cur = cursor(self.con)
                self._cursors.append(cur)
            self._local.cur = cur
        return cur

    def lock(self, step: str) -> threading.Lock:
        return self.ingest_lock if step in INGEST_STEPS else self.compute_lock

    @contextlib.contextmanager
    def step_lock(self, step: str, timeout: float = -1) -> Iterator[None]:
        lk = self.lock(step)
        if not lk.acquire(timeout=timeout):
            from .errors import Conflict

            raise Conflict(f"a {step} step is already running; try again when it has finished")
        try:
            yield
        finally:
            lk.release()

    def run_pipeline(self, steps: Any = None, **kw: Any) -> PipelineResult:
        """:func:`forecaster.pipeline.run_pipeline` on this thread's cursor, under the writer locks."""
        kw.setdefault("stop", self.stop)
        try:
            return run_pipeline(self.settings, steps, con=self.cursor(), lock=self.step_lock, **kw)
        finally:
            self.version += 1

    def interrupt_running(self, reason: str = "interrupted: the service shut down before the run finished") -> list[str]:
        """At shutdown, after runs in flight had their chance to finish: mark the rest interrupted."""
        from .store import runs

        ids = runs.mark_interrupted(self.cursor(), reason)
        if ids:
            log.warning("shutdown: marked %d run(s) interrupted: %s", len(ids), ", ".join(ids))
        return ids

    def close(self) -> None:
        with self._guard:
            for c in self._cursors:
                with contextlib.suppress(Exception):
                    c.close()
            self._cursors.clear()
        with contextlib.suppress(Exception):
            self.con.close()
