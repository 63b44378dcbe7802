"""Read-side queries for figures and reports (dashboards, notebooks): what each chart shows.

Read only; every function takes the connection from :func:`forecaster.store.connect` and returns
a DataFrame (or a dict / None), with timestamps as naive UTC. Series ids are those of the
forecasts (``route:api|stage|route|region``, ``api:NAME``, ``region:NAME``, ``total``).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pandas as pd

from ..errors import UnknownName
from .db import and_where, one, run


def _frame(con, query: str, params: list | None = None) -> pd.DataFrame:
    return con.execute(query, params or []).df()


def traffic_span(con) -> tuple[dt.datetime | None, dt.datetime | None]:
    """(first minute, last minute) in ``traffic_1m``, or (None, None) when it is empty."""
    row = one(con, "SELECT min(ts), max(ts) FROM traffic_1m")
    return (row[0], row[1]) if row else (None, None)


def routes(con) -> pd.DataFrame:
    """Every route with its series id and total requests, busiest first."""
    return _frame(con, """
        SELECT 'route:' || api || '|' || stage || '|' || route || '|' || region AS series,
               api, stage, route, region, sum(requests)::BIGINT AS requests
        FROM traffic_1m GROUP BY ALL ORDER BY requests DESC, series""")


def _series_filter(series: str) -> tuple[str, list]:
    kind, _, key = series.partition(":")
    if series == "total":
        return "TRUE", []
    if kind == "api":
        return "api = ?", [key]
    if kind == "region":
        return "region = ?", [key]
    if kind == "stage":
        api, _, stage = key.partition("|")
        return "api = ? AND stage = ?", [api, stage]
    if kind == "route":
        parts = key.split("|")
        if len(parts) == 4:
            return "api = ? AND stage = ? AND route = ? AND region = ?", parts
    return "FALSE", []


def traffic(con, start: dt.datetime, end: dt.datetime, by: str = "total", series: str | None = None,
            bucket: str = "1 hour") -> pd.DataFrame:
    """Requests, 4xx, 5xx and request-weighted latency percentiles per bucket in [start, end).

    ``by``: ``total`` (one ``key``), ``api``, ``region`` or ``route`` (the key is the series id);
    ``series`` narrows to one series id first.
    """
    keys = {"total": "'total'", "api": "api", "region": "region",
            "route": "'route:' || api || '|' || stage || '|' || route || '|' || region"}
    key = keys[by]
    where, params = _series_filter(series) if series else ("TRUE", [])
    return _frame(con, f"""
        SELECT time_bucket(INTERVAL '{bucket}', ts) AS ts, {key} AS key,
               sum(requests)::BIGINT AS requests, sum(status_4xx)::BIGINT AS status_4xx,
               sum(status_5xx)::BIGINT AS status_5xx,
               sum(latency_p50_ms * latency_n) / nullif(sum(latency_n), 0) AS latency_p50_ms,
               sum(latency_p95_ms * latency_n) / nullif(sum(latency_n), 0) AS latency_p95_ms,
               max(latency_p99_ms) AS latency_p99_ms
        FROM traffic_1m WHERE ts >= ? AND ts < ? AND {where}
        GROUP BY ALL ORDER BY key, ts""", [start, end, *params])


def latest_forecast_run(con) -> dict[str, Any] | None:
    """The newest successful forecast run that wrote forecasts: run_id, as_of, step, started, params."""
    row = one(con, """
        SELECT f.run_id, any_value(r.params), max(r.started), min(f.ds)
        FROM forecasts f LEFT JOIN runs r USING (run_id)
        WHERE r.status IS NULL OR r.status = 'ok'
        GROUP BY f.run_id ORDER BY max(r.started) DESC NULLS LAST, max(f.ds) DESC, f.run_id DESC LIMIT 1""")
    if not row:
        return None
    params = json.loads(row[1]) if row[1] else {}
    as_of = params.get("as_of")
    return {"run_id": row[0], "params": params, "started": row[2],
            "as_of": pd.Timestamp(as_of).to_pydatetime() if as_of else row[3],
            "step": params.get("step", "1h")}


def forecast(con, run_id: str, series: list[str] | None = None, prefix: str | None = None) -> pd.DataFrame:
    """A run's forecasts (series, ds, model, yhat and 80/95% bounds), for some series or a prefix."""
    params: list[Any] = [run_id]
    where = and_where("run_id = ?", params, ("list_contains(?, series)", None if series is None else list(series)),
                      ("starts_with(series, ?)", prefix))
    return _frame(con, f"""
        SELECT series, ds, model, yhat, yhat_lo_80, yhat_hi_80, yhat_lo_95, yhat_hi_95
        FROM forecasts WHERE {where} ORDER BY series, ds""", params)


def spikes(con, run_id: str, series: str | None = None) -> pd.DataFrame:
    """A run's spikes, soonest first."""
    params: list[Any] = [run_id]
    where = and_where("run_id = ?", params, ("series = ?", series))
    return _frame(con, f"""
        SELECT series, start_ts, end_ts, peak_ts, peak, baseline, ratio, threshold, probability,
               lead_time_hours, reason, event
        FROM spikes WHERE {where} ORDER BY start_ts, ratio DESC""", params)


def backtest_accuracy(con, run_id: str, series: str) -> pd.DataFrame:
    """Per model: mean relMAE (weekly naive = 1), MASE, 80/95% coverage over the folds; chosen first."""
    return _frame(con, """
        SELECT model, bool_or(chosen) AS chosen, count(*) AS folds, avg(rel_mae) AS rel_mae,
               avg(mase) AS mase, avg(smape) AS smape, avg(coverage_80) AS coverage_80,
               avg(coverage_95) AS coverage_95, any_value(note) AS note
        FROM backtests WHERE run_id = ? AND series = ?
        GROUP BY model ORDER BY chosen DESC, rel_mae NULLS LAST""", [run_id, series])


def costs(con, kinds: list[str], by: str, start: dt.datetime | None = None,
          end: dt.datetime | None = None) -> pd.DataFrame:
    """Dollars by ``route`` (series id), ``api``, ``region``, ``component`` or ``day`` for cost kinds."""
    return _money_or_carbon(con, "costs", "sum(usd) AS usd", kinds, by, start, end)


def carbon(con, kinds: list[str], by: str, start: dt.datetime | None = None,
           end: dt.datetime | None = None) -> pd.DataFrame:
    """Grams CO2e (and the requests they served) by route, api, region, component or day."""
    return _money_or_carbon(con, "carbon", "sum(g_co2e) AS g_co2e", kinds, by, start, end)


def _money_or_carbon(con, table: str, measure: str, kinds: list[str], by: str,
                     start: dt.datetime | None, end: dt.datetime | None) -> pd.DataFrame:
    keys = {"api": "api", "region": "region", "component": "component",
            "day": "date_trunc('day', ts)", "hour": "ts", "kind": "kind",
            "route": "'route:' || api || '|' || stage || '|' || route || '|' || region"}
    params: list = [list(kinds)]
    where = and_where("list_contains(?, kind)", params, ("ts >= ?", start), ("ts < ?", end))
    return _frame(con, f"""
        SELECT {keys[by]} AS key, {measure} FROM {table} WHERE {where}
        GROUP BY ALL ORDER BY 2 DESC, 1""", params)


def cost_kinds_daily(con) -> pd.DataFrame:
    """Dollars per day and cost kind (``actual``, ``forecast``, ``projection:*``): the budget burn."""
    return _frame(con, """
        SELECT date_trunc('day', ts) AS day, kind, sum(usd) AS usd FROM costs
        GROUP BY ALL ORDER BY day, kind""")


def carbon_intensity(con, kinds: list[str] | None = None) -> pd.DataFrame:
    """gCO2e per request by region and hour of day (UTC), over the carbon rows with requests."""
    kinds = kinds or ["actual"]
    return _frame(con, """
        WITH per_bucket AS (
            SELECT region, ts, sum(g_co2e) AS g, max(requests) AS requests FROM carbon
            WHERE list_contains(?, kind) GROUP BY region, ts, api, stage, route)
        SELECT region, hour(ts) AS hour, sum(g) / nullif(sum(requests), 0) AS g_per_request,
               sum(requests) AS requests
        FROM per_bucket GROUP BY ALL ORDER BY region, hour""", [list(kinds)])


def latest_run(con, kind: str) -> dict[str, Any] | None:
    """The newest run of a kind with its parsed summary."""
    row = one(con, """SELECT run_id, status, started, finished, error, summary FROM runs
                      WHERE kind = ? ORDER BY started DESC LIMIT 1""", [kind])
    if not row:
        return None
    return {"run_id": row[0], "status": row[1], "started": row[2], "finished": row[3], "error": row[4],
            "summary": json.loads(row[5]) if row[5] else {}}


def runs(con, limit: int = 20) -> pd.DataFrame:
    """The latest runs, newest first."""
    return _frame(con, """SELECT run_id, kind, status, started, finished, error FROM runs
                          ORDER BY started DESC LIMIT ?""", [int(limit)])


def recommendations(con, valid_at: dt.datetime | None = None, statuses: list[str] | None = None) -> pd.DataFrame:
    """Recommendations (optionally those valid at a time, and of some statuses), params and impact parsed."""
    where = "TRUE"
    params: list[Any] = []
    if valid_at is not None:
        where += " AND (valid_from IS NULL OR valid_from <= ?) AND (valid_to IS NULL OR valid_to > ?)"
        params += [valid_at, valid_at]
    if statuses is not None:
        where += " AND list_contains(?, status)"
        params.append(list(statuses))
    df = _frame(con, f"""
        SELECT id, run_id, kind, target, params, valid_from, valid_to, rationale, expected_impact, status
        FROM recommendations WHERE {where} ORDER BY valid_from NULLS FIRST, kind, target""", params)
    for col in ("params", "expected_impact"):
        df[col] = pd.Series([json.loads(v) if isinstance(v, str) else (v or {}) for v in df[col]],
                            index=df.index, dtype=object)
    return df


def actions(con, limit: int = 200) -> pd.DataFrame:
    """The audit log of the control plane, newest first, with each action's recommendation."""
    df = _frame(con, """
        SELECT a.id, a.at_ts, a.actor, a.adapter, a.dry_run, a.outcome, a.error, a.recommendation_id,
               r.kind, r.target, a.before_state, a.after_state
        FROM actions a LEFT JOIN recommendations r ON r.id = a.recommendation_id
        ORDER BY a.at_ts DESC LIMIT ?""", [int(limit)])
    for col in ("before_state", "after_state"):
        df[col] = pd.Series([json.loads(v) if isinstance(v, str) else (v or {}) for v in df[col]],
                            index=df.index, dtype=object)
    return df


def count(con, table: str) -> int:
    """Rows in one of the known tables (for 'nothing here yet' messages)."""
    known = {"traffic_1m", "forecasts", "spikes", "costs", "carbon", "recommendations", "actions", "runs"}
    if table not in known:
        raise UnknownName("table", table, sorted(known))
    return int(run(con, f"SELECT count(*) FROM {table}")[0][0])


def target_rps(con, api: str, stage: str | None, route: str | None, start: dt.datetime,
               end: dt.datetime, bucket: str = "1 hour") -> pd.DataFrame:
    """Requests per second of a decision target (an api, a stage or a route, all regions): per
    bucket the mean rate and the busiest minute's rate."""
    params: list[Any] = [api]
    where = and_where("api = ?", params, ("stage = ?", stage), ("route = ?", route))
    return _frame(con, f"""
        WITH per_minute AS (
            SELECT ts, sum(requests) AS requests FROM traffic_1m
            WHERE ts >= ? AND ts < ? AND {where} GROUP BY ts)
        SELECT time_bucket(INTERVAL '{bucket}', ts) AS ts, sum(requests) AS requests,
               max(requests) / 60.0 AS peak_minute_rps,
               sum(requests) / (extract(epoch FROM INTERVAL '{bucket}')) AS mean_rps
        FROM per_minute GROUP BY ALL ORDER BY ts""", [start, end, *params])


def clients(con, start: dt.datetime | None = None, end: dt.datetime | None = None, top: int = 15) -> pd.DataFrame:
    """The busiest callers (API key or caller id) in the raw requests, with their routes and errors."""
    params: list[Any] = []
    where = and_where("client IS NOT NULL", params, ("ts >= ?", start), ("ts < ?", end))
    return _frame(con, f"""
        SELECT client, count(*) AS requests, count(DISTINCT api || route) AS routes,
               avg((status >= 400)::INT) AS error_share, quantile_cont(latency_ms, 0.95) AS latency_p95_ms
        FROM requests WHERE {where} GROUP BY client ORDER BY requests DESC LIMIT ?""", [*params, int(top)])


def hour_of_week(con, series: str = "total", weeks: int = 6, end: dt.datetime | None = None) -> pd.DataFrame:
    """Mean requests per hour by day of week (0 = Monday) and hour (UTC) over the last ``weeks``."""
    where, params = _series_filter(series)
    last = end or (traffic_span(con)[1] or dt.datetime(1970, 1, 1))
    return _frame(con, f"""
        WITH hourly AS (
            SELECT date_trunc('hour', ts) AS ts, sum(requests) AS requests FROM traffic_1m
            WHERE ts >= ? AND ts < ? AND {where} GROUP BY 1)
        SELECT isodow(ts) - 1 AS dow, hour(ts) AS hour, avg(requests) AS requests
        FROM hourly GROUP BY ALL ORDER BY dow, hour""", [last - dt.timedelta(weeks=weeks), last, *params])
