"""The only I/O of pricing: read traffic and forecasts from DuckDB, write ``costs`` and the run.

``costs.kind``: ``actual`` (history), ``forecast`` (next hours), and ``projection:<kind>`` (the
month-end projection's lines: actual, forecast, run_rate). A new run replaces the forecast and
projection rows and the actual rows of the window it priced; the run and its budget alerts are
recorded in ``runs`` (kind ``costs``).
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

import pandas as pd

from ..config import Settings
from ..errors import BadInput
from ..store import costs as costs_table
from ..store import forecasts as forecasts_table
from ..store import runs, traffic
from ..store.db import Connection, transaction, utcnow
from .catalog import Catalog, load_catalog
from .projection import month_bounds
from .service import CostReport, cost_report

log = logging.getLogger(__name__)

TRAFFIC_COLUMNS = traffic.HOURLY_COLUMNS


def catalog_for(settings: Settings) -> Catalog:
    return load_catalog(settings.price_catalog, settings.price_overrides_file)


def data_span(con: Connection, as_of: dt.datetime | None = None
              ) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(first minute, end of last minute) in traffic_1m (before ``as_of`` when given), or (None, None)."""
    first, last = traffic.span(con, as_of)
    if first is None or last is None:
        return None, None
    return first, last + dt.timedelta(minutes=1)


def load_traffic(con: Connection, start: dt.datetime, end: dt.datetime,
                 as_of: dt.datetime | None = None) -> pd.DataFrame:
    """Hourly traffic for the whole months [start, end) touches (tiers are monthly), none from ``as_of`` on."""
    m0 = month_bounds(start)[0]
    m1 = month_bounds(end - dt.timedelta(microseconds=1))[1]
    if as_of is not None:
        m1 = min(m1, as_of)
    return traffic.hourly(con, m0, m1)


def load_latest_forecasts(con: Connection) -> tuple[str | None, pd.DataFrame]:
    """The newest forecast run's route series (series, ds, yhat), and its run id.

    Runs recorded as running or failed are skipped; forecasts with no run row still count.
    """
    run_id = forecasts_table.latest_route_run(con)
    if run_id is None:
        return None, pd.DataFrame(columns=["series", "ds", "yhat"])
    return run_id, forecasts_table.route_forecasts(con, run_id)


def window_for(con: Connection, start: dt.datetime | None, end: dt.datetime | None,
               as_of: dt.datetime | None = None) -> tuple[dt.datetime, dt.datetime, dt.datetime]:
    """(start, end, as_of) of a report: defaults are the month of the latest data (before ``as_of``) up to its end."""
    cut = as_of
    _, as_of = data_span(con, cut)
    as_of = cut if cut is not None else as_of
    as_of = as_of or utcnow().replace(second=0, microsecond=0)
    end = end or as_of
    start = start or month_bounds(end - dt.timedelta(microseconds=1))[0]
    if start >= end:
        raise BadInput(f"--from {start:%Y-%m-%d %H:%M} must be before --to {end:%Y-%m-%d %H:%M}")
    return start, end, as_of


def report_from_db(con: Connection, settings: Settings, start: dt.datetime | None = None,
                   end: dt.datetime | None = None, forecast: bool = False,
                   horizon_hours: int = 72, as_of: dt.datetime | None = None) -> tuple[CostReport, str | None]:
    """Load what a cost report needs and build it (no writes). Defaults: this month of the data.

    ``as_of``: price as if now were then — only traffic before it counts as actual (like
    ``forecast --as-of``); by default "now" is the end of the data.
    """
    cut = as_of
    start, end, as_of = window_for(con, start, end, cut)
    lo = min(start, month_bounds(as_of - dt.timedelta(microseconds=1))[0]) if forecast else start
    hi = max(end, as_of) if forecast else end
    traffic = load_traffic(con, lo, hi, cut)
    run_id, fc = load_latest_forecasts(con) if forecast else (None, None)
    report = cost_report(traffic, catalog_for(settings), settings, start, end, forecasts=fc,
                         horizon_hours=horizon_hours, as_of=as_of)
    return report, run_id


def write_report(con: Connection, report: CostReport, params: dict,
                 forecast_run_id: str | None = None) -> str:
    """Store a report's lines in ``costs`` and the run in ``runs``; returns the run id."""
    run_id = f"costs-{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    started = utcnow()
    with transaction(con):
        costs_table.delete_actual(con, report.start, report.end)
        _insert(con, report.history, run_id, None)
        if report.forecast is not None:
            costs_table.delete_forecast(con)
            _insert(con, report.forecast, run_id, None)
            _insert(con, report.projected, run_id, "projection:")
        summary = {"total_usd": report.to_dict()["total_usd"], "forecast_run_id": forecast_run_id,
                   "alerts": [a.to_dict() for a in report.alerts]}
        runs.record(con, run_id, "costs", params, started, summary)
    for a in report.alerts:   # INFO: the fronts show alerts themselves (a WARNING printed each one twice)
        log.info("budget alert: %s", a.message)
    return run_id


def _insert(con: Connection, frame: pd.DataFrame | None, run_id: str, prefix: str | None) -> None:
    if frame is None or not len(frame):
        return
    df = frame.copy()
    if prefix:
        df["kind"] = prefix + df["kind"].astype(str)
    df["run_id"] = run_id
    df["ts"] = pd.to_datetime(df["ts"])
    df["usd_micros"] = df["usd_micros"].astype("int64")
    df["usd"] = df["usd"].astype(float)
    df["quantity"] = df["quantity"].astype(float)
    costs_table.insert(con, df)
