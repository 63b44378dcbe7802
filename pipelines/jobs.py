"""The jobs: which pipeline steps run, and how often (intervals from the settings).

- ``ingest`` every ``schedule_ingest_every``: load new logs from ``schedule_ingest_sources``.
- ``forecast`` every ``schedule_forecast_every``: the whole pipeline (its ingest step first, so a
  forecast never runs on logs older than it could), then forecast, price, carbon and the later
  steps present in ``forecaster.pipeline.STEPS``. Unchanged inputs make the steps ``skipped``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from forecaster.config import Settings
from forecaster.errors import ConfigError
from forecaster.pipeline import STEPS

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str, name: str = "duration") -> float:
    """``30s``, ``5m``, ``1h``, ``1d`` (or a bare number of seconds) -> seconds."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", str(text))
    if not m or float(m.group(1)) <= 0:
        raise ConfigError(f"{name}: expected a positive duration like 30s, 5m, 1h or 1d, got {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]


@dataclass(frozen=True)
class Job:
    name: str
    steps: tuple[str, ...]
    every_s: float


def _forecast_steps() -> tuple[str, ...]:
    return tuple(s for s in STEPS)   # every step the pipeline has, in flow order


JOBS: dict[str, Callable[[Settings], Job]] = {
    "ingest": lambda s: Job("ingest", ("ingest",), parse_duration(s.schedule_ingest_every, "schedule_ingest_every")),
    "forecast": lambda s: Job("forecast", _forecast_steps(),
                              parse_duration(s.schedule_forecast_every, "schedule_forecast_every")),
}


def jobs_for(settings: Settings) -> list[Job]:
    return [make(settings) for make in JOBS.values()]
