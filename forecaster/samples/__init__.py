"""Seeded, deterministic sample gateway traffic: a traffic model, request-level log writers
for every supported format, and the generator behind ``forecaster samples generate``.

Pure parts (:mod:`.catalog`, :mod:`.events`, :mod:`.traffic`, :mod:`.expand`, :mod:`.writers`)
take and return data; only :mod:`.generate` writes files.
"""

from .catalog import Api, Route, default_catalog
from .events import Event, default_events, events_frame
from .generate import GenerateReport, generate
from .traffic import COUNT_COLUMNS, error_episodes, generate_counts

__all__ = ["Api", "COUNT_COLUMNS", "Event", "GenerateReport", "Route", "default_catalog", "default_events",
           "error_episodes", "events_frame", "generate", "generate_counts"]
