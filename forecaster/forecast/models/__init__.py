"""Forecasting models: one protocol (``base``), registered by name. Importing this package registers them all.

Each model is a :class:`ForecastModel` subclass declaring what it can do (regressors, slow, combined
from other models, array and fold fast paths) as class attributes.

Models: ``seasonal_naive_daily``, ``seasonal_naive_weekly`` (the floor and the fallback; they never
raise on short history), ``seasonal_profile``, ``seasonal_blend`` (the mean of the weekly naive and
the profile), ``ets``, ``mstl``, ``prophet`` (these raise
``forecaster.errors.InsufficientHistory`` below their minimum history: 1 day for the profile,
2 days for the statistical models; the caller falls back to seasonal naive).

Regressors (optional): a frame with ``ds`` and one numeric column per event (> 0 = active,
values in (0, 1] weight it), spanning the history and, for the future, passed again as
``future_regressors``. A column ``<event>_uplift`` gives the expected multiplier of a one-off
event that has no past occurrence to learn from.
"""

from . import blend, ets, mstl, naive, profile, prophet_model  # noqa: F401  (registers the models)
from .base import FORECAST_COLUMNS, ForecastModel, Model, SlowRule, get_model, model_class, model_names, register_model

__all__ = ["FORECAST_COLUMNS", "ForecastModel", "Model", "SlowRule", "get_model", "model_class", "model_names",
           "register_model"]
