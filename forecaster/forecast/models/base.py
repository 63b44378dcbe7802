"""The forecasting model protocol and its registry.

A model is fitted on one series' history and predicts ``horizon`` steps after its end:

    model = get_model("seasonal_naive_weekly", step=pd.Timedelta("1h"), seed=0)
    model.fit(history, regressors)          # history: DataFrame[ds, y]; regressors: DataFrame[ds, ...] or None
    frame = model.predict(horizon, levels=(80, 95), future_regressors=None)
    # frame: ds, yhat, yhat_lo_80, yhat_hi_80, yhat_lo_95, yhat_hi_95

``history`` is regular (one row per step, ``ds`` naive UTC) and may hold NaN for missing data
(no logs is not zero traffic). Forecasts are counts: never negative. ``lo <= yhat <= hi``.

Every factory takes ``step`` (inferred from ``ds`` when None) and ``seed``. A model whose minimum
history is not met raises ``forecaster.errors.InsufficientHistory``; the seasonal naive models
never do (they are the fallback). The conformance test in ``tests/models`` pins all of this.
"""

from __future__ import annotations

from typing import Callable, Protocol, runtime_checkable

import pandas as pd

from ...errors import UnknownName

FORECAST_COLUMNS = ("ds", "yhat", "yhat_lo_80", "yhat_hi_80", "yhat_lo_95", "yhat_hi_95")


@runtime_checkable
class Model(Protocol):
    name: str

    def fit(self, history: pd.DataFrame, regressors: pd.DataFrame | None = None) -> "Model": ...

    def predict(self, horizon: int, levels: tuple[int, ...] = (80, 95),
                future_regressors: pd.DataFrame | None = None) -> pd.DataFrame: ...


ModelFactory = Callable[..., Model]
_REGISTRY: dict[str, ModelFactory] = {}


def register_model(name: str) -> Callable[[ModelFactory], ModelFactory]:
    """Class decorator: ``@register_model("ets")``."""
    def deco(factory: ModelFactory) -> ModelFactory:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is already registered")
        _REGISTRY[name] = factory
        return factory
    return deco


def get_model(name: str, **kwargs) -> Model:
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise UnknownName("model", name, list(_REGISTRY)) from None
    return factory(**kwargs)


def model_names() -> list[str]:
    return sorted(_REGISTRY)
