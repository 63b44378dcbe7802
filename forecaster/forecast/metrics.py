"""Forecast accuracy metrics, registered by name (as prophet's ``register_performance_metric``).

Each metric takes one :class:`Scored` fold — actuals, the forecast on the same steps, the
benchmark (seasonal naive) forecast on the same steps, and the in-sample naive scale — and returns
a float. Missing actuals (NaN = no data) are excluded before any metric sees them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np
from ..registry import Registry


@dataclass(frozen=True)
class Scored:
    """One fold, restricted to the steps with an observed actual."""

    actual: np.ndarray
    forecast: Mapping[str, Any]  # columns yhat, yhat_lo_80, ... (DataFrame or dict of arrays), same steps
    benchmark: np.ndarray  # seasonal naive yhat on the same steps
    scale: float  # in-sample MAE of the seasonal naive (MASE denominator)

    @property
    def yhat(self) -> np.ndarray:
        return self.column("yhat")

    def column(self, name: str) -> np.ndarray:
        return np.asarray(self.forecast[name], dtype=float)


Metric = Callable[[Scored], float]
METRICS: Registry[Metric] = Registry("metric")


def register_metric(name: str) -> Callable[[Metric], Metric]:
    """Decorator: ``@register_metric("mae")``."""
    return METRICS.register(name)


def metric_names() -> list[str]:
    return METRICS.names()


def compute(names: list[str] | tuple[str, ...], scored: Scored) -> dict[str, float]:
    fns = {n: METRICS.get(n) for n in names}  # an unknown name raises before anything is computed
    if scored.actual.size == 0:
        return {n: float("nan") for n in names}
    return {n: float(fn(scored)) for n, fn in fns.items()}


def ratio(num: float, den: float) -> float:
    """num/den where 0/0 = 1 (both perfect) and x/0 = inf."""
    if den > 0:
        return num / den
    return 1.0 if num == 0 else float("inf")


def mae_of(actual: np.ndarray, yhat: np.ndarray) -> float:
    return float(np.mean(np.abs(actual - yhat)))


@register_metric("mae")
def mae(s: Scored) -> float:
    return mae_of(s.actual, s.yhat)


@register_metric("rel_mae")
def rel_mae(s: Scored) -> float:
    """MAE relative to the seasonal naive benchmark on the same steps (< 1: better than naive)."""
    return ratio(mae_of(s.actual, s.yhat), mae_of(s.actual, s.benchmark))


@register_metric("mase")
def mase(s: Scored) -> float:
    """MAE scaled by the in-sample MAE of the seasonal naive (Hyndman & Koehler 2006)."""
    return ratio(mae_of(s.actual, s.yhat), s.scale)


@register_metric("smape")
def smape(s: Scored) -> float:
    """Symmetric MAPE in percent (0..200); steps where actual and forecast are both 0 count as 0."""
    num = 2 * np.abs(s.actual - s.yhat)
    den = np.abs(s.actual) + np.abs(s.yhat)
    return float(100 * np.mean(np.where(den > 0, num / np.where(den > 0, den, 1), 0.0)))


def coverage(level: int) -> Metric:
    def fn(s: Scored) -> float:
        lo, hi = s.column(f"yhat_lo_{level}"), s.column(f"yhat_hi_{level}")
        return float(np.mean((s.actual >= lo) & (s.actual <= hi)))
    fn.__doc__ = f"Share of actuals inside the {level}% interval (target {level / 100:.2f})."
    return fn


register_metric("coverage_80")(coverage(80))
register_metric("coverage_95")(coverage(95))

DEFAULT_METRICS = ("mae", "rel_mae", "mase", "smape", "coverage_80", "coverage_95")
