"""Pricing: every route in dollars, history and forecast.

Pure core: ``catalog`` (versioned price data), ``tiers`` (tiered prices, exact allocation),
``usage`` and ``lambda_`` (traffic -> billable usage), ``costs`` (usage -> dollars),
``projection`` and ``budget`` (month-end projection, budget alerts), ``service`` (reports).
I/O only in ``store``. Notebooks::

    from forecaster.pricing import load_catalog, cost_traffic
    costs = cost_traffic(traffic_frame, load_catalog(), settings)
"""

from .budget import BudgetAlert, check_budgets
from .catalog import Catalog, MissingPrice, Price, Tier, load_catalog
from .costs import Window, cost_traffic, price_usage
from .service import CostReport, cost_history, cost_projection, cost_report
from .tiers import allocate, tier_cost_usd, usd_to_micros

__all__ = [
    "BudgetAlert", "Catalog", "CostReport", "MissingPrice", "Price", "Tier", "Window", "allocate",
    "check_budgets", "cost_history", "cost_projection", "cost_report", "cost_traffic", "load_catalog",
    "price_usage", "tier_cost_usd", "usd_to_micros",
]
