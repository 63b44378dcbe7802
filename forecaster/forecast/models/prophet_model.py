"""Prophet on log1p(counts): daily / weekly / yearly seasonality as the history allows, country holidays,
events as extra regressors.

- seasonalities: daily from 2 days of history, weekly from 2 weeks, yearly from 2 years.
- holidays: ``holidays`` package via Prophet's ``add_country_holidays`` (``country``, default "US";
  None disables).
- events: every regressor column with a past occurrence becomes a Prophet regressor; an event
  never seen in the history but carrying ``<event>_uplift`` multiplies the forecast by that uplift.
- NaN (no data) rows are left to Prophet, which skips them.
- intervals: Prophet's 80% interval from ``uncertainty_samples`` draws; other levels scale its
  half-widths on the log1p scale by the normal quantile ratio (one sampling pass, not one per level).
- determinism: the Stan optimizer gets ``seed``; Prophet samples with NumPy's global generator, so
  predict seeds it and restores the previous global state afterwards (not thread-safe).
"""

from __future__ import annotations

import logging
import warnings

import numpy as np
import pandas as pd

from . import prophet_speed
from .base import ForecastModel, SlowRule, register_model
from .common import (HistoryLike, DAY, Prepared, align_regressors, constant_forecast, finish, future_index,
                     merge_regressors, periods, prepare, require, z)
from .profile import UPLIFT_SUFFIX

YEAR = pd.Timedelta("365D")


def quiet_prophet_logs() -> None:
    """Prophet and cmdstanpy log every fit at INFO; keep them at WARNING.

    cmdstanpy configures its logger lazily (level DEBUG + a handler) on first use, so make it do
    that now and lower the level after.
    """
    from cmdstanpy.utils import get_logger

    get_logger()
    for name in ("cmdstanpy", "prophet"):
        logging.getLogger(name).setLevel(logging.WARNING)


@register_model("prophet")
class ProphetModel(ForecastModel):
    name = "prophet"
    uses_regressors = True   # events as Prophet regressors; applies the uplift of one-off events
    slow = SlowRule(folds=1, min_history=14 * DAY)
    preload = ("prophet",)

    def __init__(self, step: pd.Timedelta | None = None, seed: int = 0, country: str | None = "US",
                 uncertainty_samples: int = 200, changepoint_prior_scale: float = 0.05):
        self.step, self.seed, self.country = step, seed, country
        self.uncertainty_samples, self.changepoint_prior_scale = uncertainty_samples, changepoint_prior_scale
        self._data: Prepared | None = None

    def fit(self, history: HistoryLike, regressors: pd.DataFrame | None = None) -> "ProphetModel":
        from prophet import Prophet  # heavy import (Stan); only when this model is used

        quiet_prophet_logs()
        prophet_speed.install()  # cached holiday calendars, C JSON for the Stan data: same results, ~25% faster
        data = prepare(history, self.step)
        daily, _ = periods(data.step)
        require(data, max(2 * daily, 10), self.name, f"2 daily seasons at {data.step}")
        self._data, self._regressors = data, regressors
        self._model = None
        if np.ptp(data.y[np.isfinite(data.y)]) == 0:
            return self
        span = data.ds[-1] - data.ds[0]
        model = Prophet(daily_seasonality=span >= pd.Timedelta("2D") and data.step < pd.Timedelta("1D"),
                        weekly_seasonality=span >= pd.Timedelta("14D"),
                        yearly_seasonality=span >= 2 * YEAR,
                        interval_width=0.8, uncertainty_samples=self.uncertainty_samples,
                        changepoint_prior_scale=self.changepoint_prior_scale)
        if self.country:
            model.add_country_holidays(country_name=self.country)
        regs = align_regressors(regressors, data.ds)
        self.events = [c for c in regs.columns if not c.endswith(UPLIFT_SUFFIX)
                       and (regs[c].to_numpy() > 0).any() and np.ptp(regs[c].to_numpy()) > 0]
        frame = pd.DataFrame({"ds": data.ds, "y": np.log1p(data.y)})
        for event in self.events:
            model.add_regressor(event, standardize=False)
            frame[event] = regs[event].to_numpy()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module="prophet")  # pandas deprecations inside Prophet
            model.fit(frame, seed=self.seed)
        self._model = model
        return self

    def predict(self, horizon: int, levels: tuple[int, ...] = (80, 95),
                future_regressors: pd.DataFrame | None = None) -> pd.DataFrame:
        data = self._data
        if data is None:
            raise RuntimeError("prophet: call fit() before predict()")
        index = future_index(data.ds[-1], data.step, horizon)
        if self._model is None:
            return constant_forecast(index, float(np.nanmax(data.y)), levels)
        regs = align_regressors(merge_regressors(self._regressors, future_regressors), index)
        future = pd.DataFrame({"ds": index})
        for event in self.events:
            future[event] = regs[event].to_numpy() if event in regs.columns else 0.0
        state = np.random.get_state()
        try:
            np.random.seed(self.seed)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", module="prophet")
                frame = self._model.predict(future)
        finally:
            np.random.set_state(state)
        mid = frame["yhat"].to_numpy(float)
        lo80, hi80 = frame["yhat_lower"].to_numpy(float), frame["yhat_upper"].to_numpy(float)
        ceiling = float(np.log1p(10 * np.nanmax(data.y)))
        uplift = self._uplift(regs)

        def back(v: np.ndarray) -> np.ndarray:
            return np.expm1(np.clip(v, 0.0, ceiling)) * uplift

        bounds = {}
        for level in levels:
            scale = z(level) / z(80)
            bounds[level] = (back(mid - (mid - lo80) * scale), back(mid + (hi80 - mid) * scale))
        return finish(index, back(mid), bounds, levels)

    def _uplift(self, regs: pd.DataFrame) -> np.ndarray:
        """Multiplier for one-off events (never seen in the history) that carry an expected uplift."""
        mult = np.ones(len(regs))
        for column in regs.columns:
            event = column[: -len(UPLIFT_SUFFIX)] if column.endswith(UPLIFT_SUFFIX) else None
            if event and event not in self.events and event in regs.columns:
                weight = np.clip(regs[event].to_numpy(), 0, 1)
                m = regs[column].to_numpy()
                mult *= 1 + weight * (np.where(m > 0, m, 1.0) - 1)
        return mult

