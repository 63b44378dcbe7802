"""Forecasting: per-series traffic -> models -> backtests -> intervals -> spikes.

Kernels, wrappers and orchestrator apart: ``models/`` (one module per model family, registered by
name), ``series`` (traffic -> per-series arrays), ``series_context`` (calendar regressors per time
grid), ``events`` (the calendar), ``backtest``, ``selection`` (auto) and ``conformal`` (intervals),
``fit`` (one series, with its fallback), ``engines`` (local processes or Dask), ``run`` (the run,
its writes and summary) and ``spikes``.

Importing this package is cheap; ``run_forecast`` pulls in statsmodels and scipy on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["run_forecast"]


def __getattr__(name: str) -> Any:
    if name == "run_forecast":
        from .run import run_forecast
        return run_forecast
    raise AttributeError(name)
