"""Local worker processes of the forecast run, held by their own handles.

The run's process holds a DuckDB connection (with DuckDB's threads): forking it would copy their
locks mid-flight into every worker. Workers therefore start from a fork server (a clean process
that imported the model stack once, so each worker forks ready in milliseconds), or by spawning
where there is no fork server. Each worker runs one task at a time over its own pipe; the parent
waits on the pipes and on the processes' sentinels, so it sees at once a worker that died (its
task fails and falls back, a new worker takes its place) and can stop a hung one with the public
``Process.terminate`` after its deadline (the task times out, a new worker takes its place).

Models registered outside ``forecaster`` (plugins, tests) reach the workers by reference: the
classes or module-level factories are pickled by name and registered again in each worker.

A spawned or fork-server child normally runs the parent's main script again (to unpickle what it
defines); the workers need nothing from it, and an entry script without a ``__name__ == "__main__"``
guard would run the whole command again in every worker. So they start with the main module
hidden (:func:`_main_hidden`), and leave it alone.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import signal
import sys
import time
import types
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.context import BaseContext
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, TypeVar

from ..errors import ForecasterError, SeriesTimeout

if TYPE_CHECKING:  # the models are imported where used: prestart() must stay light
    from .models.base import ModelFactory

log = logging.getLogger(__name__)

#: imported once by the fork server, so that every worker starts with them (statsmodels, scipy and
#: Prophet cost ~2 s of CPU to import); a module that fails to import is skipped by the server
PRELOAD = ["forecaster.forecast.fit", "forecaster.forecast.backtest", "forecaster.forecast.selection", "prophet"]

T = TypeVar("T")


class WorkerDied(ForecasterError):
    """A worker process ended without answering (killed by the OS, a crash in native code)."""

    status = 500
    code = "worker_died"


def context() -> BaseContext:
    """The fork server where there is one (Linux, macOS), else spawn; never a plain fork."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(PRELOAD)
        return ctx
    return multiprocessing.get_context("spawn")


def prestart() -> None:
    """Start the fork server now, without waiting for it: it imports the model stack (~2 s of CPU,
    once per process) while the caller goes on (loading logs, reading series), so that the first
    workers fork ready instead of waiting for those imports. A no-op without a fork server, or once
    it runs."""
    if context().get_start_method() == "forkserver":
        import multiprocessing.forkserver

        multiprocessing.forkserver.ensure_running()


def extension_models(names: Iterable[str]) -> dict[str, ModelFactory]:
    """The registered models among ``names`` that a fresh process would not have (defined outside forecaster)."""
    from .models.base import MODELS

    out = {}
    for name in names:
        if name in MODELS:
            factory = MODELS.get(name)
            if not str(getattr(factory, "__module__", "")).startswith("forecaster."):
                out[name] = factory
    return out


@contextmanager
def _main_hidden() -> Iterator[None]:
    """Start processes in this block with a bare stand-in for ``__main__`` (no file, no spec): the
    child then leaves its main module alone instead of running the parent's script again."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def _serve(conn: multiprocessing.connection.Connection, models: dict[str, ModelFactory]) -> None:
    """A worker's loop: run each ``(fn, args)`` received, send back ``(True, result)`` or ``(False, error)``."""
    from .models.base import MODELS

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops the workers
    for name, factory in models.items():
        if name not in MODELS:
            MODELS.register(name, factory)
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        fn, args = msg
        try:
            reply: tuple[bool, Any] = (True, fn(*args))
        except BaseException as e:  # noqa: BLE001 - the parent decides (the series fall back)
            reply = (False, e)
        try:
            conn.send(reply)
        except (EOFError, OSError):
            return
        except Exception as e:  # noqa: BLE001 - a result or error that does not pickle
            conn.send((False, WorkerDied(f"the worker's answer could not be sent back: {type(e).__name__}: {e}")))


@dataclass
class _Worker:
    process: Any   # multiprocessing.Process of the context
    conn: multiprocessing.connection.Connection
    task: Any = None
    started: float = 0.0
    busy: bool = field(default=False)


class Workers:
    """``n`` worker processes, stopped on exit (``with Workers(...) as w``)."""

    def __init__(self, n: int, models: dict[str, ModelFactory] | None = None, ctx: BaseContext | None = None):
        self.n, self.models, self.ctx = n, dict(models or {}), ctx or context()
        self._workers: list[_Worker] = []

    def __enter__(self) -> Workers:
        self._workers = [self._start() for _ in range(self.n)]
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _start(self) -> _Worker:
        parent, child = self.ctx.Pipe()
        proc = self.ctx.Process(target=_serve, args=(child, self.models), daemon=True,  # type: ignore[attr-defined]
                                name="forecaster-worker")
        with _main_hidden():
            proc.start()
        child.close()
        return _Worker(proc, parent)

    def _replace(self, w: _Worker) -> _Worker:
        """Stop ``w`` (terminate if alive) and start a fresh worker in its place."""
        if w.process.is_alive():
            w.process.terminate()
        w.process.join(5)
        if w.process.is_alive():
            w.process.kill()
            w.process.join()
        w.conn.close()
        fresh = self._start()
        self._workers[self._workers.index(w)] = fresh
        return fresh

    def _send(self, w: _Worker, fn: Callable[..., Any], task: T, args: tuple) -> _Worker:
        """Give ``task`` to ``w``; a worker that died while idle is replaced first."""
        try:
            w.conn.send((fn, args))
        except (BrokenPipeError, EOFError, OSError):
            w = self._replace(w)
            w.conn.send((fn, args))
        w.task, w.started, w.busy = task, time.monotonic(), True
        return w

    def map(self, fn: Callable[..., Any], tasks: Iterable[T], args: Callable[[T], tuple],
            deadline_s: float) -> Iterator[tuple[T, Any]]:
        """``(task, fn(*args(task)) or the exception)`` for every task, as they complete.

        A task not answered within ``deadline_s`` of reaching its worker times out (the worker is
        terminated and replaced); a worker that dies fails its task (and is replaced). Once ``n``
        workers have hung, the tasks left time out at once rather than risk hanging the run."""
        it, hung = iter(tasks), 0
        while True:
            for w in list(self._workers):
                if not w.busy and hung < self.n:
                    task = next(it, None)
                    if task is None:
                        break
                    self._send(w, fn, task, args(task))
            busy = [w for w in self._workers if w.busy]
            if not busy:
                break
            now = time.monotonic()
            wait = max(0.0, min(min(w.started + deadline_s for w in busy) - now, 1.0))
            ready = set(multiprocessing.connection.wait([w.conn for w in busy] + [w.process.sentinel for w in busy],
                                                        timeout=wait))
            done: list[tuple[T, Any]] = []
            for w in busy:
                task = w.task
                if w.conn in ready:
                    try:
                        _ok, res = w.conn.recv()   # the result, or the exception the task raised
                    except (EOFError, OSError):
                        res = WorkerDied(f"worker exited with code {w.process.exitcode} before answering")
                        w = self._replace(w)
                    except Exception as e:  # noqa: BLE001 - an answer that does not unpickle here
                        res = WorkerDied(f"the worker's answer could not be read: {type(e).__name__}: {e}")
                    done.append((task, res))
                elif w.process.sentinel in ready:
                    done.append((task, WorkerDied(f"worker exited with code {w.process.exitcode} before answering")))
                    w = self._replace(w)
                elif time.monotonic() - w.started > deadline_s:
                    hung += 1
                    log.warning("worker %s hung for more than %.0fs: terminating it", w.process.pid, deadline_s)
                    done.append((task, SeriesTimeout(f"no result after {deadline_s:.0f}s (worker hung)")))
                    w = self._replace(w)
                else:
                    continue
                w.task, w.busy = None, False
            # hand the free workers their next task before the caller processes these results
            for w in self._workers:
                if not w.busy and hung < self.n:
                    task = next(it, None)
                    if task is None:
                        break
                    self._send(w, fn, task, args(task))
            yield from done
        for task in it:   # every worker hung: the rest fall back here rather than wait forever
            yield task, SeriesTimeout(f"not fitted, all {self.n} workers hung")

    def close(self) -> None:
        """Ask every worker to stop, then terminate those that do not within a few seconds."""
        for w in self._workers:
            try:
                if not w.busy:
                    w.conn.send(None)
            except (BrokenPipeError, EOFError, OSError):
                pass
        deadline = time.monotonic() + 5.0
        for w in self._workers:
            if w.busy:
                w.process.terminate()
            w.process.join(max(0.0, deadline - time.monotonic()))
            if w.process.is_alive():
                w.process.terminate()
                w.process.join(5)
            w.conn.close()
        self._workers = []
