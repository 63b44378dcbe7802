"""Seasonal blend: the mean of the weekly seasonal naive and the seasonal profile.

    yhat = (naive_weekly * uplift + profile) / 2

A forecast combination of the floor and the robust profile: the naive reads last week only (sharp,
but it repeats last week's noise and dips), the profile the median of four weeks level-adjusted
(smooth, but slow to follow a change in shape); their errors are far from perfectly correlated, so
the mean is rarely worse than the better of the two and often better than both. Measured on
``bench/bench_accuracy`` (NAB and generated series, see docs/benchmarks.md) and on held-out windows.

- ``uplift``: the expected multiple of events never seen in the history (``<event>_uplift``
  columns), for the naive half; the profile applies it itself (and learned event multipliers).
  The blend thus applies the uplift of one-off events the way the profile does.
- intervals: the mean of the two models' bounds at each level (auto selection recalibrates them
  from the backtest, ``forecaster.conformal``).
- ``combine`` is the one place the halves are mixed: the model's predict and auto selection,
  which builds the blend's backtest from the two components' backtests without refitting
  either (``blend_backtest``), both call it, so the two agree exactly.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .base import Arrays, ForecastModel, register_model
from .common import HistoryLike, aligned_arrays, finish_arrays, future_index
from .naive import SeasonalNaive, SeasonalNaiveWeekly
from .profile import UPLIFT_SUFFIX, SeasonalProfile

NAIVE, PROFILE = "seasonal_naive_weekly", "seasonal_profile"  # the components, as auto selection names them


def unseen_uplift(history_regressors: pd.DataFrame | None, future_regressors: pd.DataFrame | None,
                  index: pd.DatetimeIndex) -> np.ndarray:
    """Per step of ``index``, the product of the expected uplifts of events active then and never
    active in the history (1 where none is)."""
    mult = np.ones(len(index))
    future = aligned_arrays(future_regressors, index)
    past = aligned_arrays(history_regressors, pd.DatetimeIndex(history_regressors["ds"])) if (
        history_regressors is not None and not history_regressors.empty) else {}
    for column, values in future.items():
        if not column.endswith(UPLIFT_SUFFIX):
            continue
        event = column[: -len(UPLIFT_SUFFIX)]
        if event in past and bool((past[event] > 0).any()):
            continue
        mult *= np.where(values > 0, values, 1.0)
    return mult


def combine(naive: Arrays, profile: Arrays, uplift: np.ndarray, levels: tuple[int, ...]) -> Arrays:
    """The blend of two forecasts on the same steps (columns ds, yhat, yhat_lo_<level>, yhat_hi_<level>)."""
    def mean(column: str) -> np.ndarray:
        return (np.asarray(naive[column], dtype=float) * uplift + np.asarray(profile[column], dtype=float)) / 2

    bounds = {lv: (mean(f"yhat_lo_{lv}"), mean(f"yhat_hi_{lv}")) for lv in levels}
    return finish_arrays(np.asarray(naive["ds"]), mean("yhat"), bounds, levels)


@register_model("seasonal_blend")
class SeasonalBlend(ForecastModel):
    name = "seasonal_blend"
    predicts_arrays = True
    uses_regressors = True   # the profile half reads them; the naive half gets the one-off uplift here
    components = (NAIVE, PROFILE)

    def __init__(self, step: pd.Timedelta | None = None, seed: int = 0):
        self.step, self.seed = step, seed
        self._naive: SeasonalNaive | None = None
        self._profile: SeasonalProfile | None = None
        self._regressors: pd.DataFrame | None = None

    def fit(self, history: HistoryLike, regressors: pd.DataFrame | None = None) -> "SeasonalBlend":
        profile = SeasonalProfile(step=self.step, seed=self.seed).fit(history, regressors)  # raises on < 1 day
        self._naive = SeasonalNaiveWeekly(step=self.step, seed=self.seed).fit(profile._fitted())
        self._profile, self._regressors = profile, regressors
        return self

    def predict_arrays(self, horizon: int, levels: tuple[int, ...] = (80, 95),
                       future_regressors: pd.DataFrame | None = None) -> Arrays:
        if self._naive is None or self._profile is None:
            raise RuntimeError("seasonal_blend: call fit() before predict()")
        data = self._profile._fitted()
        index = future_index(data.ds[-1], data.step, horizon)
        naive = self._naive.predict_arrays(horizon, levels)
        profile = self._profile.predict_arrays(horizon, levels, future_regressors)
        return combine(naive, profile, unseen_uplift(self._regressors, future_regressors, index), levels)

    @classmethod
    def derived_backtest(cls, folds, forecasts: dict[str, Arrays]) -> Arrays | None:
        """From the weekly naive's and the profile's backtests on the same folds (no fit)."""
        if NAIVE in forecasts and PROFILE in forecasts:
            naive, profile = forecasts[NAIVE], forecasts[PROFILE]
            if len(naive["yhat"]) == len(profile["yhat"]) == len(folds) * len(folds[0].test_y):
                return blend_backtest(folds, naive, profile)
        return None


def blend_backtest(folds, naive: Arrays, profile: Arrays, levels: tuple[int, ...] = (80, 95)) -> Arrays:
    """The blend's backtest from its components' backtests on the same ``folds`` (what
    ``forecaster.backtest.evaluate_arrays`` returned for each): what evaluating the blend would
    give, without fitting anything again."""
    horizon = len(naive["yhat"]) // max(len(folds), 1)
    uplift = np.concatenate([unseen_uplift(f.train_regressors, f.test_regressors,
                                           pd.DatetimeIndex(future_index(f.train_data.ds[-1], f.step, horizon)))
                             for f in folds]) if folds else np.ones(0)
    out = dict(naive)
    out.update(combine(naive, profile, uplift, levels))
    return out

