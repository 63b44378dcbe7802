"""Token forecasts in dollars: forecast tokens split by each key's recent mix and priced; spikes with their cost.

A token series (``tokens:api|stage|route|provider|model``) forecasts input + output tokens per hour.
To price it, each hour's tokens are shared out over the key's regions, clients and tiers and split
into input, output and cached-input tokens in the proportions of its last ``days`` days (its whole
history when those are empty), then priced like actual tokens (kind ``forecast``).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd

from ..forecast.tokens import SERIES_KEY, TokenForecast, series_id
from .models import KEY, TOKENS, ModelCatalog, price_tokens

SUB = [k for k in KEY if k not in SERIES_KEY]   # region, client, tier


def _mix(hourly: pd.DataFrame, as_of: dt.datetime, days: int) -> pd.DataFrame:
    ts = pd.to_datetime(hourly["ts"])
    recent = hourly[(ts >= pd.Timestamp(as_of) - pd.Timedelta(days=days)) & (ts < pd.Timestamp(as_of))]
    if not len(recent):
        recent = hourly[ts < pd.Timestamp(as_of)]
    m = recent.groupby(KEY, sort=True)[TOKENS].sum().reset_index()
    m["tok"] = m["input_tokens"] + m["output_tokens"]
    m = m[m["tok"] > 0]
    m["share"] = m["tok"] / m.groupby(SERIES_KEY)["tok"].transform("sum")
    return m


def forecast_lines(fc: pd.DataFrame, hourly: pd.DataFrame, as_of: dt.datetime, level: str = "yhat",
                   days: int = 7) -> pd.DataFrame:
    """Forecast rows (SERIES_KEY, ds, ``level``) -> token lines (ts, KEY, TOKENS) by each key's recent mix."""
    cols = ["ts", *KEY, *TOKENS]
    if not len(fc) or not len(hourly):
        return pd.DataFrame(columns=cols)
    m = _mix(hourly, as_of, days)
    j = fc[[*SERIES_KEY, "ds", level]].merge(m, on=SERIES_KEY, how="inner")
    tok = j[level].astype(float) * j["share"]
    out = j[[*KEY]].copy()
    out.insert(0, "ts", pd.to_datetime(j["ds"]))
    for c in TOKENS:
        out[c] = np.round(tok * j[c] / j["tok"]).astype("int64")
    return out[cols]


@dataclasses.dataclass(frozen=True)
class SpikeCost:
    series: str
    start: dt.datetime
    peak_tokens: float        # tokens in the peak hour (forecast)
    usual_tokens: float       # the expected level at that hour
    ratio: float
    usd_peak_hour: float      # the peak hour's tokens at the series' recent dollars per token
    usd_spike: float          # every forecast hour of the spike, priced the same way

    @property
    def message(self) -> str:
        return (f"{self.series[len('tokens:'):]}: {self.start:%a %Y-%m-%d %H:00} {self.peak_tokens / 1e6:,.2f}M tokens "
                f"at the peak hour, ${self.usd_peak_hour:,.2f} (spike ${self.usd_spike:,.2f}), {self.ratio:,.1f}x usual")


def usd_per_token(hourly: pd.DataFrame, catalog: ModelCatalog, as_of: dt.datetime, days: int = 7) -> dict[str, float]:
    """Series id -> recent dollars per (input + output) token (priced lines only)."""
    ts = pd.to_datetime(hourly["ts"])
    recent = hourly[(ts >= pd.Timestamp(as_of) - pd.Timedelta(days=days)) & (ts < pd.Timestamp(as_of))]
    p = price_tokens((recent if len(recent) else hourly[ts < pd.Timestamp(as_of)]).reset_index(drop=True), catalog)
    p = p[p["usd_micros"].notna()]
    out = {}
    for key, g in p.groupby(SERIES_KEY, sort=True):
        tok = int((g["input_tokens"] + g["output_tokens"]).sum())
        if tok:
            out[series_id(dict(zip(SERIES_KEY, key)))] = int(g["usd_micros"].sum()) / 1e6 / tok
    return out


def spike_costs(tf: TokenForecast, hourly: pd.DataFrame, catalog: ModelCatalog) -> list[SpikeCost]:
    """The forecast's token spikes, each with its dollars (largest first)."""
    rate = usd_per_token(hourly, catalog, tf.as_of)
    fc = tf.forecast
    out = []
    for s in tf.spikes:
        per = rate.get(s.series, 0.0)
        g = fc[(fc["series"] == s.series) & (pd.to_datetime(fc["ds"]) >= s.start_ts) & (pd.to_datetime(fc["ds"]) < s.end_ts)]
        out.append(SpikeCost(s.series, pd.Timestamp(s.start_ts).to_pydatetime(), float(s.peak), float(s.baseline),
                             float(s.ratio), s.peak * per, float(g["yhat"].sum()) * per))
    out.sort(key=lambda x: (-x.usd_spike, x.series))
    return out
