"""Plotly figure builders shared by the dashboards and the notebooks.

Each builder reads what it shows through the store's read repository (``forecaster.store.reports``)
and returns a ``plotly.graph_objects.Figure``; when there is nothing to show it raises
:class:`NoData` with a message that says what is missing (pages print it instead of a chart).
Pick the time range with :func:`window` (default: a week back and 72 hours ahead of the latest
forecast's 'now').
"""

from .common import NoData, Window, window
from .decisions import limits_vs_traffic, throttle_targets
from .replay import Replay, replay_limits, run_replay
from .money import budget_burn, budgets, carbon_by, carbon_intensity, costs_by, top_routes
from .traffic import (backtest_accuracy, calendar_events, route_errors, route_forecast, route_latency,
                      seasonality, spike_timeline, traffic_by, traffic_by_api, traffic_total)

__all__ = [
    "NoData", "Window", "window",
    "traffic_total", "traffic_by", "traffic_by_api", "seasonality", "spike_timeline", "route_forecast", "route_latency", "route_errors",
    "backtest_accuracy", "calendar_events",
    "costs_by", "carbon_by", "budgets", "top_routes", "budget_burn", "carbon_intensity",
    "limits_vs_traffic", "throttle_targets", "Replay", "run_replay", "replay_limits",
]
