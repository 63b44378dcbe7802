"""The scheduled jobs of ``forecaster serve`` (APScheduler 3), composed from ``forecaster.pipeline``.

``jobs.py`` says what runs and how often (from the settings); ``scheduler.py`` runs them: a job
never overlaps itself, missed runs coalesce into one, a failing job is retried with backoff and
never takes the service down, and shutdown lets a run in flight finish (or marks it interrupted).
"""

from .jobs import JOBS, Job, jobs_for, parse_duration
from .scheduler import ServiceScheduler

__all__ = ["JOBS", "Job", "ServiceScheduler", "jobs_for", "parse_duration"]
