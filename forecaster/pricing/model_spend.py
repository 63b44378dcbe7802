"""Model spend: tokens priced per route, model and client, the month-end projection and token budgets.

Pure: :mod:`forecaster.pricing.model_store` loads the hourly token lines and passes them in.
The projection of the month is its actual lines up to ``as_of`` plus, for each key (route, model,
client...), its mean hourly tokens over the last ``days`` days run on to the month's end, one line
per key and day (kind ``run_rate``, flagged ``run_rate``), priced like the actuals.

Budgets (``settings.model_budgets``, USD per month): ``*`` (all model spend), ``api``,
``api|stage|route``, ``model:<model id>``, ``provider:<name>`` or ``client:<client>``. An alert
says when, on the projected path, the month's model spend crosses the line.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from .budget import BudgetAlert, check_budgets
from .models import KEY, TOKENS, ModelCatalog, price_tokens, summarize_models, unpriced_models
from .projection import month_bounds

FLAG_RUN_RATE = "run_rate"
FLAG_FORECAST = "forecast"
BY = ("route", "model", "client")


def run_rate_tokens(hourly: pd.DataFrame, as_of: dt.datetime, end: dt.datetime, days: int = 7) -> pd.DataFrame:
    """Per key and day of [as_of, end): the key's mean hourly tokens over the ``days`` before as_of x hours."""
    cols = ["ts", *KEY, *TOKENS]
    if not len(hourly) or end <= as_of:
        return pd.DataFrame(columns=cols)
    ts = pd.to_datetime(hourly["ts"])
    recent = hourly[(ts >= pd.Timestamp(as_of) - pd.Timedelta(days=days)) & (ts < pd.Timestamp(as_of))]
    if not len(recent):
        return pd.DataFrame(columns=cols)
    g = recent.groupby(KEY, sort=True)
    sums = g[TOKENS].sum()
    first = pd.to_datetime(g["ts"].min())
    hours = np.maximum((pd.Timestamp(as_of) - first).dt.total_seconds() / 3600, 1.0)
    rates = sums.div(hours, axis=0).reset_index()
    edges = [pd.Timestamp(as_of), *pd.date_range(pd.Timestamp(as_of).floor("D") + pd.Timedelta(days=1),
                                                  pd.Timestamp(end), freq="D", inclusive="left"), pd.Timestamp(end)]
    parts = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        part = rates[KEY].copy()
        part["ts"] = lo
        h = (hi - lo).total_seconds() / 3600
        for c in TOKENS:
            part[c] = (rates[c] * h).round().astype("int64")
        parts.append(part)
    return pd.concat(parts, ignore_index=True)[cols]


def _scale_first_day(rr: pd.DataFrame, first: pd.Series, fill_from: dt.datetime) -> pd.DataFrame:
    """Run-rate lines of the day the forecast ends in: only the hours after it count (re-priced pro rata)."""
    rr = rr.copy()
    day0 = pd.Timestamp(fill_from).floor("D")
    row_ts = pd.Timestamp(rr.loc[first, "ts"].iloc[0]) if first.any() else day0
    span_h = (day0 + pd.Timedelta(days=1) - row_ts).total_seconds() / 3600
    left = (day0 + pd.Timedelta(days=1) - pd.Timestamp(fill_from)).total_seconds() / 3600
    frac = left / span_h
    for c in (*TOKENS, "input_usd_micros", "output_usd_micros", "usd_micros"):
        vals = rr.loc[first, c]
        rr.loc[first, c] = vals.astype("Float64").mul(frac).round().astype("Int64") if c.endswith("micros") \
            else (vals * frac).round().astype("int64")
    rr.loc[first, "ts"] = pd.Timestamp(fill_from)
    return rr


def scope_rows(frame: pd.DataFrame, scope: str) -> pd.DataFrame:
    """The lines a model budget key covers."""
    if scope == "*":
        return frame
    for prefix in ("model", "provider", "client"):
        if scope.startswith(prefix + ":"):
            return frame[frame[prefix] == scope[len(prefix) + 1:]]
    parts = scope.split("|")
    if len(parts) == 1:
        return frame[frame["api"] == scope]
    if len(parts) >= 3:
        return frame[(frame["api"] == parts[0]) & (frame["stage"] == parts[1]) & (frame["route"] == "|".join(parts[2:]))]
    raise ValueError(f"model budget key {scope!r}: expected '*', 'api', 'api|stage|route', 'model:<id>', "
                     "'provider:<name>' or 'client:<client>'")


def check_model_budgets(projected: pd.DataFrame, budgets: dict[str, float], month: str) -> list[BudgetAlert]:
    """Alerts for every model budget the month's projected spend exceeds (unpriced lines count as zero, and are flagged)."""
    alerts = []
    frame = projected.assign(usd_micros=projected["usd_micros"].fillna(0).astype("int64")) if len(projected) \
        else projected
    for scope, budget in sorted(budgets.items()):
        rows = scope_rows(frame, scope) if len(frame) else frame
        for a in check_budgets(rows, {"*": budget}, month) if len(rows) else []:
            alerts.append(dataclasses.replace(a, scope=f"model spend {scope}"))
    return alerts


@dataclasses.dataclass
class ModelSpend:
    start: dt.datetime
    end: dt.datetime
    catalog: str
    history: pd.DataFrame
    as_of: dt.datetime | None = None
    projected: pd.DataFrame | None = None
    alerts: list[BudgetAlert] = dataclasses.field(default_factory=list)

    @property
    def unpriced(self) -> list[dict]:
        frames = [f for f in (self.history, self.projected) if f is not None and len(f)]
        return unpriced_models(pd.concat(frames, ignore_index=True)) if frames else []

    def to_dict(self) -> dict:
        h = self.history
        out: dict = {"from": self.start.isoformat(), "to": self.end.isoformat(), "catalog": self.catalog,
                     "total_usd": _usd(h), **{c: int(h[c].sum()) if len(h) else 0 for c in TOKENS},
                     **{f"by_{b}": summarize_models(h, b) for b in BY},
                     "unpriced_models": self.unpriced}
        out["all_priced"] = not out["unpriced_models"]
        if self.projected is not None and self.as_of is not None:
            p = self.projected
            out["projection"] = {"month": f"{self.as_of:%Y-%m}", "as_of": self.as_of.isoformat(),
                                 "total_usd": _usd(p), **{f"{k}_usd": _usd(p[p["kind"] == k]) for k in ("actual", "forecast", "run_rate")},
                                 **{f"by_{b}": summarize_models(p, b) for b in BY}}
            out["alerts"] = [a.to_dict() | {"message": a.message} for a in self.alerts]
        return out


def _usd(frame: pd.DataFrame) -> float:
    return int(frame["usd_micros"].fillna(0).sum()) / 1e6 if len(frame) else 0.0


def model_spend(hourly: pd.DataFrame, catalog: ModelCatalog, start: dt.datetime, end: dt.datetime,
                as_of: dt.datetime | None = None, budgets: dict[str, float] | None = None,
                project: bool = False, days: int = 7, forecast: pd.DataFrame | None = None) -> ModelSpend:
    """Priced tokens for [start, end); with ``project``, the as_of month's projection and budget alerts.

    ``hourly`` must hold the as_of month (and [start, end)); lines from as_of on are ignored.
    """
    ts: Any = pd.to_datetime(hourly["ts"]) if len(hourly) else pd.Series([], dtype="datetime64[ns]")
    stop = min(pd.Timestamp(end), pd.Timestamp(as_of)) if as_of is not None else pd.Timestamp(end)
    hist = hourly[(ts >= pd.Timestamp(start)) & (ts < stop)]
    report = ModelSpend(start, end, catalog.label, price_tokens(hist.reset_index(drop=True), catalog), as_of=as_of)
    if project and as_of is not None:
        m0, m1 = month_bounds(as_of - dt.timedelta(microseconds=1))
        actual = hourly[(ts >= pd.Timestamp(m0)) & (ts < pd.Timestamp(as_of))].reset_index(drop=True)
        fc = pd.DataFrame()
        fill_from = as_of
        if forecast is not None and len(forecast):   # token forecast lines (ts, KEY, TOKENS) for the first hours
            f_ts = pd.to_datetime(forecast["ts"])
            within = forecast[(f_ts >= pd.Timestamp(as_of)) & (f_ts < pd.Timestamp(m1))].reset_index(drop=True)
            if len(within):
                fc = price_tokens(within, catalog, "forecast")
                fc["flags"] = [",".join(x for x in (f, FLAG_FORECAST) if x) for f in fc["flags"]]
                fill_from = min(m1, pd.Timestamp(within["ts"].max()).to_pydatetime() + dt.timedelta(hours=1))
        rr = price_tokens(run_rate_tokens(hourly[ts < pd.Timestamp(as_of)], as_of, m1, days), catalog, "run_rate")
        if len(rr):
            rr = rr[pd.to_datetime(rr["ts"]) >= pd.Timestamp(fill_from).floor("D")] if fill_from > as_of else rr
            if fill_from > as_of:   # the run-rate's first day overlaps the forecast: keep its hours after it
                first = pd.to_datetime(rr["ts"]) < pd.Timestamp(fill_from)
                rr = _scale_first_day(rr, first, fill_from)
            rr["flags"] = [",".join(x for x in (f, FLAG_RUN_RATE) if x) for f in rr["flags"]]
        parts = [x for x in (price_tokens(actual, catalog), fc, rr) if len(x)]
        report.projected = pd.concat(parts, ignore_index=True) if parts else price_tokens(actual, catalog)
        report.alerts = check_model_budgets(report.projected, budgets or {}, f"{as_of - dt.timedelta(microseconds=1):%Y-%m}")
    return report


@dataclasses.dataclass(frozen=True)
class TokenSpike:
    route: str                  # api|stage|route
    start: dt.datetime          # the hour
    tokens: int                 # input + output tokens in the hour
    usual_tokens: float         # median tokens of the route's other hours at the same hour of day
    ratio: float
    usd: float                  # what the hour cost (priced lines only)
    unpriced: bool

    @property
    def message(self) -> str:
        return (f"{self.route}: {self.start:%a %Y-%m-%d %H:00} {self.tokens / 1e6:,.2f}M tokens, ${self.usd:,.2f}"
                f"{' + unpriced' if self.unpriced else ''}, {self.ratio:,.1f}x its usual {self.start:%H}:00")


def token_spikes(hourly: pd.DataFrame, catalog: ModelCatalog, min_ratio: float = 2.0, top: int = 5) -> list[TokenSpike]:
    """Hours whose tokens on a route are ``min_ratio`` times or more the route's median at that hour of
    day (over the other days with calls), largest first, each with its dollars."""
    if not len(hourly):
        return []
    priced = price_tokens(hourly.reset_index(drop=True), catalog)
    priced["route_key"] = priced["api"] + "|" + priced["stage"] + "|" + priced["route"]
    priced["tok"] = priced["input_tokens"] + priced["output_tokens"]
    per = priced.groupby(["route_key", "ts"]).agg(tok=("tok", "sum"), usd=("usd_micros", lambda s: int(s.fillna(0).sum())),
                                                  unpriced=("usd_micros", lambda s: bool(s.isna().any()))).reset_index()
    per["hod"] = pd.to_datetime(per["ts"]).dt.hour
    out = []
    for (route, _hod), g in per.groupby(["route_key", "hod"], sort=True):
        if len(g) < 3:
            continue
        for i, row in g.iterrows():
            usual = float(g.drop(index=i)["tok"].median())
            if usual > 0 and row["tok"] >= min_ratio * usual:
                out.append(TokenSpike(str(route), pd.Timestamp(row["ts"]).to_pydatetime(), int(row["tok"]), usual,
                                      float(row["tok"]) / usual, row["usd"] / 1e6, bool(row["unpriced"])))
    out.sort(key=lambda s: (-s.tokens, s.route, s.start))
    return out[:top]
