"""Hand-computed behaviour of the seasonal naive and seasonal profile models."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.forecast.models import get_model

H = pd.Timedelta("1h")


def frame(y, start="2026-01-05") -> pd.DataFrame:
    return pd.DataFrame({"ds": pd.date_range(start, periods=len(y), freq="h"), "y": np.asarray(y, float)})


def test_weekly_naive_repeats_last_week_and_skips_missing_seasons():
    y = np.arange(3 * 168, dtype=float)
    y[-168 + 5] = np.nan                         # last week's hour 5 missing: take the week before
    out = get_model("seasonal_naive_weekly", step=H).fit(frame(y)).predict(170)
    assert out["yhat"].iloc[0] == y[-168]
    assert out["yhat"].iloc[5] == y[-2 * 168 + 5]
    assert out["yhat"].iloc[168] == y[-168]     # second week ahead repeats the same last week


def test_naive_intervals_widen_with_sqrt_of_seasons_ahead():
    rng = np.random.default_rng(0)
    y = 100 + rng.normal(0, 10, 24 * 10)
    out = get_model("seasonal_naive_daily", step=H).fit(frame(y)).predict(24 * 4)
    width = (out.yhat_hi_80 - out.yhat_lo_80).to_numpy()
    assert width[24] == pytest.approx(width[0] * np.sqrt(2))
    assert width[72] == pytest.approx(width[0] * np.sqrt(4))
    d = y[24:] - y[:-24]
    lo, hi = np.quantile(d, [0.1, 0.9])
    assert out.yhat_lo_80.iloc[0] == pytest.approx(y[-24] + lo)
    assert out.yhat_hi_80.iloc[0] == pytest.approx(y[-24] + hi)


def test_weekly_naive_degrades_to_daily_on_short_history():
    y = np.tile(np.arange(24.0), 3)
    out = get_model("seasonal_naive_weekly", step=H).fit(frame(y)).predict(24)
    assert np.allclose(out["yhat"], np.arange(24.0))


def test_profile_is_the_median_of_the_same_hour_of_week():
    week = np.arange(168.0) + 10
    y = np.concatenate([week, week * 3, week, week])   # one outlier week: the median ignores it
    out = get_model("seasonal_profile", step=H, weeks=4).fit(frame(y)).predict(168)
    assert np.allclose(out["yhat"], week)


def test_profile_level_follows_recent_growth_clipped():
    week = np.arange(168.0) + 10
    y = np.concatenate([week, week, week, week * 1.5])
    model = get_model("seasonal_profile", step=H, level_days=2).fit(frame(y))
    assert model.level == pytest.approx(1.5)
    y = np.concatenate([week, week, week, week * 5])
    assert get_model("seasonal_profile", step=H).fit(frame(y)).level == 2.0   # clipped


def test_profile_learns_event_multiplier_from_past_occurrences():
    week = np.full(168, 100.0)
    y = np.tile(week, 4)
    promo = np.zeros(4 * 168 + 24)
    for w in range(1, 4):                     # every week, Thursday 18-20h, traffic doubles
        promo[w * 168 + 3 * 24 + 18: w * 168 + 3 * 24 + 20] = 1
    y[promo[: len(y)] == 1] *= 2
    regs = pd.DataFrame({"ds": pd.date_range("2026-01-05", periods=len(promo), freq="h"), "promo": promo})
    promo_future = promo.copy()
    promo_future[len(y) + 5] = 1
    future = regs.assign(promo=promo_future).iloc[len(y):]
    model = get_model("seasonal_profile", step=H).fit(frame(y), regs.iloc[: len(y)])
    assert model.multipliers["promo"] == pytest.approx(2.0)
    out = model.predict(24, future_regressors=future)
    assert out["yhat"].iloc[5] == pytest.approx(200.0)
    assert out["yhat"].iloc[4] == pytest.approx(100.0)


def test_profile_one_off_event_uses_the_given_uplift():
    y = np.full(2 * 168, 50.0)
    ds = pd.date_range("2026-01-05", periods=len(y) + 24, freq="h")
    launch = np.zeros(len(ds))
    launch[len(y) + 10: len(y) + 12] = 1
    regs = pd.DataFrame({"ds": ds, "launch": launch, "launch_uplift": np.where(launch > 0, 3.0, 0.0)})
    model = get_model("seasonal_profile", step=H).fit(frame(y), regs)
    out = model.predict(24)
    assert out["yhat"].iloc[10] == pytest.approx(150.0)
    assert out["yhat"].iloc[9] == pytest.approx(50.0)


def test_point_forecast_is_the_predicted_yhat():
    from forecaster.forecast.models import get_model

    ds = pd.date_range("2026-01-05", periods=15 * 24, freq="h")
    y = np.random.default_rng(2).poisson(50, len(ds)).astype(float)
    y[-30:-20] = np.nan
    for name in ("seasonal_naive_weekly", "seasonal_naive_daily"):
        for n in (len(ds), 30, 5):
            m = get_model(name, step=pd.Timedelta("1h")).fit(pd.DataFrame({"ds": ds[:n], "y": y[:n]}))
            np.testing.assert_array_equal(m.point_forecast(72), m.predict(72)["yhat"].to_numpy())
