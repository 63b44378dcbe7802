"""The carbon service: gCO2e per route and component, history and forecast, and SCI per request.

Pure, like the cost service: callers load traffic and forecasts (see :mod:`.store`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import pandas as pd

from ..config import Settings
from ..pricing.projection import forecast_traffic, route_ratios
from ..pricing.summary import summarize
from .coefficients import Coefficients
from .footprint import CARBON_COLUMNS, carbon_traffic, sci_by_route
from .intensity import GridIntensity


@dataclasses.dataclass
class CarbonReport:
    start: dt.datetime
    end: dt.datetime
    history: pd.DataFrame
    as_of: dt.datetime | None = None
    forecast: pd.DataFrame | None = None
    horizon_hours: int = 72
    models: pd.DataFrame | None = None      # model calls' lines (carbon.models.MODEL_COLUMNS), in history too

    def to_dict(self, by: str = "route") -> dict:
        out = {"from": self.start.isoformat(), "to": self.end.isoformat(),
               "total_g_co2e": _g(self.history), "rows": _rows(self.history, by),
               "sci": _sci(self.history)}
        if self.models is not None:
            from .models import summarize_model_carbon
            out["models"] = summarize_model_carbon(self.models)
            out["models_total_g_co2e"] = _g(self.models)
        if self.forecast is not None and self.as_of is not None:
            out["forecast"] = {"from": self.as_of.isoformat(),
                               "to": (self.as_of + dt.timedelta(hours=self.horizon_hours)).isoformat(),
                               "total_g_co2e": _g(self.forecast), "rows": _rows(self.forecast, by),
                               "sci": _sci(self.forecast)}
        return out


def _g(frame: pd.DataFrame) -> float:
    return float(frame["g_co2e"].sum()) if len(frame) else 0.0


def _rows(frame: pd.DataFrame, by: str) -> list[dict]:
    rows = summarize(frame, by, "g_co2e", "g_co2e", digits=None)
    if by == "route" and len(frame):
        sci: dict[str, Any] = {f"{r.api}|{r.stage}|{r.route}|{r.region}": r.sci_g_per_request
                               for r in sci_by_route(frame).itertuples()}
        for r in rows:
            v = sci.get(r["key"])
            r["g_co2e_per_request"] = None if v is None or pd.isna(v) else float(v)
    return rows


def _sci(frame: pd.DataFrame) -> list[dict]:
    s = sci_by_route(frame)
    return [{"key": f"{r['api']}|{r['stage']}|{r['route']}|{r['region']}", "requests": float(r["requests"]),
             "kwh": float(r["kwh"]), "operational_g": float(r["operational_g"]), "embodied_g": float(r["embodied_g"]),
             "sci_g_per_request": None if pd.isna(r["sci_g_per_request"]) else float(r["sci_g_per_request"])}
            for r in s.to_dict("records")]


def carbon_report(traffic: pd.DataFrame, coefficients: Coefficients, grid: GridIntensity, settings: Settings,
                  start: dt.datetime, end: dt.datetime, forecasts: pd.DataFrame | None = None,
                  as_of: dt.datetime | None = None, horizon_hours: int = 72,
                  model_lines: pd.DataFrame | None = None) -> CarbonReport:
    """History in [start, end) and, given forecasts, the next ``horizon_hours`` after ``as_of``.

    ``model_lines`` (:func:`.models.model_carbon` of the model calls): their lines in [start, end) join
    the history as component ``model_inference`` (so a route's gCO2e and SCI per request cover its
    model calls) and are reported per route and model."""
    ts: pd.Series = pd.to_datetime(traffic["ts"]) if len(traffic) else pd.Series([], dtype="datetime64[ns]")
    window = traffic[(ts >= start) & (ts < end)] if len(traffic) else traffic
    history = carbon_traffic(window, coefficients, grid, settings) if len(window) else \
        pd.DataFrame(columns=CARBON_COLUMNS)
    models = None
    if model_lines is not None:
        mts = pd.to_datetime(model_lines["ts"])
        models = model_lines[(mts >= start) & (mts < end)].reset_index(drop=True)
        if len(models):
            history = pd.concat([history, models[CARBON_COLUMNS]], ignore_index=True) if len(history) else \
                models[CARBON_COLUMNS].reset_index(drop=True)
    report = CarbonReport(start, end, history, as_of=as_of, horizon_hours=horizon_hours, models=models)
    if forecasts is not None and as_of is not None:
        fc = forecast_traffic(forecasts, route_ratios(traffic, as_of), as_of,
                              as_of + dt.timedelta(hours=horizon_hours))
        report.forecast = carbon_traffic(fc, coefficients, grid, settings) if len(fc) else \
            pd.DataFrame(columns=CARBON_COLUMNS)
    return report
