"""Carbon: grams of CO2e per route and per request, history and forecast (CCF methodology).

Pure core: ``coefficients`` (data), ``energy`` (kWh), ``intensity`` (grid gCO2e/kWh, static and
hourly), ``footprint`` (traffic -> gCO2e, SCI), ``whatif`` (region moves, time shifts),
``service`` (reports). I/O only in ``store``.
"""

from .coefficients import Coefficients, load_coefficients
from .footprint import carbon_traffic, sci_by_route
from .intensity import GridIntensity, load_grid
from .service import CarbonReport, carbon_report
from .whatif import Inputs, WhatIf, move_region, shift_to_clean_hours

__all__ = [
    "CarbonReport", "Coefficients", "GridIntensity", "Inputs", "WhatIf", "carbon_report", "carbon_traffic",
    "load_coefficients", "load_grid", "move_region", "sci_by_route", "shift_to_clean_hours",
]
