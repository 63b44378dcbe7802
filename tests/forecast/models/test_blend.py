"""The seasonal blend: the mean of weekly naive and profile, and its backtest built without refitting."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecaster.forecast.backtest import evaluate_arrays, make_folds
from forecaster.forecast.models import get_model
from forecaster.forecast.models.blend import blend_backtest

H = pd.Timedelta("1h")


def traffic(days: int = 28, seed: int = 0) -> pd.DataFrame:
    ds = pd.date_range("2026-01-05", periods=days * 24, freq="h")
    daily = 1 + 0.6 * np.sin(2 * np.pi * (ds.hour.to_numpy() - 8) / 24)
    y = np.random.default_rng(seed).poisson(200 * daily).astype(float)
    return pd.DataFrame({"ds": ds, "y": y})


def regressors(ds: pd.DatetimeIndex) -> pd.DataFrame:
    """A weekly sale seen in the history and a one-off launch (expected 3x) in the last 30 hours only."""
    sale = ((ds.day_of_week == 3) & (ds.hour >= 18) & (ds.hour < 22)).astype(float)
    launch = (ds >= ds[-30]).astype(float)
    return pd.DataFrame({"ds": ds, "event_sale": sale, "event_launch": launch,
                         "event_launch_uplift": np.where(launch > 0, 3.0, 0.0)})


def test_blend_is_the_mean_of_its_components_with_the_uplift_on_the_naive_half():
    history = traffic()
    ds = pd.date_range(history.ds.iloc[0], periods=len(history) + 72, freq="h")
    regs = regressors(ds)
    past, future = regs.iloc[: len(history)], regs.iloc[len(history):]
    blend = get_model("seasonal_blend", step=H).fit(history, past).predict(72, future_regressors=future)
    naive = get_model("seasonal_naive_weekly", step=H).fit(history).predict(72)
    profile = get_model("seasonal_profile", step=H).fit(history, past).predict(72, future_regressors=future)
    uplift = np.where(future["event_launch"].to_numpy() > 0, 3.0, 1.0)
    np.testing.assert_allclose(blend.yhat, (naive.yhat * uplift + profile.yhat) / 2)


def test_blend_backtest_from_components_equals_evaluating_the_blend():
    history = traffic(seed=1)
    regs = regressors(pd.DatetimeIndex(history.ds))
    folds = make_folds(history, 72, 3, H, 0, regs)
    direct = evaluate_arrays(folds, "seasonal_blend", 72)
    derived = blend_backtest(folds, evaluate_arrays(folds, "seasonal_naive_weekly", 72),
                             evaluate_arrays(folds, "seasonal_profile", 72))
    assert set(direct) == set(derived)
    for column, values in direct.items():
        np.testing.assert_array_equal(np.asarray(derived[column]), np.asarray(values), err_msg=column)
