"""The only I/O of pricing: read traffic and forecasts from DuckDB, write ``costs`` and the run.

``costs.kind``: ``actual`` (history), ``forecast`` (next hours), and ``projection:<kind>`` (the
month-end projection's lines: actual, forecast, run_rate). A new run replaces the forecast and
projection rows and the actual rows of the window it priced; the run and its budget alerts are
recorded in ``runs`` (kind ``costs``).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import uuid

import duckdb
import pandas as pd

from ..config import Settings
from ..errors import BadInput
from ..store.db import one, run, transaction, utcnow
from .catalog import Catalog, load_catalog
from .projection import month_bounds
from .service import CostReport, cost_report

log = logging.getLogger(__name__)

TRAFFIC_COLUMNS = ["ts", "api", "stage", "route", "region", "api_type", "requests", "bytes_out",
                   "integration_n", "billed_ms_sum"]


def catalog_for(settings: Settings) -> Catalog:
    return load_catalog(settings.price_catalog, settings.price_overrides_file)


def data_span(con: duckdb.DuckDBPyConnection, as_of: dt.datetime | None = None
              ) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(first minute, end of last minute) in traffic_1m (before ``as_of`` when given), or (None, None)."""
    if as_of is not None:
        row = one(con, "SELECT min(ts), max(ts) FROM traffic_1m WHERE ts < ?", [as_of])
    else:
        row = one(con, "SELECT min(ts), max(ts) FROM traffic_1m")
    if not row or row[0] is None:
        return None, None
    return row[0], row[1] + dt.timedelta(minutes=1)


def load_traffic(con: duckdb.DuckDBPyConnection, start: dt.datetime, end: dt.datetime,
                 as_of: dt.datetime | None = None) -> pd.DataFrame:
    """Hourly traffic for the whole months [start, end) touches (tiers are monthly), none from ``as_of`` on."""
    m0 = month_bounds(start)[0]
    m1 = month_bounds(end - dt.timedelta(microseconds=1))[1]
    if as_of is not None:
        m1 = min(m1, as_of)
    rows = run(con, """
        SELECT date_trunc('hour', ts) AS ts, api, stage, route, region, any_value(api_type) AS api_type,
               sum(requests)::BIGINT, sum(bytes_out)::BIGINT, sum(integration_n)::BIGINT, sum(billed_ms_sum)
        FROM traffic_1m WHERE ts >= ? AND ts < ?
        GROUP BY ALL ORDER BY ts, api, stage, route, region
    """, [m0, m1])
    return pd.DataFrame(rows, columns=TRAFFIC_COLUMNS)


def load_latest_forecasts(con: duckdb.DuckDBPyConnection) -> tuple[str | None, pd.DataFrame]:
    """The newest forecast run's route series (series, ds, yhat), and its run id.

    Runs recorded as running or failed are skipped; forecasts with no run row still count.
    """
    row = one(con, """
        SELECT f.run_id FROM forecasts f LEFT JOIN runs r USING (run_id)
        WHERE f.series LIKE 'route:%' AND (r.status IS NULL OR r.status = 'ok')
        GROUP BY f.run_id ORDER BY max(r.started) DESC NULLS LAST, max(f.ds) DESC, f.run_id DESC LIMIT 1
    """)
    if not row:
        return None, pd.DataFrame(columns=["series", "ds", "yhat"])
    rows = run(con, "SELECT series, ds, yhat FROM forecasts WHERE run_id = ? AND series LIKE 'route:%' "
                    "ORDER BY series, ds", [row[0]])
    return row[0], pd.DataFrame(rows, columns=["series", "ds", "yhat"])


def window_for(con: duckdb.DuckDBPyConnection, start: dt.datetime | None, end: dt.datetime | None,
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


def report_from_db(con: duckdb.DuckDBPyConnection, settings: Settings, start: dt.datetime | None = None,
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


def write_report(con: duckdb.DuckDBPyConnection, report: CostReport, params: dict,
                 forecast_run_id: str | None = None) -> str:
    """Store a report's lines in ``costs`` and the run in ``runs``; returns the run id."""
    run_id = f"costs-{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    started = utcnow()
    with transaction(con):
        run(con, "DELETE FROM costs WHERE kind = 'actual' AND ts >= ? AND ts < ?", [report.start, report.end])
        _insert(con, report.history, run_id, None)
        if report.forecast is not None:
            run(con, "DELETE FROM costs WHERE kind = 'forecast' OR kind LIKE 'projection:%'")
            _insert(con, report.forecast, run_id, None)
            _insert(con, report.projected, run_id, "projection:")
        summary = {"total_usd": report.to_dict()["total_usd"], "forecast_run_id": forecast_run_id,
                   "alerts": [a.to_dict() for a in report.alerts]}
        run(con, "INSERT INTO runs VALUES (?, 'costs', ?, ?, ?, 'ok', NULL, ?)",
            [run_id, json.dumps(params, default=str), started, utcnow(), json.dumps(summary, default=str)])
    for a in report.alerts:   # INFO: the fronts show alerts themselves (a WARNING printed each one twice)
        log.info("budget alert: %s", a.message)
    return run_id


def _insert(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame | None, run_id: str, prefix: str | None) -> None:
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
    con.register("_costs_df", df)
    try:
        run(con, """
            INSERT INTO costs BY NAME
            SELECT run_id, kind, ts, api, stage, route, region, component, quantity, unit, usd, flags,
                   usd_micros, price_key, catalog FROM _costs_df
        """)
    finally:
        con.unregister("_costs_df")
