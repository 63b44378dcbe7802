"""Replay figures: static vs predictive throttling on recorded traffic (``forecaster.decide.replay``)."""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..config import Settings
from ..errors import BadInput
from . import style
from .common import NoData, figure, line

if TYPE_CHECKING:
    from ..decide.replay import Traffic

POLICIES = ("static", "daily_peak", "reactive", "predictive")
COLORS = {"static": style.PALETTE[1], "daily_peak": style.PALETTE[3], "reactive": style.PALETTE[4],
          "predictive": style.PALETTE[5]}


@dataclasses.dataclass
class Replay:
    """One replay: the summary per policy, the traffic replayed and each policy's limit per step."""

    result: dict
    traffic: "Traffic"
    limits: dict[str, np.ndarray]

    def table(self) -> pd.DataFrame:
        """Per policy: requests, throttled (count and share), capacity ratio, minutes over capacity."""
        cols = ["policy", "requests", "throttled", "throttled_share", "capacity_ratio", "overload_minutes",
                "mean_limit_rps", "max_limit_rps"]
        return pd.DataFrame(self.result["policies"])[cols]


def run_replay(con, settings: Settings, series: str, start: dt.datetime | None = None, end: dt.datetime | None = None,
               policies: tuple[str, ...] = POLICIES, every: str = "1h") -> Replay:
    """Replay ``series`` over [start, end) (default: the last 7 days of data) under ``policies``,
    deciding every ``every``; the predictive policy re-forecasts from data before each decision only."""
    from ..decide.replay import load_traffic, replay

    try:
        tr = load_traffic(con, series, pd.Timestamp(start) if start else None, pd.Timestamp(end) if end else None)
    except BadInput as e:
        raise NoData(f"cannot replay {series.replace('route:', '')}: {e}") from e
    limits: dict[str, np.ndarray] = {}
    out = replay(tr, settings, list(policies), every_s=pd.Timedelta(every).total_seconds(), limits=limits)
    return Replay(out, tr, limits)


def replay_limits(rp: Replay) -> go.Figure:
    """Each policy's limit against the recorded rate (requests per second per step, and the busiest
    second where the logs give it)."""
    tr = rp.traffic
    ts = pd.DatetimeIndex(tr.ts[tr.start:])
    rate = np.asarray(tr.requests[tr.start:], dtype="float64") / tr.step_s
    fig = figure(f"Replay: limits vs traffic — {rp.result['series'].replace('route:', '')}", "requests / second", 400)
    fig.add_trace(line(ts, rate, "recorded rate", color=style.ACTUAL, width=1.2, hover="%{y:,.1f} rps"))
    peak = np.asarray(tr.peak[tr.start:], dtype="float64")
    if np.isfinite(peak).any():
        fig.add_trace(line(ts, peak, "busiest second", color="#999999", width=1, hover="%{y:,.0f} rps"))
    for name, lim in rp.limits.items():
        fig.add_trace(line(ts, lim, f"{name} limit", color=COLORS.get(name), width=2,
                           dash="dash" if name != "predictive" else None, hover="%{y:,.1f} rps"))
    fig.update_yaxes(tickformat="~s", rangemode="tozero")
    return fig
