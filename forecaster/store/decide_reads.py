"""Reads the decisions need (owner: ``forecaster.decide``): per-series traffic with its busiest
second, a forecast run's rows and backtest accuracy, and request-level stats for cache and
WebSocket advice. Read-only; every function returns DataFrames or plain values.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from ..errors import BadInput
from .db import and_where, one, run


def series_filter(series: str) -> tuple[str, list]:
    """SQL condition on traffic_1m (api, stage, route, region) for a series id: ``route:a|s|r|reg``,
    ``api:A``, ``stage:A|S``, ``region:R`` or ``total``."""
    if series == "total":
        return "TRUE", []
    kind, _, rest = series.partition(":")
    parts = rest.split("|")
    if kind == "route" and len(parts) == 4:
        return "api = ? AND stage = ? AND route = ? AND region = ?", parts
    if kind == "api" and rest:
        return "api = ?", [rest]
    if kind == "stage" and len(parts) == 2:
        return "api = ? AND stage = ?", parts
    if kind == "region" and rest:
        return "region = ?", [rest]
    raise BadInput(f"series must be route:API|STAGE|ROUTE|REGION, api:API, stage:API|STAGE, region:REGION "
                   f"or total, got {series!r}")


def series_minutes(con: duckdb.DuckDBPyConnection, series: str, start: dt.datetime | None = None,
                   end: dt.datetime | None = None) -> pd.DataFrame:
    """``ts, requests, peak_rps`` per logged minute of one series in [start, end) (peak_rps: the
    busiest second, NULL where the logs give counts only)."""
    where, params = series_filter(series)
    where = and_where(where, params, ("ts >= ?", start), ("ts < ?", end))
    rel = con.execute(f"""
        SELECT ts, sum(requests)::DOUBLE AS requests,
               CASE WHEN count(peak_rps) = count(*) THEN sum(peak_rps)::DOUBLE END AS peak_rps
        FROM traffic_1m WHERE {where} GROUP BY ts ORDER BY ts""", params)
    return rel.df()


def series_routes(con: duckdb.DuckDBPyConnection, series: str) -> list[str]:
    """The route series ids (``route:api|stage|route|region``) a series adds up."""
    where, params = series_filter(series)
    rows = run(con, f"SELECT DISTINCT api, stage, route, region FROM traffic_1m WHERE {where} ORDER BY ALL", params)
    return [f"route:{a}|{s}|{r}|{g}" for a, s, r, g in rows]


def series_types(con: duckdb.DuckDBPyConnection, series: str) -> list[tuple[str, str, float]]:
    """(api_type, region, requests) of the routes a series adds up."""
    where, params = series_filter(series)
    return [(a, r, float(n)) for a, r, n in run(
        con, f"SELECT api_type, region, sum(requests) FROM traffic_1m WHERE {where} GROUP BY ALL ORDER BY ALL", params)]


def series_list(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every route series id in traffic_1m, and the ``total``."""
    rows = run(con, "SELECT DISTINCT api, stage, route, region FROM traffic_1m ORDER BY ALL")
    return [f"route:{a}|{s}|{r}|{g}" for a, s, r, g in rows] + ["total"]


def latest_run(con: duckdb.DuckDBPyConnection, kind: str = "forecast") -> str | None:
    r = one(con, "SELECT run_id FROM runs WHERE kind = ? AND status = 'ok' ORDER BY started DESC LIMIT 1", [kind])
    return r[0] if r else None


def run_info(con: duckdb.DuckDBPyConnection, run_id: str) -> dict | None:
    r = one(con, "SELECT run_id, kind, params, started, status FROM runs WHERE run_id = ?", [run_id])
    return dict(zip(("run_id", "kind", "params", "started", "status"), r)) if r else None


def forecast_rows(con: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    """A forecast run's rows: series, ds, model, yhat and the 80/95 % bands."""
    return con.execute("""
        SELECT series, ds, model, yhat, yhat_lo_80, yhat_hi_80, yhat_lo_95, yhat_hi_95
        FROM forecasts WHERE run_id = ? ORDER BY series, ds""", [run_id]).df()


def accuracy(con: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    """Per series: the chosen model's mean backtest relMAE and 80 % coverage over its folds."""
    return con.execute("""
        SELECT series, avg(rel_mae) AS rel_mae, avg(coverage_80) AS coverage_80
        FROM backtests WHERE run_id = ? AND chosen GROUP BY series""", [run_id]).df()


def spikes(con: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    return con.execute("""
        SELECT series, start_ts, end_ts, peak_ts, peak, baseline, ratio, probability, event
        FROM spikes WHERE run_id = ? ORDER BY series, start_ts""", [run_id]).df()


def route_stats(con: duckdb.DuckDBPyConnection, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """Per route series over [start, end): api_type, requests, 4xx/5xx, the busiest second seen,
    p95 latency, mean integration latency, and the observed hourly peak-to-mean factor (p90 over
    hours of busiest second / hour mean rps; NULL where no minute carries peak_rps)."""
    return con.execute("""
        WITH h AS (
            SELECT api, stage, route, region, date_trunc('hour', ts) AS hour, sum(requests) AS req,
                   max(peak_rps) AS peak, count(peak_rps) AS n_peak
            FROM traffic_1m WHERE ts >= ? AND ts < ? GROUP BY ALL)
        SELECT t.api, t.stage, t.route, t.region, any_value(t.api_type) AS api_type,
               sum(t.requests)::DOUBLE AS requests, sum(t.status_4xx)::DOUBLE AS status_4xx,
               sum(t.status_5xx)::DOUBLE AS status_5xx, max(t.peak_rps)::DOUBLE AS peak_rps_max,
               sum(t.latency_p95_ms * t.latency_n) / nullif(sum(t.latency_n), 0) AS latency_p95_ms,
               sum(t.integration_ms_sum) / nullif(sum(t.integration_n), 0) AS integration_ms_mean,
               (SELECT quantile_cont(h.peak / (h.req / 3600.0), 0.9) FROM h
                WHERE h.api = t.api AND h.stage = t.stage AND h.route = t.route AND h.region = t.region
                  AND h.n_peak > 0 AND h.req >= 60) AS peak_factor
        FROM traffic_1m t WHERE t.ts >= ? AND t.ts < ? GROUP BY t.api, t.stage, t.route, t.region
        ORDER BY ALL""", [start, end, start, end]).df()


def observed_peak_rps(con: duckdb.DuckDBPyConnection, start: dt.datetime, end: dt.datetime,
                      counts_factor: float) -> pd.DataFrame:
    """Per api, stage, route: the busiest second over [start, end), summed over regions: the logged
    ``peak_rps`` where every minute of an hour has it, else (counts, whose rows may stand for a
    whole step) the hour's mean rps x ``counts_factor``."""
    return con.execute("""
        SELECT api, stage, route, max(rps) AS peak_rps FROM (
            SELECT api, stage, route, hour, sum(rps) AS rps FROM (
                SELECT api, stage, route, region, date_trunc('hour', ts) AS hour,
                       CASE WHEN count(peak_rps) = count(*) THEN max(peak_rps)::DOUBLE
                            ELSE sum(requests) / 3600.0 * ? END AS rps
                FROM traffic_1m WHERE ts >= ? AND ts < ? GROUP BY ALL)
            GROUP BY ALL)
        GROUP BY ALL""", [counts_factor, start, end]).df()


def cache_candidates(con: duckdb.DuckDBPyConnection, start: dt.datetime, end: dt.datetime, ttl_s: int) -> pd.DataFrame:
    """Per api, stage, route of GET requests in [start, end) (raw requests kept): requests, errors,
    the share that repeat the same route and client within ``ttl_s`` (the hits a stage cache keyed on
    the route and caller would serve), mean response bytes."""
    return con.execute("""
        WITH g AS (
            SELECT api, stage, route, status, bytes_out, client, ts,
                   lag(ts) OVER (PARTITION BY api, stage, route, client ORDER BY ts) AS prev_ts
            FROM requests WHERE ts >= ? AND ts < ? AND method = 'GET')
        SELECT api, stage, route, count(*)::DOUBLE AS requests,
               count(*) FILTER (WHERE status >= 400)::DOUBLE AS errors,
               count(*) FILTER (WHERE client IS NOT NULL AND prev_ts IS NOT NULL
                                AND ts - prev_ts <= to_seconds(?))::DOUBLE AS repeats,
               avg(bytes_out) AS bytes_mean
        FROM g GROUP BY ALL ORDER BY ALL""", [start, end, ttl_s]).df()


def stage_requests(con: duckdb.DuckDBPyConnection, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """Per api, stage: requests and GET requests in the raw log over [start, end)."""
    return con.execute("""
        SELECT api, stage, any_value(region) AS region, count(*)::DOUBLE AS requests,
               count(*) FILTER (WHERE method = 'GET')::DOUBLE AS gets
        FROM requests WHERE ts >= ? AND ts < ? GROUP BY ALL""", [start, end]).df()


def websocket_gaps(con: duckdb.DuckDBPyConnection, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """Per websocket api and stage: gaps (s) between consecutive messages of a connection (the
    ``client`` column carries the connection id), the connections seen, and their span in minutes."""
    return con.execute("""
        WITH m AS (
            SELECT api, stage, client, ts,
                   epoch(ts - lag(ts) OVER (PARTITION BY api, stage, client ORDER BY ts)) AS gap_s
            FROM requests WHERE api_type = 'websocket' AND client IS NOT NULL AND ts >= ? AND ts < ?)
        SELECT api, stage, list(gap_s) FILTER (WHERE gap_s IS NOT NULL) AS gaps,
               count(DISTINCT client)::DOUBLE AS connections, any_value(client) AS example
        FROM m GROUP BY ALL ORDER BY ALL""", [start, end]).df()


def traffic_span(con: duckdb.DuckDBPyConnection) -> tuple[dt.datetime | None, dt.datetime | None]:
    r = one(con, "SELECT min(ts), max(ts) FROM traffic_1m")
    return (r[0], r[1]) if r else (None, None)
