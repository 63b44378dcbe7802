"""The only I/O of carbon: load inputs (via the pricing store's readers) and write ``carbon``.

``carbon.kind``: ``actual`` (history) and ``forecast``; a run replaces the actual rows of its
window and all forecast rows.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

import pandas as pd

from ..config import Settings
from ..pricing.store import load_latest_forecasts, load_traffic, window_for
from ..store import carbon as carbon_table
from ..store.db import Connection, transaction, utcnow
from .coefficients import Coefficients, load_coefficients
from .intensity import GridIntensity, load_grid
from .service import CarbonReport, carbon_report

log = logging.getLogger(__name__)


def inputs_for(settings: Settings) -> tuple[Coefficients, GridIntensity]:
    c = load_coefficients(settings.carbon_coefficients_file)
    return c, load_grid(c.unknown_region_g_per_kwh, settings.grid_intensity_file)


def report_from_db(con: Connection, settings: Settings, start: dt.datetime | None = None,
                   end: dt.datetime | None = None, forecast: bool = False,
                   horizon_hours: int = 72, as_of: dt.datetime | None = None) -> CarbonReport:
    """Load what a carbon report needs and build it (no writes); ``as_of`` as in pricing."""
    cut = as_of
    start, end, as_of = window_for(con, start, end, cut)
    lo = min(start, as_of - dt.timedelta(days=8)) if forecast else start
    traffic = load_traffic(con, lo, max(end, as_of), cut)
    fc = load_latest_forecasts(con)[1] if forecast else None
    c, grid = inputs_for(settings)
    return carbon_report(traffic, c, grid, settings, start, end, forecasts=fc, as_of=as_of,
                         horizon_hours=horizon_hours, model_lines=model_lines_from_db(con, settings, c, grid, start, end))


def model_lines_from_db(con: Connection, settings: Settings, c: Coefficients, grid: GridIntensity,
                        start: dt.datetime, end: dt.datetime) -> pd.DataFrame | None:
    """The model calls' carbon lines per hour in [start, end) (None when no model-call log is loaded)."""
    from ..pricing.model_store import has_tokens, model_catalog_for
    from ..store import llm as store_llm
    from .models import load_model_energy, model_carbon

    if not has_tokens(con):
        return None
    tokens = store_llm.hourly(con, start, end)
    return model_carbon(tokens, model_catalog_for(settings), load_model_energy(settings.carbon_model_energy_file),
                        c, grid)


def write_report(con: Connection, report: CarbonReport) -> str:
    run_id = f"carbon-{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}"
    with transaction(con):
        carbon_table.delete_actual(con, report.start, report.end)
        _insert(con, report.history, run_id)
        if report.forecast is not None:
            carbon_table.delete_forecast(con)
            _insert(con, report.forecast, run_id)
    return run_id


def _insert(con: Connection, frame: pd.DataFrame, run_id: str) -> None:
    if frame is None or not len(frame):
        return
    df = frame.assign(run_id=run_id, ts=pd.to_datetime(frame["ts"]))
    for c in ("kwh", "g_co2e", "g_co2e_per_kwh", "requests"):
        df[c] = df[c].astype(float)
    carbon_table.insert(con, df)
