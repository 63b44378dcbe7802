"""What every figure builder shares: the time window, 'no data' as an error, and traces."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from ..errors import BadInput, NotFound
from ..store import reports
from . import style


class NoData(NotFound):
    """A figure has nothing to show; the message says what is missing and how to get it."""

    code = "no_data"


@dataclasses.dataclass(frozen=True)
class Window:
    """The time range a page or figure shows: [start, end), around the forecast's 'now' (as_of)."""

    start: dt.datetime
    end: dt.datetime
    as_of: dt.datetime
    run_id: str | None

    def label(self) -> str:
        return f"{self.start:%Y-%m-%d %H:%M} – {self.end:%Y-%m-%d %H:%M} UTC"


def window(con, start: dt.datetime | None = None, end: dt.datetime | None = None,
           days_back: float = 7, hours_ahead: float = 72) -> Window:
    """Default window: ``days_back`` before the latest forecast's as-of to ``hours_ahead`` after it
    (without a forecast: the last ``days_back`` of traffic). An empty range is a :class:`BadInput`."""
    run = reports.latest_forecast_run(con)
    as_of: dt.datetime | None
    if run is not None:
        as_of = pd.Timestamp(run["as_of"]).to_pydatetime()
    else:
        _, last = reports.traffic_span(con)
        as_of = (last + dt.timedelta(minutes=1)) if last is not None else None
    if as_of is None:
        if start is None or end is None:
            raise NoData("no traffic and no forecast in this database yet: run `forecaster ingest` "
                         "and `forecaster forecast` (or `./run demo`)")
        as_of = end
    start = start or as_of - dt.timedelta(days=days_back)
    end = end or as_of + dt.timedelta(hours=hours_ahead)
    if start >= end:
        raise BadInput(f"empty time range: start {start:%Y-%m-%d %H:%M} is not before end {end:%Y-%m-%d %H:%M}")
    return Window(start, end, as_of, run["run_id"] if run else None)


def bucket_for(w: Window) -> str:
    """Bucket width that keeps a trace near a thousand points or fewer before downsampling."""
    span_h = (w.end - w.start).total_seconds() / 3600
    if span_h <= 12:
        return "1 minute"
    if span_h <= 72:
        return "5 minutes"
    return "1 hour"


def figure(title: str, yaxis: str = "", height: int = 380) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(template=style.template(), title=title, height=height, yaxis_title=yaxis,
                      hovermode="x unified", margin=dict(b=90))
    return fig


def line(x, y, name: str, color: str | None = None, dash: str | None = None, width: float = 1.8,
         hover: str = "%{y:,.0f}", showlegend: bool = True) -> go.Scatter:
    """A line trace downsampled (min-max + LTTB) to at most ``style.MAX_POINTS`` points."""
    x = pd.to_datetime(pd.Series(x)).to_numpy() if len(x) and not isinstance(x, np.ndarray) else np.asarray(x)
    y = np.asarray(y, dtype="float64")
    if len(y) > style.MAX_POINTS:
        keep = style.minmax_lttb(x.astype("datetime64[ns]").astype("int64") if x.dtype.kind == "M" else x, y)
        x, y = x[keep], y[keep]
    return go.Scatter(x=x, y=y, name=name, mode="lines", showlegend=showlegend,
                      line=dict(color=color, dash=dash, width=width), hovertemplate=hover + f"<extra>{name}</extra>")


def bands(fig: go.Figure, fc: pd.DataFrame, name: str = "forecast", scale: float = 1.0,
          color: str = style.FORECAST) -> None:
    """95% and 80% bands and the forecast line (the bands are filled between their bounds)."""
    x = fc["ds"]
    for level, fill in (("95", style.BAND_95), ("80", style.BAND_80)):
        lo, hi = fc[f"yhat_lo_{level}"] * scale, fc[f"yhat_hi_{level}"] * scale
        fig.add_trace(go.Scatter(x=x, y=hi, mode="lines", line=dict(width=0), showlegend=False,
                                 hoverinfo="skip", name=f"{level}% upper"))
        fig.add_trace(go.Scatter(x=x, y=lo, mode="lines", line=dict(width=0), fill="tonexty", fillcolor=fill,
                                 name=f"{level}% interval", hovertemplate="%{y:,.0f}" + f"<extra>{level}% low</extra>"))
    fig.add_trace(line(x, fc["yhat"] * scale, name, color=color, dash="dash", width=2))


def now_marker(fig: go.Figure, as_of: dt.datetime) -> None:
    fig.add_vline(x=as_of, line=dict(color="#888", width=1, dash="dot"))
    fig.add_annotation(x=as_of, y=1, yref="paper", text="now", showarrow=False, yanchor="bottom",
                       font=dict(color="#666", size=11))
