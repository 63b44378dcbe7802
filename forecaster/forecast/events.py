"""Event calendars (CSV or YAML) and country holidays, turned into model regressors per series.

A calendar row: ``name, start, end, routes, expected_uplift, recurring``.

- ``start``/``end``: ISO timestamps (UTC; offsets are converted). ``end`` is exclusive, except a
  date without a time, which includes that whole day (``2026-11-27`` .. ``2026-11-27`` is one day).
- ``routes`` (optional): fnmatch globs on the route (``GET /products*``), the ``api:route`` key
  (``shop:GET /products``) or the series id, ``;``-separated in CSV or a list in YAML; empty means
  every series. An event limited to routes applies to those route series only (its effect on an
  aggregate is diluted), unless a pattern names the aggregate's id.
- ``regions`` (optional): likewise, limits the event to route series in those regions and their
  ``region:`` aggregates.
- ``expected_uplift`` (optional): the expected traffic multiple (3 = three times usual), given to
  the models as ``event_<slug>_uplift`` for events they have never seen in the history.
- ``recurring`` (optional): ``daily``, ``weekly`` or ``yearly`` (see :data:`RECURRENCES`): the event
  repeats from ``start`` on. ``true``/``false`` (the sample calendars' flag: each occurrence is its
  own row) repeat nothing.

Other columns (``kind``, ramp hours) are accepted and ignored: the whole ``[start, end)`` counts.

Holidays come from the ``holidays`` package for the country in settings (``holiday_country``);
they share one regressor column, ``event_holiday``.
"""

from __future__ import annotations

import csv
import fnmatch
import datetime as dt
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd

from ..errors import BadInput, ConfigError, UnknownName
from ..registry import Registry
from .series import matches, region_of

log = logging.getLogger(__name__)

HOLIDAY_COLUMN = "event_holiday"
UPLIFT_SUFFIX = "_uplift"   # the models' name for an event's expected multiple (forecaster.models)

#: recurrence name -> the offset between two occurrences
RECURRENCES: dict[str, pd.DateOffset] = {
    "daily": pd.DateOffset(days=1),
    "weekly": pd.DateOffset(weeks=1),
    "yearly": pd.DateOffset(years=1),
}


@dataclass(frozen=True)
class Event:
    name: str
    start: pd.Timestamp
    end: pd.Timestamp                       # exclusive
    routes: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    expected_uplift: float | None = None
    recurring: str | None = None
    kind: str = "calendar"                  # calendar | holiday

    @property
    def column(self) -> str:
        return HOLIDAY_COLUMN if self.kind == "holiday" else f"event_{slug(self.name)}"

    def applies_to(self, series_id: str) -> bool:
        if self.regions:
            region = region_of(series_id)
            if region is None or not any(fnmatch.fnmatchcase(region, r) for r in self.regions):
                return False
        return matches(series_id, self.routes or None)

    def occurrences(self, lo: pd.Timestamp, hi: pd.Timestamp) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
        """``[start, end)`` intervals of this event that overlap ``[lo, hi)``."""
        if self.recurring is None:
            return [(self.start, self.end)] if self.start < hi and self.end > lo else []
        offset = RECURRENCES[self.recurring]
        out, k = [], 0
        start, end = self.start, self.end
        while start < hi and k < 100_000:
            if end > lo:
                out.append((start, end))
            k += 1
            start, end = self.start + offset * k, self.end + offset * k
        return out


def slug(name: str) -> str:
    """``Black Friday 2026`` -> ``black_friday_2026`` (a column name DuckDB and models take unquoted)."""
    s = re.sub(r"[^0-9a-z]+", "_", name.lower()).strip("_")
    return s or "unnamed"


# ---- loading -------------------------------------------------------------------------------

def _read_csv(path: Path) -> list[dict[str, Any]]:
    with open(path, newline="", encoding="utf-8") as f:
        return [dict(r) for r in csv.DictReader(f)]


def _read_yaml(path: Path) -> list[dict[str, Any]]:
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if isinstance(data, dict):
        data = data.get("events", [])
    if not isinstance(data, list) or not all(isinstance(r, dict) for r in data):
        raise BadInput(f"{path}: expected a list of events (or a mapping with key 'events'), got {type(data).__name__}")
    return data


#: file suffix -> reader of raw rows
READERS: Registry[Callable[[Path], list[dict[str, Any]]]] = Registry("events file type")
READERS.register(".csv", _read_csv)
READERS.register(".yaml", _read_yaml)
READERS.register(".yml", _read_yaml)


def load_events(path: Path | str) -> list[Event]:
    """Read and validate an events file; every problem is reported at once, naming row and field."""
    path = Path(path)
    if path.suffix.lower() not in READERS:
        raise UnknownName(READERS.kind, path.suffix or path.name, READERS.names())
    reader = READERS.get(path.suffix.lower())
    if not path.exists():
        raise BadInput(f"events file {path} does not exist")
    import yaml

    try:
        rows = reader(path)
    except (yaml.YAMLError, csv.Error, UnicodeDecodeError, OSError) as e:   # one line, not a traceback
        raise BadInput(f"events file {path} cannot be read as {path.suffix.lstrip('.').upper()}: "
                       + " ".join(str(e).split())) from e
    events, problems = parse_events(rows)
    if problems:
        raise BadInput(f"{path}: {len(problems)} problem(s): " + "; ".join(problems))
    log.info("loaded %d events from %s", len(events), path)
    return events


def parse_events(rows: Iterable[dict[str, Any]]) -> tuple[list[Event], list[str]]:
    """Validate raw rows (row numbers count the CSV header as row 1). Returns events and problems."""
    events, problems = [], []
    for i, raw in enumerate(rows, start=2):
        row = {str(k).strip().lower(): v for k, v in raw.items() if k is not None}
        errs: list[str] = []

        def bad(fieldname: str, msg: str) -> None:
            errs.append(f"row {i}, field {fieldname!r}: {msg}")

        name = str(row.get("name") or "").strip()
        if not name:
            bad("name", "is empty; every event needs a name")
        start, start_is_date = _timestamp(row.get("start"), "start", bad)
        end, end_is_date = _timestamp(row.get("end"), "end", bad)
        if end is not None and end_is_date:
            end = end + pd.Timedelta(days=1)
        if start is not None and end is not None and end <= start:
            bad("end", f"{row.get('end')} is not after start {row.get('start')}")
        routes = _routes(row.get("routes"))
        regions = _routes(row.get("regions"))
        uplift = _uplift(row.get("expected_uplift"), bad)
        recurring = str(row.get("recurring") or "").strip().lower() or None
        if recurring in ("none", "no", "false", "true", "yes"):
            recurring = None
        if recurring is not None and recurring not in RECURRENCES:
            bad("recurring", f"{recurring!r} is not one of {', '.join(RECURRENCES)}")
        if errs or start is None or end is None:   # a missing start or end is among the errors
            problems.extend(errs)
            continue
        events.append(Event(name, start, end, routes, regions, uplift, recurring))
    return events, problems


def _timestamp(value: Any, fieldname: str, bad) -> tuple[pd.Timestamp | None, bool]:
    if value is None or str(value).strip() == "":
        bad(fieldname, "is empty; expected an ISO date or timestamp like 2026-11-27 or 2026-11-27T08:00")
        return None, False
    text = str(value).strip()
    try:
        ts = pd.Timestamp(value if isinstance(value, (dt.date, dt.datetime)) else text)
    except (ValueError, TypeError):
        bad(fieldname, f"{text!r} is not an ISO date or timestamp")
        return None, False
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    is_date = (isinstance(value, dt.date) and not isinstance(value, dt.datetime)) or bool(
        re.fullmatch(r"\d{4}-\d{2}-\d{2}", text))
    return ts, is_date


def _routes(value: Any) -> tuple[str, ...]:
    if value is None or (isinstance(value, float) and value != value):
        return ()
    items = value if isinstance(value, (list, tuple)) else str(value).split(";")
    return tuple(str(r).strip() for r in items if str(r).strip())


def _uplift(value: Any, bad) -> float | None:
    if value is None or str(value).strip() == "":
        return None
    try:
        u = float(value)
    except (TypeError, ValueError):
        bad("expected_uplift", f"{value!r} is not a number (a traffic multiple, e.g. 3 for 3x)")
        return None
    if not u > 0:
        bad("expected_uplift", f"{u} must be > 0 (a traffic multiple)")
        return None
    return u


def holiday_events(country: str | None, lo: pd.Timestamp, hi: pd.Timestamp) -> list[Event]:
    """The country's public holidays (whole UTC days) between ``lo`` and ``hi``; none when country is None."""
    if not country:
        return []
    import holidays

    years = list(range(pd.Timestamp(lo).year, pd.Timestamp(hi).year + 1))
    try:
        cal = holidays.country_holidays(country, years=years)
    except NotImplementedError:
        raise ConfigError(f"holiday_country {country!r} is not known to the holidays package "
                          f"(expected an ISO 3166 code like 'US' or 'DE')") from None
    return [Event(name, pd.Timestamp(day), pd.Timestamp(day) + pd.Timedelta(days=1), kind="holiday")
            for day, name in sorted(cal.items())]


# ---- regressors ----------------------------------------------------------------------------

def regressors(events: list[Event], series_id: str, ds: pd.DatetimeIndex, step: pd.Timedelta) -> pd.DataFrame | None:
    """``ds, event_<slug>..., event_<slug>_uplift...`` for one series over ``ds`` (history and future).

    ``event_<slug>`` is 1 in every step overlapping the event, else 0; an event with an expected
    uplift adds ``event_<slug>_uplift`` holding that multiple while it is on (the models' contract:
    a one-off event never seen in the history is multiplied by it). None when no event touches ``ds``.
    Events that never touch ``ds`` get no column (a model can learn nothing from them).
    """
    if not events or len(ds) == 0:
        return None
    lo, hi = ds[0], ds[-1] + step
    cols: dict[str, np.ndarray] = {}
    for ev in events:
        if not ev.applies_to(series_id):
            continue
        for start, end in ev.occurrences(lo, hi):
            # a step [t, t+step) overlaps [start, end) when t < end and t + step > start
            mask = np.asarray((ds < end) & (ds + step > start))
            if not mask.any():
                continue
            on = cols.setdefault(ev.column, np.zeros(len(ds)))
            on[mask] = 1.0
            if ev.expected_uplift is not None:
                up = cols.setdefault(ev.column + UPLIFT_SUFFIX, np.zeros(len(ds)))
                up[mask] = np.maximum(up[mask], ev.expected_uplift)
    if not cols:
        return None
    frame = pd.DataFrame({name: cols[name] for name in sorted(cols)})
    frame.insert(0, "ds", ds)
    return frame


def event_at(events: list[Event], series_id: str, start: pd.Timestamp, end: pd.Timestamp) -> str | None:
    """Names of the events for ``series_id`` overlapping ``[start, end)``, joined with ``; ``; None if none."""
    names = [ev.name for ev in events if ev.applies_to(series_id) and ev.occurrences(start, end)]
    return "; ".join(dict.fromkeys(names)) or None


@dataclass
class Calendar:
    """The events in force for a run: the calendar file's plus the country's holidays."""

    events: list[Event] = field(default_factory=list)

    @classmethod
    def build(cls, path: Path | str | None, country: str | None, lo: pd.Timestamp, hi: pd.Timestamp) -> "Calendar":
        evs = load_events(path) if path else []
        return cls(evs + holiday_events(country, lo, hi))
