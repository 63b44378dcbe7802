"""The cost service: history, the next 72 hours, and the month-end projection, from frames.

Pure: callers (CLI, API, notebooks, scheduler) load ``traffic`` (hourly, whole months) and
``forecasts`` with :mod:`forecaster.pricing.store` and pass them in. Every priced month is
priced whole, so numbers for any window inside it are the exact share of that month's bill.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pandas as pd

from ..config import Settings
from .budget import BudgetAlert, check_budgets
from .catalog import Catalog
from .costs import COST_COLUMNS, Window, cost_traffic
from .projection import forecast_traffic, month_bounds, route_ratios, run_rate_traffic
from .summary import summarize
from .tiers import MICROS_PER_USD

DEFAULT_HORIZON_HOURS = 72


@dataclasses.dataclass
class CostReport:
    start: dt.datetime
    end: dt.datetime
    history: pd.DataFrame                       # priced lines in [start, end), kind=actual
    as_of: dt.datetime | None = None            # end of the actuals
    forecast: pd.DataFrame | None = None        # priced lines in [as_of, as_of + horizon), kind=forecast
    projected: pd.DataFrame | None = None       # the as_of month, all kinds (actual + forecast + run_rate)
    alerts: list[BudgetAlert] = dataclasses.field(default_factory=list)
    horizon_hours: int = DEFAULT_HORIZON_HOURS

    def to_dict(self, by: str = "route") -> dict:
        out = {"from": self.start.isoformat(), "to": self.end.isoformat(),
               "total_usd": _usd(self.history), "rows": summarize(self.history, by, "usd_micros", "usd", 1e-6)}
        as_of = self.as_of   # set whenever there is a forecast or a projection
        if self.forecast is not None and as_of is not None:
            horizon_end = as_of + dt.timedelta(hours=self.horizon_hours)
            out["forecast"] = {"from": as_of.isoformat(), "to": horizon_end.isoformat(),
                               "total_usd": _usd(self.forecast),
                               "rows": summarize(self.forecast, by, "usd_micros", "usd", 1e-6)}
        if self.projected is not None and as_of is not None:
            p = self.projected
            out["projection"] = {
                "month": f"{as_of:%Y-%m}", "as_of": as_of.isoformat(), "total_usd": _usd(p),
                **{f"{k}_usd": _usd(p[p["kind"] == k]) for k in ("actual", "forecast", "run_rate")},
                "rows": summarize(p, by, "usd_micros", "usd", 1e-6)}
            out["alerts"] = [a.to_dict() | {"message": a.message} for a in self.alerts]
        return out


def _usd(frame: pd.DataFrame) -> float:
    return int(frame["usd_micros"].sum()) / MICROS_PER_USD if len(frame) else 0.0


def actuals_end(traffic: pd.DataFrame) -> dt.datetime | None:
    """End of the actuals: the last minute bucket's end."""
    if not len(traffic):
        return None
    return (pd.Timestamp(traffic["ts"].max()) + pd.Timedelta(minutes=1)).to_pydatetime()


def cost_history(traffic: pd.DataFrame, catalog: Catalog, settings: Settings, start: dt.datetime,
                 end: dt.datetime, as_of: dt.datetime | None = None) -> pd.DataFrame:
    """Priced actual lines in [start, end); ``traffic`` must hold the whole months it touches.

    Fixed charges (cache, provisioned concurrency) run from the first traffic hour to ``as_of``.
    """
    if not len(traffic):
        return pd.DataFrame(columns=COST_COLUMNS)
    first = pd.Timestamp(traffic["ts"].min()).floor("h").to_pydatetime()
    until = as_of or actuals_end(traffic)
    assert until is not None  # traffic is not empty
    priced = cost_traffic(traffic, catalog, settings, Window(first, until))
    ts = pd.to_datetime(priced["ts"])
    return priced[(ts >= start) & (ts < end)].reset_index(drop=True)


def cost_projection(traffic: pd.DataFrame, forecasts: pd.DataFrame, catalog: Catalog, settings: Settings,
                    as_of: dt.datetime, horizon_hours: int = DEFAULT_HORIZON_HOURS
                    ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(forecast lines for the next ``horizon_hours``, the as_of month's projected lines).

    Each month the horizon touches is priced whole: its actuals + forecast + run-rate to month end.
    """
    horizon_end = as_of + dt.timedelta(hours=horizon_hours)
    ratios = route_ratios(traffic, as_of)
    fc_all, projected = [], None
    m0, m1 = month_bounds(as_of)
    while m0 < horizon_end:
        ts: pd.Series = pd.to_datetime(traffic["ts"]) if len(traffic) else pd.Series([], dtype="datetime64[ns]")
        actual = traffic[(ts >= m0) & (ts < m1)]
        fc = forecast_traffic(forecasts, ratios, max(as_of, m0), min(horizon_end, m1))
        # run-rate from where this month's forecast stops (or from as_of when there is none)
        fill_from = min(m1, pd.Timestamp(fc["ts"].max()).to_pydatetime() + dt.timedelta(hours=1)) if len(fc) \
            else max(as_of, m0)
        rr = run_rate_traffic(ratios, max(fill_from, m0), m1)
        frame = pd.concat([x for x in (actual, fc, rr) if len(x)], ignore_index=True) if (
            len(actual) or len(fc) or len(rr)) else actual
        first = pd.Timestamp(actual["ts"].min()).floor("h").to_pydatetime() if len(actual) else max(as_of, m0)
        priced = cost_traffic(frame, catalog, settings, Window(first, m1)) if len(frame) else \
            pd.DataFrame(columns=COST_COLUMNS)
        if projected is None:
            projected = priced
        fc_all.append(priced[priced["kind"] == "forecast"])
        m0, m1 = month_bounds(m1)
    forecast = pd.concat(fc_all, ignore_index=True) if fc_all else pd.DataFrame(columns=COST_COLUMNS)
    return forecast, projected if projected is not None else pd.DataFrame(columns=COST_COLUMNS)


def cost_report(traffic: pd.DataFrame, catalog: Catalog, settings: Settings, start: dt.datetime, end: dt.datetime,
                forecasts: pd.DataFrame | None = None, horizon_hours: int = DEFAULT_HORIZON_HOURS,
                as_of: dt.datetime | None = None) -> CostReport:
    """History for [start, end), plus (when ``forecasts`` is given) forecast, projection and alerts.

    ``as_of`` is the end of the actuals (default: the last bucket of ``traffic`` + 1 minute).
    """
    as_of = as_of or actuals_end(traffic)
    report = CostReport(start, end, cost_history(traffic, catalog, settings, start, end, as_of),
                        as_of=as_of, horizon_hours=horizon_hours)
    if forecasts is not None and report.as_of is not None:
        report.forecast, report.projected = cost_projection(traffic, forecasts, catalog, settings,
                                                            report.as_of, horizon_hours)
        report.alerts = check_budgets(report.projected, settings.budgets, f"{report.as_of:%Y-%m}")
    return report
