"""Runs the jobs in the service process on APScheduler 3's BackgroundScheduler.

- No overlap: ``max_instances=1`` per job; a job whose turn comes while it runs waits for the next.
- Missed runs coalesce: ``coalesce=True`` (a service paused for hours runs each job once, not N times).
- Failures: a failed run is recorded (its ``runs`` rows say failed, with the error), retried after
  ``schedule_backoff_s``, doubling, at most ``schedule_retries`` times; nothing a job raises leaves
  the wrapper, so the service keeps serving.
- Priority: job threads (and the forecast's worker processes they start) run at nice
  ``schedule_nice``, so a long forecast never starves the request handlers of CPU.
- Shutdown: stop taking new runs, let a run in flight finish for up to ``shutdown_timeout_s``; a
  pipeline checks the stop signal between steps (the rest of the run is recorded interrupted); the
  app then marks whatever is still running ``interrupted``.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from forecaster.errors import Interrupted
from forecaster.runtime import Runtime

from .jobs import Job, jobs_for

log = logging.getLogger(__name__)


def _lower_priority(nice: int) -> None:
    """Lower this job thread's CPU priority (Linux: a thread is a task with its own nice value), and
    with it the forecast's worker processes it forks, so request handlers keep the CPU they need."""
    if nice <= 0 or not hasattr(os, "setpriority"):
        return
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), min(nice, 19)))
    except OSError as e:
        log.info("could not lower the job's priority: %s", e)


class ServiceScheduler:
    """The scheduler of ``forecaster serve``: ``start()`` with the app, ``shutdown()`` before the store closes."""

    def __init__(self, runtime: Runtime, jobs: list[Job] | None = None, first_run_now: bool = True):
        self.rt = runtime
        self.jobs = jobs if jobs is not None else jobs_for(runtime.settings)
        self.first_run_now = first_run_now
        self.sched = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max(2, len(self.jobs)))},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=dt.timezone.utc)
        self._running = 0
        self._idle = threading.Condition()
        self.attempts: list[dict[str, Any]] = []     # every attempt: job, attempt, status, error (newest last)

    def start(self) -> None:
        now = dt.datetime.now(dt.timezone.utc)
        for i, job in enumerate(self.jobs):
            first = now + dt.timedelta(seconds=i * 0.5) if self.first_run_now else None
            self.sched.add_job(self._run, IntervalTrigger(seconds=job.every_s), args=[job], id=job.name,
                               name=job.name, next_run_time=first)
        self.sched.start()
        log.info("scheduler started: %s", ", ".join(f"{j.name} every {j.every_s:g}s" for j in self.jobs))

    def run_now(self, name: str) -> None:
        """Bring a job's next run forward to now (still never overlapping itself)."""
        self.sched.modify_job(name, next_run_time=dt.datetime.now(dt.timezone.utc))

    def _run(self, job: Job) -> None:
        _lower_priority(self.rt.settings.schedule_nice)
        with self._idle:
            self._running += 1
        try:
            self._attempts(job)
        finally:
            with self._idle:
                self._running -= 1
                self._idle.notify_all()

    def _attempts(self, job: Job) -> None:
        s = self.rt.settings
        for attempt in range(s.schedule_retries + 1):
            if self.rt.stop.is_set():
                return
            try:
                result = self.rt.run_pipeline(list(job.steps), actor="scheduler", trigger=f"schedule:{job.name}")
                self.attempts.append({"job": job.name, "attempt": attempt, "status": result.status,
                                      "run_id": result.run_id})
                return
            except Interrupted as e:
                self.attempts.append({"job": job.name, "attempt": attempt, "status": "interrupted", "error": str(e)})
                return
            except Exception as e:  # noqa: BLE001 - a failing job is recorded and retried, never fatal
                self.attempts.append({"job": job.name, "attempt": attempt, "status": "failed", "error": str(e)})
                if attempt >= s.schedule_retries:
                    log.error("job %s failed %d time(s), waits for its next turn: %s", job.name, attempt + 1, e)
                    return
                delay = s.schedule_backoff_s * 2 ** attempt
                log.warning("job %s failed (attempt %d): %s; retrying in %gs", job.name, attempt + 1, e, delay)
                if self.rt.stop.wait(delay):
                    return

    def shutdown(self) -> None:
        """Take no new runs; give a run in flight ``shutdown_timeout_s`` to finish."""
        self.rt.stop.set()
        if self.sched.running:
            self.sched.shutdown(wait=False)
        timeout = self.rt.settings.shutdown_timeout_s
        with self._idle:
            finished = self._idle.wait_for(lambda: self._running == 0, timeout=timeout)
        if not finished:
            log.warning("shutdown: a job still runs after %gs; it will be marked interrupted", timeout)
