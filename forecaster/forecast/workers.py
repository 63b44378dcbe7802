"""Local worker processes of the forecast run, held by their own handles.

The run's process holds a DuckDB connection (with DuckDB's threads): forking it would copy their
locks mid-flight into every worker. Workers therefore start from a fork server (a clean process
that imported the model stack once, so each worker forks ready in milliseconds), or by spawning
where there is no fork server. Each worker holds at most two tasks on its own pipe (the one it
runs and the next, so it never waits for the parent), and a thread of the parent reads its answers
as they come (so it never waits to hand them over either). The parent thus sees at once a worker
that died, its pipe closed (its task fails and falls back, a new worker takes its place), and can
stop a hung one with the public ``Process.terminate`` after its deadline (the task times out; the
task queued behind it goes to another worker).

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
import queue
import signal
import sys
import threading
import time
import types
from collections import deque
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.context import BaseContext
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, TypeVar

from ..errors import ForecasterError, SeriesTimeout

if TYPE_CHECKING:  # the models are imported where used: prestart() must stay light
    from .models.base import ModelFactory

log = logging.getLogger(__name__)

#: imported once by the fork server, so that every worker starts with them (~0.6 s of CPU); with the
#: ``preload`` modules of the models a run may use (statsmodels, Prophet: ~1-1.5 s each). A module
#: that fails to import is skipped by the server.
PRELOAD = ["forecaster.forecast.fit", "forecaster.forecast.backtest", "forecaster.forecast.selection"]

T = TypeVar("T")


class WorkerDied(ForecasterError):
    """A worker process ended without answering (killed by the OS, a crash in native code)."""

    status = 500
    code = "worker_died"


def context(preload: Iterable[str] = ()) -> BaseContext:
    """The fork server where there is one (Linux, macOS), else spawn; never a plain fork. ``preload``:
    more modules for the fork server to import (only when it starts: it serves the whole process)."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(list(dict.fromkeys([*PRELOAD, *preload])))
        return ctx
    return multiprocessing.get_context("spawn")


def models_of(model: str, preset: str) -> list[str]:
    """The models a run may fit: the one named, or the candidates of the auto preset."""
    from .selection import PRESETS

    return [model] if model != "auto" else list(PRESETS.get(preset, ()))


def preload_of(models: Iterable[str]) -> list[str]:
    """The slow imports (``ForecastModel.preload``) of the registered models among ``models``."""
    from .models.base import MODELS, model_class

    return [m for name in models if name in MODELS for m in model_class(name).preload]


def prestart(models: Iterable[str] = ()) -> None:
    """Start the fork server now, without waiting for it: it imports the model stack (and the slow
    imports of ``models``) while the caller goes on (loading logs, reading series), so that the
    first workers fork ready instead of waiting for those imports. A no-op without a fork server,
    or once it runs (it serves the whole process)."""
    ctx = context(preload_of(models))
    if ctx.get_start_method() == "forkserver":
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
    """A worker's loop: run each ``(fn, args)`` received, in order, and send back ``(True, result)`` or
    ``(False, error)``. A reader thread takes tasks off the pipe as they come, so that the parent
    never blocks handing over the next task while this one runs."""
    from .models.base import MODELS

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it stops the workers
    for name, factory in models.items():
        if name not in MODELS:
            MODELS.register(name, factory)
    inbox: queue.SimpleQueue = queue.SimpleQueue()

    def read() -> None:
        while True:
            try:
                msg = conn.recv()
            except (EOFError, OSError):
                msg = None
            inbox.put(msg)
            if msg is None:
                return

    threading.Thread(target=read, name="forecaster-worker-inbox", daemon=True).start()
    while True:
        msg = inbox.get()
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


@dataclass(eq=False)
class _Worker:
    process: Any   # multiprocessing.Process of the context
    conn: multiprocessing.connection.Connection
    tasks: deque = field(default_factory=deque)   # handed over, in order; the first one runs
    started: float = 0.0                          # when the first one started running


def _collect(w: _Worker, answers: queue.SimpleQueue) -> None:
    """Parent side of one worker: every answer into ``answers`` as it comes (the worker never waits
    for the parent to read), then ``(w, None)`` when its pipe closes (it ended)."""
    while True:
        try:
            msg = w.conn.recv()
        except (EOFError, OSError):
            answers.put((w, None))
            return
        except Exception as e:  # noqa: BLE001 - an answer that does not unpickle here
            msg = (False, WorkerDied(f"the worker's answer could not be read: {type(e).__name__}: {e}"))
        answers.put((w, msg))


class Workers:
    """``n`` worker processes, stopped on exit (``with Workers(...) as w``); each holds at most
    ``depth`` tasks (the one it runs and the next, so that it never waits for the parent)."""

    def __init__(self, n: int, models: dict[str, ModelFactory] | None = None, ctx: BaseContext | None = None,
                 depth: int = 2):
        self.n, self.models, self.ctx, self.depth = n, dict(models or {}), ctx or context(), depth
        self._workers: list[_Worker] = []
        self._answers: queue.SimpleQueue = queue.SimpleQueue()

    def __enter__(self) -> Workers:
        self._workers = [self._start() for _ in range(self.n)]
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def processes(self) -> list[Any]:
        """The worker processes now serving (a stopped worker's replacement included)."""
        return [w.process for w in self._workers]

    def _start(self) -> _Worker:
        parent, child = self.ctx.Pipe()
        proc = self.ctx.Process(target=_serve, args=(child, self.models), daemon=True,  # type: ignore[attr-defined]
                                name="forecaster-worker")
        with _main_hidden():
            proc.start()
        child.close()
        w = _Worker(proc, parent)
        threading.Thread(target=_collect, args=(w, self._answers), name="forecaster-worker-answers",
                         daemon=True).start()
        return w

    def _stop(self, w: _Worker) -> None:
        if w.process.is_alive():
            w.process.terminate()
        w.process.join(5)
        if w.process.is_alive():
            w.process.kill()
            w.process.join()
        w.conn.close()

    def _replace(self, w: _Worker) -> _Worker:
        """Stop ``w`` (terminate if alive) and start a fresh worker in its place."""
        self._stop(w)
        fresh = self._start()
        self._workers[self._workers.index(w)] = fresh
        return fresh

    def _send(self, w: _Worker, fn: Callable[..., Any], task: Any, args: tuple) -> None:
        """Hand ``task`` to ``w``; a worker found dead while idle is replaced first."""
        try:
            w.conn.send((fn, args))
        except (BrokenPipeError, EOFError, OSError):
            if w.tasks:
                raise
            w = self._replace(w)
            w.conn.send((fn, args))
        if not w.tasks:
            w.started = time.monotonic()
        w.tasks.append(task)

    def map(self, fn: Callable[..., Any], tasks: Iterable[T], args: Callable[[T], tuple],
            deadline_s: float) -> Iterator[tuple[T, Any]]:
        """``(task, fn(*args(task)) or the exception)`` for every task, as they complete.

        A task not answered within ``deadline_s`` of starting to run times out (its worker is
        terminated and replaced; the task queued behind it goes to another worker); a worker that
        dies fails the task it was running (and is replaced). Once ``n`` workers have hung, the
        tasks left time out at once rather than risk hanging the run."""
        it, hung = iter(tasks), 0
        retry: deque = deque()   # tasks handed to a worker that was stopped before starting them

        def fill() -> None:
            for level in range(1, self.depth + 1):   # breadth first: every worker busy before any queues
                for w in list(self._workers):
                    if len(w.tasks) < level and hung < self.n:
                        task = retry.popleft() if retry else next(it, None)
                        if task is None:
                            return
                        self._send(w, fn, task, args(task))

        while True:
            fill()
            busy = [w for w in self._workers if w.tasks]
            if not busy:
                break
            wait = max(0.0, min(min(w.started + deadline_s for w in busy) - time.monotonic(), 1.0))
            events = []
            try:
                events.append(self._answers.get(timeout=wait))
                while not self._answers.empty():
                    events.append(self._answers.get_nowait())
            except queue.Empty:
                pass
            done: list[tuple[T, Any]] = []
            for w, msg in events:
                if w not in self._workers:
                    continue   # a worker already stopped and replaced
                if msg is None:   # its pipe closed: it died
                    w.process.join(1)
                    if w.tasks:
                        done.append((w.tasks.popleft(), WorkerDied(
                            f"worker exited with code {w.process.exitcode} before answering")))
                        retry.extend(w.tasks)
                    self._replace(w)
                elif w.tasks:
                    done.append((w.tasks.popleft(), msg[1]))   # the result, or the exception the task raised
                    w.started = time.monotonic()
            now = time.monotonic()
            for w in list(self._workers):
                if w.tasks and now - w.started > deadline_s:
                    hung += 1
                    log.warning("worker %s hung for more than %.0fs: terminating it", w.process.pid, deadline_s)
                    done.append((w.tasks.popleft(), SeriesTimeout(f"no result after {deadline_s:.0f}s (worker hung)")))
                    retry.extend(w.tasks)
                    self._replace(w)
            fill()   # the free workers get their next task before the caller processes these results
            yield from done
        for task in [*retry, *it]:   # every worker hung: the rest fall back here rather than wait forever
            yield task, SeriesTimeout(f"not fitted, all {self.n} workers hung")

    def close(self) -> None:
        """Ask every worker to stop, then terminate those that do not within a few seconds."""
        for w in self._workers:
            try:
                if not w.tasks:
                    w.conn.send(None)
            except (BrokenPipeError, EOFError, OSError):
                pass
        deadline = time.monotonic() + 5.0
        for w in self._workers:
            if w.tasks:
                w.process.terminate()
            w.process.join(max(0.0, deadline - time.monotonic()))
            if w.process.is_alive():
                w.process.terminate()
                w.process.join(5)
            w.conn.close()
        self._workers = []
