"""Decision figures: the throttle limits in force against the traffic they govern."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from ..store import reports
from . import style
from .common import NoData, Window, figure, line, now_marker


def throttle_targets(con) -> list[str]:
    """Targets with throttle recommendations, the most recommended first."""
    rec = reports.recommendations(con)
    rec = rec[rec["kind"] == "throttle"]
    return list(rec["target"].value_counts().index)


def limits_vs_traffic(con, w: Window, target: str | None = None) -> go.Figure:
    """A throttle target's recommended rate limit (steps, one per validity window) against its
    traffic: the busiest minute's rate recorded, and the forecast's mean rate and 95% upper bound."""
    rec = reports.recommendations(con)
    rec = rec[rec["kind"] == "throttle"]
    if rec.empty:
        raise NoData("no throttle recommendations yet: run `forecaster decide`")
    target = target or throttle_targets(con)[0]
    rec = rec[rec["target"] == target].sort_values("valid_from")
    if rec.empty:
        raise NoData(f"no throttle recommendation for {target}")
    p = rec["params"].iloc[0]
    api, stage, route = p.get("api"), p.get("stage"), p.get("route")
    fig = figure(f"Throttle limit vs traffic — {target}", "requests / second", height=380)
    act = reports.target_rps(con, api, stage, route, w.start, w.end)
    if len(act):
        fig.add_trace(line(act["ts"], act["peak_minute_rps"], "busiest minute (recorded)", color=style.ACTUAL,
                           hover="%{y:,.1f} rps"))
    if w.run_id:
        prefix = "route:" + "|".join(x for x in (api, stage, route) if x is not None) + "|"
        fc = reports.forecast(con, w.run_id, prefix=prefix)
        if len(fc):
            agg = fc.groupby("ds")[["yhat", "yhat_hi_95"]].sum().reset_index()
            fig.add_trace(line(agg["ds"], agg["yhat"] / 3600, "forecast mean", color=style.FORECAST, dash="dash",
                               hover="%{y:,.1f} rps"))
            fig.add_trace(line(agg["ds"], agg["yhat_hi_95"] / 3600, "forecast 95% upper", color=style.PALETTE[4],
                               dash="dot", hover="%{y:,.1f} rps"))
    xs, ys = [], []
    for params, valid_from, valid_to in zip(rec["params"], rec["valid_from"], rec["valid_to"]):
        rate = params.get("rate_limit_rps")
        if rate is None or pd.isna(valid_from):
            continue
        end = valid_to if not pd.isna(valid_to) else w.end
        xs += [valid_from, end, None]
        ys += [rate, rate, None]
    if not xs and act.empty:
        raise NoData(f"no limits with validity windows and no traffic for {target}")
    fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="rate limit", line=dict(color=style.ALERT, width=3),
                             hovertemplate="%{y:,.0f} rps<extra>rate limit</extra>", connectgaps=False))
    now_marker(fig, w.as_of)
    fig.update_yaxes(tickformat="~s", rangemode="tozero")
    return fig
