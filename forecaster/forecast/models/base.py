"""The forecasting model base class, its capabilities, and the model registry.

A model is fitted on one series' history and predicts ``horizon`` steps after its end:

    model = get_model("seasonal_naive_weekly", step=pd.Timedelta("1h"), seed=0)
    model.fit(history, regressors)          # history: DataFrame[ds, y]; regressors: DataFrame[ds, ...] or None
    frame = model.predict(horizon, levels=(80, 95), future_regressors=None)
    # frame: ds, yhat, yhat_lo_80, yhat_hi_80, yhat_lo_95, yhat_hi_95

``history`` is regular (one row per step, ``ds`` naive UTC) and may hold NaN for missing data
(no logs is not zero traffic). Forecasts are counts: never negative. ``lo <= yhat <= hi``.

Every model takes ``step`` (inferred from ``ds`` when None) and ``seed``. A model whose minimum
history is not met raises ``forecaster.errors.InsufficientHistory``; the seasonal naive models
never do (they are the fallback). The conformance test in ``tests/forecast/models`` pins all of this.

What a model can do is declared on its class (:class:`ForecastModel`, after statsforecast's ``_TS``),
so the orchestrator, the backtests and auto selection ask the class instead of keeping lists of names.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, ClassVar

import numpy as np
import pandas as pd

from ...registry import Registry

if TYPE_CHECKING:
    from ..backtest import Fold
    from .common import HistoryLike

FORECAST_COLUMNS = ("ds", "yhat", "yhat_lo_80", "yhat_hi_80", "yhat_lo_95", "yhat_hi_95")

#: a forecast as plain arrays: the columns of the output frame (``ds`` datetime64, the rest float), by name.
#: What backtests and the orchestrator pass around: building a DataFrame and reading its columns back
#: costs more than a seasonal naive fit (pandas ~0.15 ms per frame, ~15 us per column read).
Arrays = dict[str, np.ndarray]

#: one backtest fold as :meth:`ForecastModel.forecast_folds` takes it: (training history, its
#: regressors, the test window's regressors)
Training = tuple[Any, "pd.DataFrame | None", "pd.DataFrame | None"]


@dataclass(frozen=True)
class SlowRule:
    """Auto selection's budget for an expensive model: backtested on at most ``folds`` folds (the most
    recent), only with ``min_history``, and only where the cheap models do poorly (``selection``)."""

    folds: int
    min_history: pd.Timedelta


class ForecastModel:
    """The one base class of the forecasting models: the protocol and what the model can do.

    Subclasses implement ``fit`` and either ``predict_arrays`` (declaring ``predicts_arrays = True``:
    ``predict`` then builds its frame from it) or ``predict``.

    Capabilities (class attributes):

    - ``uses_regressors``: fit and predict read the event regressors, the expected ``<event>_uplift``
      of one-off events included; for a model that does not, the run multiplies its forecast by that
      uplift after predict.
    - ``slow``: a :class:`SlowRule` when the model is too expensive to backtest on every fold of
      every series (auto selection gates it); None for the cheap ones.
    - ``components``: the registered models this one combines; when they were backtested on the
      same folds, :meth:`derived_backtest` builds this model's backtest from theirs without a fit.
    - ``preload``: modules its fit imports that are slow to import (statsmodels, Prophet); worker
      processes import them before they fork when a run may use the model.

    Fast paths (class attributes, each with its method):

    - ``predicts_arrays``: ``predict_arrays`` is the kernel and ``predict`` is built on it, so the
      orchestrator and backtests read arrays without building a frame.
    - ``forecasts_folds``: ``forecast_folds`` fits and predicts every backtest fold in one call
      (ETS runs all folds' grid searches at once), with the forecasts fold-by-fold fitting would give.

    A subclass that overrides ``fit``, ``predict`` or ``predict_arrays`` loses the fast paths built
    on the methods it changed unless it declares them again in its own body (a fast path must not
    bypass an override).
    """

    name: str = ""   # the registered name (an instance may set its own: one class, several seasons)
    uses_regressors: ClassVar[bool] = False
    slow: ClassVar[SlowRule | None] = None
    components: ClassVar[tuple[str, ...]] = ()
    preload: ClassVar[tuple[str, ...]] = ()
    predicts_arrays: ClassVar[bool] = False
    forecasts_folds: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = vars(cls)
        if "predict" in own and "predicts_arrays" not in own:
            cls.predicts_arrays = False
        if any(m in own for m in ("fit", "predict", "predict_arrays")) and "forecasts_folds" not in own:
            cls.forecasts_folds = False

    def fit(self, history: HistoryLike, regressors: pd.DataFrame | None = None) -> ForecastModel:
        raise NotImplementedError(f"{type(self).__name__} must implement fit()")

    def predict(self, horizon: int, levels: tuple[int, ...] = (80, 95),
                future_regressors: pd.DataFrame | None = None) -> pd.DataFrame:
        """The forecast frame (:data:`FORECAST_COLUMNS`)."""
        if not self.predicts_arrays:
            raise NotImplementedError(f"{type(self).__name__} must implement predict() or predict_arrays()")
        return pd.DataFrame(self.predict_arrays(horizon, levels, future_regressors))

    def predict_arrays(self, horizon: int, levels: tuple[int, ...] = (80, 95),
                       future_regressors: pd.DataFrame | None = None) -> Arrays:
        """:meth:`predict` as arrays (no frame built when ``predicts_arrays``)."""
        frame = self.predict(horizon, levels, future_regressors=future_regressors)
        return {c: frame[c].to_numpy() for c in frame.columns}

    def forecast_arrays(self, horizon: int, levels: tuple[int, ...] = (80, 95),
                        future_regressors: pd.DataFrame | None = None) -> Arrays:
        """The forecast as arrays by the cheapest way the class declares: its kernel's arrays when
        ``predict`` is built on them, else the columns of ``predict``'s frame."""
        if self.predicts_arrays:
            return self.predict_arrays(horizon, levels, future_regressors)
        frame = self.predict(horizon, levels, future_regressors=future_regressors)
        return {c: frame[c].to_numpy() for c in frame.columns}

    def forecast_folds(self, trainings: list[Training], horizon: int,
                       levels: tuple[int, ...] = (80, 95)) -> list[Arrays]:
        """``fit(train).predict_arrays(horizon)`` for each fold at once (only when ``forecasts_folds``)."""
        raise NotImplementedError(f"{type(self).__name__} does not forecast folds at once")

    @classmethod
    def derived_backtest(cls, folds: list[Fold], forecasts: dict[str, Arrays]) -> Arrays | None:
        """This model's backtest on ``folds`` built from its ``components``' (``forecasts``: the
        backtests already run on the same folds, by model name); None when it has to be evaluated."""
        return None


#: the protocol's name in type hints: every registered model is a ForecastModel
Model = ForecastModel
ModelFactory = Callable[..., ForecastModel]
#: model name -> its class (or a factory building it), called with ``step``, ``seed`` and options
MODELS: Registry[ModelFactory] = Registry("model")


def register_model(name: str) -> Callable[[ModelFactory], ModelFactory]:
    """Decorator registering a model class (or a factory returning a model) by name: ``@register_model("ets")``."""
    return MODELS.register(name)


def get_model(name: str, **kwargs: Any) -> ForecastModel:
    return MODELS.get(name)(**kwargs)


def model_class(name: str) -> type[ForecastModel]:
    """The class of the model registered as ``name`` (what it can do: its capabilities)."""
    factory = MODELS.get(name)
    if isinstance(factory, type):
        return factory
    return type(factory())  # a factory function: the class of what it builds


def model_names() -> list[str]:
    return sorted(MODELS.names())
