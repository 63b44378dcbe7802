"""Forecast volumes as traffic, and the month-end projection: actuals + forecast + run-rate.

Forecast series are ``route:api|stage|route|region`` with ``yhat`` = requests per bucket. The
other quantities a price needs (bytes out, billed ms, integration count) come from the route's
own per-request ratios over its recent history; a route with no history gets zeros, flagged
``no_history_ratios``. Hours after the forecast ends and before the month ends are filled at
the route's recent hourly run-rate (flagged ``run_rate``).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

SERIES_PREFIX = "route:"
RATIO_COLUMNS = ("bytes_out", "integration_n", "billed_ms_sum")
TRAFFIC_COLUMNS = ["ts", "api", "stage", "route", "region", "api_type", "requests", "bytes_out",
                   "integration_n", "billed_ms_sum", "kind", "tflags"]
FLAG_FORECAST = "forecast"
FLAG_RUN_RATE = "run_rate"
FLAG_NO_HISTORY = "no_history_ratios"


def parse_series(series: str) -> tuple[str, str, str, str] | None:
    """'route:api|stage|route|region' -> (api, stage, route, region); None for other series."""
    if not series.startswith(SERIES_PREFIX):
        return None
    parts = series[len(SERIES_PREFIX):].split("|")
    if len(parts) < 4:
        return None
    return parts[0], parts[1], "|".join(parts[2:-1]), parts[-1]


def route_ratios(history: pd.DataFrame, as_of: dt.datetime, days: int = 7) -> pd.DataFrame:
    """Per route: api_type, per-request ratios and the mean hourly volumes over the last ``days``."""
    keys = ["api", "stage", "route", "region"]
    recent = history[pd.to_datetime(history["ts"]) >= pd.Timestamp(as_of) - pd.Timedelta(days=days)]
    if not len(recent):
        recent = history
    if not len(recent):
        return pd.DataFrame(columns=keys + ["api_type", "hours", "requests", *RATIO_COLUMNS])
    g = recent.groupby(keys, sort=True)
    out = g[["requests", *RATIO_COLUMNS]].sum()
    out["api_type"] = g["api_type"].agg(lambda s: s.iloc[-1])
    first = g["ts"].min()
    span_h = (pd.Timestamp(as_of) - pd.to_datetime(first)).dt.total_seconds() / 3600
    out["hours"] = np.maximum(span_h, 1.0)
    return out.reset_index()


def forecast_traffic(forecasts: pd.DataFrame, ratios: pd.DataFrame, start: dt.datetime,
                     end: dt.datetime) -> pd.DataFrame:
    """Forecast rows (series, ds, yhat) in [start, end) -> an hourly traffic frame, kind=forecast."""
    rows = []
    f = forecasts[(pd.to_datetime(forecasts["ds"]) >= start) & (pd.to_datetime(forecasts["ds"]) < end)]
    for series, g in f.groupby("series", sort=True):
        key = parse_series(str(series))
        if key is None:
            continue
        hourly = g.assign(ts=pd.to_datetime(g["ds"]).dt.floor("h")).groupby("ts")["yhat"].sum()
        for ts, yhat in hourly.items():
            rows.append((ts, *key, max(0.0, float(yhat or 0.0))))
    frame = pd.DataFrame(rows, columns=["ts", "api", "stage", "route", "region", "requests"])
    return _with_ratios(frame, ratios, "forecast", FLAG_FORECAST)


def run_rate_traffic(ratios: pd.DataFrame, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """One row per route and day of [start, end): recent mean hourly volume x hours, kind=run_rate."""
    if not len(ratios) or end <= start:
        return pd.DataFrame(columns=TRAFFIC_COLUMNS)
    edges = [pd.Timestamp(start), *pd.date_range(pd.Timestamp(start).floor("D") + pd.Timedelta(days=1),
                                                  pd.Timestamp(end), freq="D", inclusive="left"), pd.Timestamp(end)]
    parts = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        frame = ratios[["api", "stage", "route", "region"]].copy()
        frame["ts"] = lo
        frame["requests"] = ratios["requests"] / ratios["hours"] * ((hi - lo).total_seconds() / 3600)
        parts.append(frame)
    return _with_ratios(pd.concat(parts, ignore_index=True), ratios, "run_rate", FLAG_RUN_RATE)


def _with_ratios(frame: pd.DataFrame, ratios: pd.DataFrame, kind: str, flag: str) -> pd.DataFrame:
    if not len(frame):
        return pd.DataFrame(columns=TRAFFIC_COLUMNS)
    r = ratios.rename(columns={c: f"{c}_h" for c in ("requests", *RATIO_COLUMNS)})
    m = frame.merge(r, on=["api", "stage", "route", "region"], how="left")
    known = m["requests_h"].fillna(0) > 0
    per_req = {c: (m[f"{c}_h"] / m["requests_h"]).where(known, 0.0) for c in RATIO_COLUMNS}
    m["requests"] = m["requests"].round()
    for c in RATIO_COLUMNS:
        m[c] = (per_req[c] * m["requests"]).round()
    m["api_type"] = m["api_type"].fillna("unknown")
    m["kind"] = kind
    m["tflags"] = np.where(known, flag, f"{flag},{FLAG_NO_HISTORY}")
    return m[TRAFFIC_COLUMNS]


def month_bounds(ts: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    p = pd.Timestamp(ts).to_period("M")
    return p.start_time.to_pydatetime(), (p + 1).start_time.to_pydatetime()
