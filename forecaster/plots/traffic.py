"""Traffic figures: actuals with the forecast's bands, spikes ahead, one route up close."""

from __future__ import annotations

import datetime as dt
import logging

import pandas as pd
import plotly.graph_objects as go

from ..config import Settings
from ..store import reports
from . import style
from .common import NoData, Window, bands, bucket_for, figure, line, now_marker

log = logging.getLogger(__name__)


def _per_hour(df: pd.DataFrame, bucket: str) -> float:
    """Factor that turns a bucket's requests into requests per hour (forecasts are per hour)."""
    minutes = {"1 minute": 1, "5 minutes": 5, "1 hour": 60}[bucket]
    return 60 / minutes


def traffic_total(con, w: Window, series: str = "total", title: str | None = None) -> go.Figure:
    """Requests per hour: actual (black) and the latest forecast (dashed) with its 80/95% bands."""
    bucket = bucket_for(w)
    act = reports.traffic(con, w.start, w.end, by="total", series=series, bucket=bucket)
    fc = reports.forecast(con, w.run_id, series=[series]) if w.run_id else pd.DataFrame()
    if len(fc):
        fc = fc[(fc["ds"] >= w.start) & (fc["ds"] < w.end)]
    if act.empty and fc.empty:
        raise NoData(f"no traffic and no forecast for {series} in {w.label()}")
    fig = figure(title or f"Requests per hour — {series}", "requests / hour")
    if len(fc):
        bands(fig, fc)
    if len(act):
        fig.add_trace(line(act["ts"], act["requests"] * _per_hour(act, bucket), "actual", color=style.ACTUAL))
    now_marker(fig, w.as_of)
    fig.update_yaxes(tickformat="~s", rangemode="tozero")
    return fig


def traffic_by_api(con, w: Window) -> go.Figure:
    """Requests per hour per API: actual (solid) and forecast (dashed, same colour)."""
    return traffic_by(con, w, "api")


def traffic_by(con, w: Window, by: str = "api") -> go.Figure:
    """Requests per hour per ``api`` or ``region``: actual (solid) and forecast (dashed, same colour)."""
    act = reports.traffic(con, w.start, w.end, by=by, bucket="1 hour")
    fc = reports.forecast(con, w.run_id, prefix=f"{by}:") if w.run_id else pd.DataFrame()
    if len(fc):
        fc = fc[(fc["ds"] >= w.start) & (fc["ds"] < w.end)]
    if act.empty and fc.empty:
        raise NoData(f"no per-{by} traffic or forecast in {w.label()}")
    totals = act.groupby("key")["requests"].sum().sort_values(ascending=False)
    extra = sorted(set(fc["series"].str.split(":", n=1).str[1]) - set(totals.index)) if len(fc) else []
    fig = figure(f"Requests per hour by {'API' if by == 'api' else by}", "requests / hour", height=420)
    for i, key in enumerate(list(totals.index) + extra):
        color = style.PALETTE[i % len(style.PALETTE)]
        a = act[act["key"] == key]
        if len(a):
            fig.add_trace(line(a["ts"], a["requests"], key, color=color, width=1.5))
        f = fc[fc["series"] == f"{by}:{key}"] if len(fc) else fc
        if len(f):
            fig.add_trace(line(f["ds"], f["yhat"], f"{key} forecast", color=color, dash="dash",
                               width=1.5, showlegend=False))
    now_marker(fig, w.as_of)
    fig.update_yaxes(tickformat="~s", rangemode="tozero")
    return fig


def seasonality(con, series: str = "total", weeks: int = 6) -> go.Figure:
    """Mean requests per hour by day of week and hour of day (UTC): the weekly shape of a series."""
    df = reports.hour_of_week(con, series, weeks)
    if df.empty:
        raise NoData(f"no traffic for {series} in the last {weeks} weeks of data")
    grid = df.pivot_table(index="dow", columns="hour", values="requests").reindex(range(7))
    days = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    fig = figure(f"Weekly shape — mean requests per hour, last {weeks} weeks ({series.replace('route:', '')})",
                 height=330)
    fig.add_trace(go.Heatmap(z=grid.values, x=[f"{h:02d}" for h in grid.columns], y=days,
                             colorscale=style.SEQUENTIAL, colorbar=dict(title="req/h", tickformat="~s"),
                             hovertemplate="%{y} %{x}:00 UTC: %{z:,.0f} requests/hour<extra></extra>"))
    fig.update_layout(hovermode="closest")
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(title="hour of day (UTC)")
    return fig


def spike_timeline(con, w: Window, limit: int = 25) -> go.Figure:
    """Upcoming spikes as bars from start to end, one row per series, labelled with lead time and
    probability; colour is the probability of exceeding the threshold."""
    if not w.run_id:
        raise NoData("no forecast yet, so no spikes: run `forecaster forecast`")
    sp = reports.spikes(con, w.run_id)
    if sp.empty:
        raise NoData(f"no spikes ahead in forecast run {w.run_id}")
    sp = sp.sort_values(["ratio"], ascending=False).head(limit).sort_values("start_ts", ascending=False)
    label = [f"{s.replace('route:', '')}" for s in sp["series"]]
    text = [f"{style.hours(lt)} lead · P {style.percent(p)} · {r:.1f}×" + (f" · {e}" if isinstance(e, str) and e else "")
            for lt, p, r, e in zip(sp["lead_time_hours"], sp["probability"], sp["ratio"], sp["event"])]
    dur_ms = (pd.to_datetime(sp["end_ts"]) - pd.to_datetime(sp["start_ts"])).dt.total_seconds() * 1000
    fig = figure(f"Spikes ahead ({len(sp)} largest)", height=max(260, 60 + 26 * len(sp)))
    fig.add_trace(go.Bar(
        y=label, x=dur_ms, base=sp["start_ts"], orientation="h", text=text, textposition="inside",
        insidetextanchor="start", marker=dict(color=sp["probability"], colorscale=style.SEQUENTIAL, cmin=0, cmax=1,
                                              colorbar=dict(title="P(exceed)", tickformat=".0%", len=0.8)),
        customdata=list(zip(sp["peak"], sp["baseline"], sp["peak_ts"].astype(str), text)),
        hovertemplate="%{y}<br>peak %{customdata[0]:,.0f}/h at %{customdata[2]}"
                      "<br>baseline %{customdata[1]:,.0f}/h<br>%{customdata[3]}<extra></extra>",
        name="spike"))
    fig.update_layout(hovermode="closest", showlegend=False)
    fig.update_xaxes(type="date")
    fig.update_yaxes(automargin=True)
    now_marker(fig, w.as_of)
    return fig


def route_forecast(con, settings: Settings, w: Window, series: str) -> go.Figure:
    """One series: actual vs forecast with bands, spikes shaded and calendar events marked."""
    fig = traffic_total(con, w, series=series, title=f"Actual vs forecast — {series.replace('route:', '')}")
    if w.run_id:
        for s in reports.spikes(con, w.run_id, series=series).itertuples():
            fig.add_vrect(x0=s.start_ts, x1=s.end_ts, fillcolor=style.SPIKE, line_width=0, layer="below",
                          annotation_text=f"spike {s.ratio:.1f}×", annotation_position="top left",
                          annotation_font=dict(size=11, color=style.ALERT))
    for name, start, end in calendar_events(con, settings, w, series):
        fig.add_vrect(x0=start, x1=end, fillcolor="rgba(0,0,0,0)", line=dict(color=style.PALETTE[2], width=1, dash="dot"),
                      annotation_text=name, annotation_position="bottom left",
                      annotation_font=dict(size=11, color=style.PALETTE[2]))
    return fig


def calendar_events(con, settings: Settings, w: Window, series: str) -> list[tuple[str, dt.datetime, dt.datetime]]:
    """Calendar events (the run's events file, else the settings') and holidays touching the window."""
    from ..forecast.events import Calendar

    run = reports.latest_forecast_run(con)
    path = (run or {}).get("params", {}).get("events") or settings.events_file
    lo, hi = pd.Timestamp(w.start), pd.Timestamp(w.end)
    try:
        cal = Calendar.build(path, settings.holiday_country, lo, hi)
    except (OSError, ValueError) as e:   # a moved events file must not break the page
        log.warning("events calendar %s not read: %s", path, e)
        cal = Calendar.build(None, settings.holiday_country, lo, hi)
    out: dict[tuple, None] = {}   # a holiday also in the calendar file is marked once
    for ev in cal.events:
        if ev.applies_to(series):
            out.update({(ev.name, a.to_pydatetime(), b.to_pydatetime()): None for a, b in ev.occurrences(lo, hi)})
    return list(out)


def route_latency(con, w: Window, series: str) -> go.Figure:
    """Latency p50 / p95 / p99 (request-weighted over each bucket)."""
    df = reports.traffic(con, w.start, w.end, series=series, bucket=bucket_for(w))
    df = df.dropna(subset=["latency_p50_ms"])
    if df.empty:
        raise NoData(f"no latency logged for {series.replace('route:', '')} in {w.label()} "
                     "(count-only sources carry none)")
    fig = figure("Latency", "ms", height=320)
    for col, name, color in (("latency_p50_ms", "p50", style.PALETTE[2]), ("latency_p95_ms", "p95", style.PALETTE[1]),
                             ("latency_p99_ms", "p99", style.PALETTE[5])):
        fig.add_trace(line(df["ts"], df[col], name, color=color, hover="%{y:,.0f} ms"))
    fig.update_yaxes(rangemode="tozero")
    return fig


def route_errors(con, w: Window, series: str) -> go.Figure:
    """Share of 4xx and 5xx responses per bucket."""
    df = reports.traffic(con, w.start, w.end, series=series, bucket=bucket_for(w))
    df = df[df["requests"] > 0]
    if df.empty:
        raise NoData(f"no requests for {series.replace('route:', '')} in {w.label()}")
    fig = figure("Error rates", "share of requests", height=320)
    fig.add_trace(line(df["ts"], df["status_4xx"] / df["requests"], "4xx", color=style.PALETTE[1], hover="%{y:.2%}"))
    fig.add_trace(line(df["ts"], df["status_5xx"] / df["requests"], "5xx", color=style.PALETTE[5], hover="%{y:.2%}"))
    fig.update_yaxes(tickformat=".1%", rangemode="tozero")
    return fig


def backtest_accuracy(con, w: Window, series: str, run_id: str | None = None) -> go.Figure:
    """Each candidate model's backtest error relative to the weekly seasonal naive (1.0 = as good),
    in the window's forecast run (or ``run_id``, e.g. a backtest run)."""
    run_id = run_id or w.run_id
    if not run_id:
        raise NoData("no forecast run yet, so no backtests")
    bt = reports.backtest_accuracy(con, run_id, series).dropna(subset=["rel_mae"])
    if bt.empty:
        raise NoData(f"no backtest for {series.replace('route:', '')} in run {run_id}")
    bt = bt.sort_values("rel_mae")
    colors = [style.PALETTE[2] if c else "#9aa5b1" for c in bt["chosen"]]
    fig = figure("Backtest: MAE ÷ weekly naive (lower is better)", height=300)
    fig.add_trace(go.Bar(x=bt["rel_mae"], y=bt["model"], orientation="h", marker_color=colors,
                         text=[f"{v:.2f}" + (" (chosen)" if c else "") for v, c in zip(bt["rel_mae"], bt["chosen"])],
                         textposition="auto",
                         customdata=list(zip(bt["coverage_80"], bt["coverage_95"], bt["folds"])),
                         hovertemplate="%{y}: relMAE %{x:.2f}<br>80% coverage %{customdata[0]:.0%}, "
                                       "95% coverage %{customdata[1]:.0%}<br>%{customdata[2]} folds<extra></extra>"))
    fig.add_vline(x=1.0, line=dict(color="#666", dash="dot"), annotation_text="weekly naive",
                  annotation_position="top")
    fig.update_layout(hovermode="closest", showlegend=False)
    fig.update_yaxes(automargin=True)
    return fig
