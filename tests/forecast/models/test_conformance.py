"""Every registered model passes the same checks (statsforecast's ``assert_class`` idea).

Short history policy: the seasonal naive models never raise (they are the fallback and degrade to
a daily season, then to the last value); every other model raises ``InsufficientHistory`` below its
minimum (1 day for seasonal_profile, 2 days for ets / mstl / prophet), which the orchestrator turns
into the seasonal-naive fallback.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.errors import InsufficientHistory
from forecaster.forecast.models import FORECAST_COLUMNS, get_model, model_names

FALLBACKS = {"seasonal_naive_daily", "seasonal_naive_weekly"}
SLOW = {"prophet"}
HORIZON = 48


def models():
    return [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in model_names()]


def forecast(name, history, horizon=HORIZON, step="1h", seed=0):
    return get_model(name, step=pd.Timedelta(step), seed=seed).fit(history).predict(horizon)


def check_frame(frame: pd.DataFrame, history: pd.DataFrame, horizon: int, step: str) -> None:
    assert list(frame.columns) == list(FORECAST_COLUMNS)
    assert len(frame) == horizon
    expected = pd.date_range(history["ds"].iloc[-1] + pd.Timedelta(step), periods=horizon, freq=step)
    assert (pd.DatetimeIndex(frame["ds"]) == expected).all()
    values = frame[list(FORECAST_COLUMNS[1:])].to_numpy()
    assert np.isfinite(values).all()
    assert (values >= 0).all()
    f = frame
    assert (f.yhat_lo_95 <= f.yhat_lo_80).all() and (f.yhat_lo_80 <= f.yhat).all()
    assert (f.yhat <= f.yhat_hi_80).all() and (f.yhat_hi_80 <= f.yhat_hi_95).all()


def test_the_expected_models_are_registered():
    assert set(model_names()) >= {"seasonal_naive_daily", "seasonal_naive_weekly", "seasonal_profile",
                                  "ets", "mstl", "prophet"}


@pytest.mark.parametrize("name", models())
def test_horizon_ds_intervals_nonnegative(name, make_traffic):
    history = make_traffic(days=15, level=3, seed=1)  # low counts: intervals must clip at 0
    check_frame(forecast(name, history), history, HORIZON, "1h")


@pytest.mark.parametrize("name", models())
def test_deterministic_under_a_seed(name, make_traffic):
    history = make_traffic(days=15, seed=2)
    pd.testing.assert_frame_equal(forecast(name, history, seed=7), forecast(name, history, seed=7))


@pytest.mark.parametrize("name", models())
def test_zero_series_forecasts_zero(name, make_traffic):
    history = make_traffic(days=15).assign(y=0.0)
    frame = forecast(name, history)
    check_frame(frame, history, HORIZON, "1h")
    assert np.allclose(frame[list(FORECAST_COLUMNS[1:])].to_numpy(), 0.0)


@pytest.mark.parametrize("name", models())
def test_constant_series_forecasts_the_constant(name, make_traffic):
    history = make_traffic(days=15).assign(y=42.0)
    frame = forecast(name, history)
    check_frame(frame, history, HORIZON, "1h")
    assert np.allclose(frame["yhat"], 42.0)


@pytest.mark.parametrize("name", models())
def test_three_points_forecast_or_insufficient_history(name, make_traffic):
    history = make_traffic(days=3 / 24)
    assert len(history) == 3
    if name in FALLBACKS:
        frame = forecast(name, history)
        check_frame(frame, history, HORIZON, "1h")
        assert np.allclose(frame["yhat"], history["y"].iloc[-1])  # shorter than a day: last value
    else:
        with pytest.raises(InsufficientHistory, match="history has 3 steps"):
            forecast(name, history)


@pytest.mark.parametrize("name", models())
def test_all_missing_raises_insufficient_history(name, make_traffic):
    history = make_traffic(days=3).assign(y=np.nan)
    with pytest.raises(InsufficientHistory, match="no observed value"):
        forecast(name, history)


@pytest.mark.parametrize("name", models())
def test_nan_gaps(name, make_traffic):
    history = make_traffic(days=15, seed=3)
    y = history["y"].to_numpy().copy()
    y[30:60] = np.nan                          # a long gap
    y[np.arange(100, len(y), 7)] = np.nan      # scattered gaps
    y[-5:] = np.nan                            # the most recent hours missing
    history = history.assign(y=y)
    frame = forecast(name, history)
    check_frame(frame, history, HORIZON, "1h")
    assert frame["yhat"].mean() > 50           # NaN is no data, not zero traffic (level ~200/h)


@pytest.mark.parametrize("name", models())
def test_rows_missing_from_history_are_gaps(name, make_traffic):
    history = make_traffic(days=15, seed=4)
    history = history.drop(index=range(200, 230)).reset_index(drop=True)
    check_frame(forecast(name, history), history, HORIZON, "1h")


@pytest.mark.parametrize("name", models())
@pytest.mark.parametrize("step", ["5min", "15min"])
def test_sub_hourly_steps(name, step, make_traffic):
    history = make_traffic(days=4, step=step, seed=5)
    horizon = int(pd.Timedelta("6h") / pd.Timedelta(step))
    frame = forecast(name, history, horizon=horizon, step=step)
    check_frame(frame, history, horizon, step)
    per_step = history["y"].mean()
    assert 0.3 * per_step < frame["yhat"].mean() < 3 * per_step


@pytest.mark.parametrize("name", models())
def test_step_inferred_when_not_given(name, make_traffic):
    history = make_traffic(days=15, seed=6)
    frame = get_model(name, seed=0).fit(history).predict(24)
    check_frame(frame, history, 24, "1h")


def test_capabilities_are_declared_on_the_classes():
    """What the orchestrator and auto selection ask of a model comes from its class, not name lists."""
    from forecaster.forecast.models import ForecastModel, model_class

    for name in model_names():
        assert issubclass(model_class(name), ForecastModel)
    slow = {n for n in model_names() if model_class(n).slow is not None}
    assert slow >= {"mstl", "prophet"} and not slow & {"seasonal_naive_weekly", "seasonal_profile", "ets",
                                                         "seasonal_blend"}
    regressors = {n for n in model_names() if model_class(n).uses_regressors}
    assert regressors >= {"seasonal_profile", "seasonal_blend", "prophet"}
    assert not regressors & {"seasonal_naive_daily", "seasonal_naive_weekly", "ets", "mstl"}
    assert model_class("seasonal_blend").components == ("seasonal_naive_weekly", "seasonal_profile")
    assert model_class("ets").forecasts_folds and not model_class("prophet").predicts_arrays
