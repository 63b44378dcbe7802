"""Known events of the simulated traffic: sales, a launch, a weekly flash sale, holiday dips.

Each event multiplies the expected rate of the series it names by ``expected_uplift`` at its
plateau, with linear ramps at both ends. ``routes`` are the calendar globs
:mod:`forecaster.forecast.events` reads: a series id ``route:<api>|<stage>|<route>|<region>`` or a bare
route, fnmatch-style (empty = every series). The same events are written to ``events.csv`` and
``events.yaml`` so forecasting can use them as regressors.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .catalog import LAUNCH_AT, Api, default_catalog

EVENT_COLUMNS = ("name", "kind", "start", "end", "routes", "expected_uplift", "recurring", "ramp_up_hours",
                 "ramp_down_hours")
ROUTE_PREFIX = "route:"     # series ids as forecaster.forecast.series spells them
SAMPLE_WINDOW = ("2026-10-26", "2026-12-07")   # the window of data/samples/counts_hourly.csv


@dataclass(frozen=True)
class Event:
    name: str
    kind: str                        # sale | launch | flash_sale | holiday
    start: pd.Timestamp              # UTC, naive
    end: pd.Timestamp                # UTC, naive, exclusive
    routes: tuple[str, ...] = ()     # globs on series ids or routes; empty = every series
    expected_uplift: float = 1.0     # rate multiplier at the plateau (0.6 = a 40% dip)
    recurrence: str | None = None    # 'weekly' for one occurrence of a recurring event
    ramp_up_hours: float = 0.0
    ramp_down_hours: float = 0.0

    @property
    def recurring(self) -> bool:
        return self.recurrence is not None

    def profile(self, t: np.ndarray) -> np.ndarray:
        """0..1 weight of the event at instants ``t`` (datetime64): a trapezoid with linear ramps."""
        h = (np.asarray(t, dtype="datetime64[ns]") - np.datetime64(self.start, "ns")) / np.timedelta64(1, "h")
        span = (self.end - self.start) / pd.Timedelta(hours=1)
        up = np.clip(h / self.ramp_up_hours, 0, 1) if self.ramp_up_hours else np.ones_like(h)
        down = np.clip((span - h) / self.ramp_down_hours, 0, 1) if self.ramp_down_hours else np.ones_like(h)
        return np.where((h >= 0) & (h < span), np.minimum(up, down), 0.0)

    def applies(self, api: str, route: str, region: str, stage: str | None = None) -> bool:
        """Whether the series (api, stage, route, region) is named by ``routes`` (stage None: any)."""
        if not self.routes:
            return True
        for p in self.routes:
            if p.startswith(ROUTE_PREFIX):
                parts = p[len(ROUTE_PREFIX):].split("|")
                if len(parts) == 4 and all(
                    v is None or fnmatch.fnmatchcase(v, q) for v, q in zip((api, stage, route, region), parts)
                ):
                    return True
            elif fnmatch.fnmatchcase(route, p):
                return True
        return False


def _ts(s: str | pd.Timestamp) -> pd.Timestamp:
    """A naive UTC timestamp from ISO text or a timestamp (aware values are converted)."""
    t = pd.Timestamp(s)
    return t.tz_convert("UTC").tz_localize(None) if t.tzinfo else t


def thanksgiving(year: int) -> dt.date:
    """US Thanksgiving: the fourth Thursday of November."""
    first = dt.date(year, 11, 1)
    return first + dt.timedelta(days=(3 - first.weekday()) % 7 + 21)


def series_glob(api: str = "*", stage: str = "*", route: str = "*", region: str = "*") -> str:
    return f"{ROUTE_PREFIX}{api}|{stage}|{route}|{region}"


def _routes(catalog: tuple[Api, ...], apis: tuple[str, ...], only: tuple[str, ...] = ()) -> tuple[str, ...]:
    return tuple(series_glob(a.name, a.stage, r.key) for a in catalog if a.name in apis
                 for r in a.routes if not only or r.key in only)


def default_events(start: str | pd.Timestamp, end: str | pd.Timestamp,
                   catalog: tuple[Api, ...] | None = None) -> list[Event]:
    """Every default event overlapping [start, end), in start order (recurring ones per occurrence).

    Black Friday (day after US Thanksgiving, 5x on shop and payments, 4h ramps), the product
    launch at :data:`~forecaster.samples.catalog.LAUNCH_AT` (3x for 6h on product pages, and
    ``POST /preorders`` appears), the weekly flash sale (Thursdays 18:00-20:00 UTC, 2.5x on shop
    browsing and buying), and holiday dips (Thanksgiving in us-east-1, Christmas and New Year's
    Day everywhere).
    """
    catalog = catalog or default_catalog()
    lo, hi = _ts(start), _ts(end)
    h = pd.Timedelta(hours=1)
    out: list[Event] = []
    for year in range(lo.year - 1, hi.year + 1):
        tg = pd.Timestamp(thanksgiving(year))
        out.append(Event("Thanksgiving", "holiday", tg + 5 * h, tg + 29 * h, (series_glob(region="us-east-1"),),
                         0.6, None, 3, 3))
        out.append(Event("Black Friday", "sale", tg + 29 * h, tg + 56 * h, _routes(catalog, ("shop", "payments")),
                         5.0, None, 4, 4))
        out.append(Event("Christmas", "holiday", pd.Timestamp(year, 12, 25), pd.Timestamp(year, 12, 26), (),
                         0.5, None, 2, 2))
        out.append(Event("New Year", "holiday", pd.Timestamp(year + 1, 1, 1), pd.Timestamp(year + 1, 1, 2), (),
                         0.6, None, 2, 2))
    launch = _ts(LAUNCH_AT)
    out.append(Event("Product launch", "launch", launch, launch + 6 * h,
                     _routes(catalog, ("shop",), ("GET /products/{id}", "POST /preorders")), 3.0, None, 0.5, 2))
    flash = _routes(catalog, ("shop",), ("GET /products", "GET /products/{id}", "POST /cart/items", "POST /orders"))
    day = lo.normalize() - pd.Timedelta(days=1)
    day += pd.Timedelta(days=(3 - day.weekday()) % 7)      # the Thursday on or after
    while day < hi:
        out.append(Event("Flash sale", "flash_sale", day + 18 * h, day + 20 * h, flash, 2.5, "weekly", 0.25, 0.25))
        day += pd.Timedelta(days=7)
    return sorted((e for e in out if e.end > lo and e.start < hi), key=lambda e: (e.start, e.name))


def events_frame(events: list[Event] | None = None, start: str | None = None, end: str | None = None) -> pd.DataFrame:
    """Events as a tidy frame (routes as a list, recurring as a bool).

    Default: the default events of [start, end), which default to :data:`SAMPLE_WINDOW`.
    """
    if events is None:
        events = default_events(start or SAMPLE_WINDOW[0], end or SAMPLE_WINDOW[1])
    rows = [{"name": e.name, "kind": e.kind, "start": e.start, "end": e.end, "routes": list(e.routes),
             "expected_uplift": e.expected_uplift, "recurring": e.recurring, "recurrence": e.recurrence,
             "ramp_up_hours": e.ramp_up_hours, "ramp_down_hours": e.ramp_down_hours} for e in events]
    return pd.DataFrame(rows, columns=[*EVENT_COLUMNS[:7], "recurrence", *EVENT_COLUMNS[7:]])


def calendar(events: list[Event]) -> list[Event]:
    """The rows of an events file: a recurring event once (its first occurrence), one-offs as they are."""
    seen: set[tuple[str, str]] = set()
    out = []
    for e in events:
        if e.recurrence:
            if (e.name, e.recurrence) in seen:
                continue
            seen.add((e.name, e.recurrence))
        out.append(e)
    return out


def events_csv(events: list[Event]) -> str:
    """CSV as :func:`forecaster.forecast.events.load_events` reads it: ISO UTC times, routes ';'-joined,
    ``recurring`` = 'weekly' (the row is the first occurrence) or empty for a one-off."""
    lines = [",".join(EVENT_COLUMNS)]
    for e in calendar(events):
        lines.append(",".join([
            e.name, e.kind, _iso(e.start), _iso(e.end), '"' + ";".join(e.routes) + '"', f"{e.expected_uplift:g}",
            e.recurrence or "", f"{e.ramp_up_hours:g}", f"{e.ramp_down_hours:g}",
        ]))
    return "\n".join(lines) + "\n"


def events_yaml(events: list[Event]) -> str:
    import yaml

    docs = [{"name": e.name, "kind": e.kind, "start": _iso(e.start), "end": _iso(e.end), "routes": list(e.routes),
             "expected_uplift": e.expected_uplift, "recurring": e.recurrence or "",
             "ramp_up_hours": e.ramp_up_hours, "ramp_down_hours": e.ramp_down_hours} for e in calendar(events)]
    return yaml.safe_dump({"events": docs}, sort_keys=False, default_flow_style=False, width=200)


def read_events_csv(path: str, until: str | pd.Timestamp) -> list[Event]:
    """Read back an ``events.csv`` written by :func:`events_csv`, recurring rows expanded up to ``until``."""
    df = pd.read_csv(path, keep_default_na=False, dtype=str)
    hi, out = _ts(until), []
    for _, r in df.iterrows():
        e = Event(r["name"], r["kind"], _ts(r["start"]), _ts(r["end"]), tuple(x for x in r["routes"].split(";") if x),
                  float(r["expected_uplift"]), r["recurring"] or None, float(r["ramp_up_hours"]),
                  float(r["ramp_down_hours"]))
        step = pd.Timedelta(days=7) if e.recurrence == "weekly" else None
        while True:
            out.append(e)
            if step is None or e.start + step >= hi:
                break
            e = Event(e.name, e.kind, e.start + step, e.end + step, e.routes, e.expected_uplift, e.recurrence,
                      e.ramp_up_hours, e.ramp_down_hours)
    return sorted(out, key=lambda e: (e.start, e.name))


def _iso(t: pd.Timestamp) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")
