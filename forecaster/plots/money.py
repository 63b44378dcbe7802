"""Cost and carbon figures: where the dollars and grams go, the budget burn, intensity by hour."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from ..config import Settings
from ..store import reports
from . import style
from .common import NoData, figure

ACTUAL = ["projection:actual"]
PROJECTED = ["projection:forecast", "projection:run_rate"]
DIM_TITLES = {"route": "route", "api": "API", "region": "region", "component": "component"}


def _label(key) -> str:
    return str(key).replace("route:", "") if key is not None else "(none)"


def _month_costs(con, by: str) -> tuple[pd.DataFrame, bool]:
    """Dollars by ``by``: month to date and the rest of the month as projected (when priced)."""
    mtd = reports.costs(con, ACTUAL, by)
    projected = True
    if mtd.empty:   # priced without a forecast: the actual rows are the month so far
        mtd, projected = reports.costs(con, ["actual"], by), False
    if mtd.empty:
        raise NoData("no costs priced yet: run `forecaster costs --forecast` (or `./run demo`)")
    rest = reports.costs(con, PROJECTED, by) if projected else pd.DataFrame(columns=["key", "usd"])
    out = mtd.rename(columns={"usd": "mtd"}).merge(rest.rename(columns={"usd": "rest"}), on="key", how="outer")
    out = out.fillna({"mtd": 0.0, "rest": 0.0})
    out["total"] = out["mtd"] + out["rest"]
    return out.sort_values("total", ascending=False), projected


def costs_by(con, by: str = "route", top: int = 12) -> go.Figure:
    """Dollars this month by route, api, region or component: month to date plus projected rest."""
    df, projected = _month_costs(con, by)
    df = df.head(top).iloc[::-1]
    labels = [_label(k) for k in df["key"]]
    fig = figure(f"Cost by {DIM_TITLES.get(by, by)} this month" + (" (month to date + projected)" if projected else ""),
                 height=max(280, 70 + 28 * len(df)))
    fig.add_trace(go.Bar(y=labels, x=df["mtd"], orientation="h", name="month to date", marker_color=style.PALETTE[0],
                         hovertemplate="%{y}: $%{x:,.2f}<extra>month to date</extra>"))
    if projected:
        fig.add_trace(go.Bar(y=labels, x=df["rest"], orientation="h", name="projected rest of month",
                             marker_color=style.PALETTE[4],
                             text=[style.usd(t) for t in df["total"]], textposition="outside",
                             hovertemplate="%{y}: $%{x:,.2f}<extra>projected rest of month</extra>"))
    fig.update_layout(barmode="stack", hovermode="closest", margin=dict(r=80))
    fig.update_traces(cliponaxis=False)
    fig.update_xaxes(tickprefix="$", tickformat="~s")
    fig.update_yaxes(automargin=True)
    return fig


def carbon_by(con, by: str = "route", top: int = 12) -> go.Figure:
    """Grams CO2e by route, api, region or component: recorded so far and the forecast ahead."""
    act = reports.carbon(con, ["actual"], by)
    if act.empty:
        raise NoData("no carbon figures yet: run `forecaster carbon --forecast` (or `./run demo`)")
    fc = reports.carbon(con, ["forecast"], by)
    df = act.rename(columns={"g_co2e": "actual"}).merge(fc.rename(columns={"g_co2e": "ahead"}), on="key", how="outer")
    df = df.fillna({"actual": 0.0, "ahead": 0.0})
    df["total"] = df["actual"] + df["ahead"]
    df = df.sort_values("total", ascending=False).head(top).iloc[::-1]
    kg = df["total"].max() >= 1000
    scale, unit = (1e-3, "kg") if kg else (1.0, "g")
    labels = [_label(k) for k in df["key"]]
    fig = figure(f"Carbon by {DIM_TITLES.get(by, by)} ({unit} CO2e: recorded + forecast ahead)",
                 height=max(280, 70 + 28 * len(df)))
    fig.add_trace(go.Bar(y=labels, x=df["actual"] * scale, orientation="h", name="recorded",
                         marker_color=style.PALETTE[2], hovertemplate="%{y}: %{x:,.2f} " + unit + "<extra>recorded</extra>"))
    if df["ahead"].sum() > 0:
        fig.add_trace(go.Bar(y=labels, x=df["ahead"] * scale, orientation="h", name="forecast ahead",
                             marker_color=style.PALETTE[4], text=[style.grams(t) for t in df["total"]],
                             textposition="outside",
                             hovertemplate="%{y}: %{x:,.2f} " + unit + "<extra>forecast ahead</extra>"))
    fig.update_layout(barmode="stack", hovermode="closest", margin=dict(r=80))
    fig.update_traces(cliponaxis=False)
    fig.update_xaxes(tickformat="~s", title=f"{unit} CO2e")
    fig.update_yaxes(automargin=True)
    return fig


def top_routes(con, measure: str = "usd", top: int = 10) -> go.Figure:
    """The routes that cost the most dollars (``usd``) or grams CO2e (``g_co2e``) this month."""
    if measure == "usd":
        return costs_by(con, "route", top)
    if measure == "g_co2e":
        return carbon_by(con, "route", top)
    raise ValueError(f"measure must be 'usd' or 'g_co2e', not {measure!r}")


def budget_burn(con, settings: Settings) -> go.Figure:
    """Cumulative dollars this month: recorded, then the projection to month end, against the
    account budget (``budgets['*']``) when one is set."""
    daily = reports.cost_kinds_daily(con)
    daily = daily[daily["kind"].isin(ACTUAL + PROJECTED)]
    if daily.empty:
        raise NoData("no month-end projection yet: run `forecaster costs --forecast` after a forecast")
    per_day = daily.pivot_table(index="day", columns="kind", values="usd", aggfunc="sum").fillna(0.0).sort_index()
    for k in ACTUAL + PROJECTED:
        if k not in per_day:
            per_day[k] = 0.0
    cum = per_day[ACTUAL + PROJECTED].sum(axis=1).cumsum()
    recorded_days = per_day.index[per_day["projection:actual"] > 0]
    last_actual = recorded_days.max() if len(recorded_days) else per_day.index.min()
    fig = figure("Budget burn this month (cumulative $)", height=340)
    fig.add_trace(go.Scatter(x=cum.index[cum.index <= last_actual], y=cum[cum.index <= last_actual], mode="lines+markers",
                             name="recorded", line=dict(color=style.ACTUAL, width=2),
                             hovertemplate="$%{y:,.2f}<extra>recorded</extra>"))
    ahead = cum[cum.index >= last_actual]
    if len(ahead) > 1:
        fig.add_trace(go.Scatter(x=ahead.index, y=ahead, mode="lines", name="projected",
                                 line=dict(color=style.FORECAST, width=2, dash="dash"),
                                 hovertemplate="$%{y:,.2f}<extra>projected</extra>"))
    fig.add_annotation(x=cum.index[-1], y=cum.iloc[-1], text=f"month end {style.usd(cum.iloc[-1])}",
                       showarrow=True, arrowhead=0, ax=-40, ay=-30)
    budget = budgets(con, settings).get("*")
    if budget:
        fig.add_hline(y=budget, line=dict(color=style.ALERT, dash="dot"),
                      annotation_text=f"budget {style.usd(budget)}", annotation_position="top left")
    fig.update_yaxes(tickprefix="$", tickformat="~s", rangemode="tozero")
    return fig


def budgets(con, settings: Settings) -> dict[str, float]:
    """Monthly budgets in USD by scope: the settings', plus those the latest pricing run alerted on."""
    run = reports.latest_run(con, "costs")
    out = {a["scope"]: float(a["budget_usd"]) for a in (run or {}).get("summary", {}).get("alerts", [])
           if a.get("budget_usd")}
    out.update(settings.budgets)
    return out


def carbon_intensity(con) -> go.Figure:
    """gCO2e per request by region and hour of day (UTC): when and where a request is cleanest."""
    df = reports.carbon_intensity(con)
    df = df.dropna(subset=["g_per_request"])
    if df.empty:
        raise NoData("no carbon figures with request counts yet: run `forecaster carbon`")
    grid = df.pivot_table(index="region", columns="hour", values="g_per_request").sort_index()
    mg = grid * 1000
    fig = figure("mg CO2e per request by region and hour of day (UTC)", height=max(240, 90 + 40 * len(grid)))
    fig.add_trace(go.Heatmap(z=mg.values, x=[f"{h:02d}:00" for h in mg.columns], y=list(mg.index),
                             colorscale=style.SEQUENTIAL, colorbar=dict(title="mg/req"),
                             hovertemplate="%{y} %{x}: %{z:.3f} mg CO2e per request<extra></extra>"))
    fig.update_layout(hovermode="closest")
    fig.update_yaxes(automargin=True)
    return fig
