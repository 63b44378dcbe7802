"""Calibrated intervals from backtest residuals: conformal quantiles, the per-level choice, coverage."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.forecast.conformal import (MIN_RESIDUALS_PER_BAND, backtest_coverage, calibrate, choose_intervals,
                                  conformal_quantile, residual_quantiles)

H = pd.Timedelta("1h")
HORIZON = 72
LEVELS = (80, 95)


def backtest(n_folds: int, sigma: float, seed: int, own_scale: float) -> dict[str, np.ndarray]:
    """A backtest whose forecast is the true median (300) of lognormal(0, sigma) traffic and whose own
    intervals are ``own_scale`` times the true ones (0: zero width, 1: exact, 10: far too wide)."""
    rng = np.random.default_rng(seed)
    n = n_folds * HORIZON
    yhat = np.full(n, 300.0)
    cols = {"fold": np.repeat(np.arange(n_folds), HORIZON), "h": np.tile(np.arange(1, HORIZON + 1), n_folds),
            "y": np.round(300.0 * rng.lognormal(0.0, sigma, n)), "yhat": yhat}
    for lv, z in ((80, 1.2816), (95, 1.96)):
        cols[f"yhat_lo_{lv}"] = yhat * np.exp(-own_scale * z * sigma)
        cols[f"yhat_hi_{lv}"] = yhat * np.exp(own_scale * z * sigma)
    return cols


def future(sigma: float, seed: int, draws: int = 200) -> np.ndarray:
    """``draws`` fresh test windows of the same traffic, one row each."""
    return np.round(300.0 * np.random.default_rng(seed).lognormal(0.0, sigma, (draws, HORIZON)))


def own_forecast(own_scale: float, sigma: float) -> pd.DataFrame:
    bt = backtest(1, sigma, 0, own_scale)
    frame = {"ds": pd.date_range("2026-02-01", periods=HORIZON, freq="h"), "yhat": bt["yhat"][:HORIZON]}
    frame.update({k: v[:HORIZON] for k, v in bt.items() if k.startswith("yhat_")})
    return pd.DataFrame(frame)


def coverage(forecast: pd.DataFrame, actuals: np.ndarray, level: int) -> float:
    lo, hi = forecast[f"yhat_lo_{level}"].to_numpy(), forecast[f"yhat_hi_{level}"].to_numpy()
    return float(((actuals >= lo) & (actuals <= hi)).mean())


def test_conformal_quantile_is_the_finite_sample_order_statistic():
    r = np.arange(1.0, 40.0)  # n = 39
    assert conformal_quantile(r, 0.975) == 39.0          # ceil(0.975 * 40) = 39th
    assert conformal_quantile(r, 0.025) == 1.0           # floor(0.025 * 40) = 1st
    assert conformal_quantile(r, 0.9) == 36.0            # ceil(0.9 * 40) = 36th, not numpy's 35.2
    assert conformal_quantile(r, 0.1) == 4.0             # floor(0.1 * 40) = 4th
    assert conformal_quantile(np.arange(1.0, 10.0), 0.975) == 9.0  # n too small: the sample's max


def test_residual_bands_hold_enough_residuals_for_a_finite_95_quantile():
    bt = backtest(2, 0.2, 1, 1.0)
    q = residual_quantiles(bt, H, n_folds=2)
    assert (q["n"] >= MIN_RESIDUALS_PER_BAND).all() and MIN_RESIDUALS_PER_BAND >= 39
    assert q["h_from"].iloc[0] == 1 and q["h_to"].iloc[-1] >= HORIZON
    assert (q["q_lo_95"] <= q["q_lo_80"]).all() and (q["q_hi_80"] <= q["q_hi_95"]).all()


@pytest.mark.parametrize("own_scale", [0.0, 10.0])
def test_miscalibrated_own_intervals_are_replaced_and_cover_the_target(own_scale):
    """Zero-width or ten-times-too-wide own intervals: the conformal ones win on the backtest, and on
    fresh draws of the same lognormal noise their coverage lands in the target bands."""
    sigma = 0.25
    forecast, choice, _ = calibrate(own_forecast(own_scale, sigma), backtest(3, sigma, 2, own_scale), H, LEVELS)
    # zero width: the union of nothing and the conformal interval is the conformal one (a tie it takes)
    expected = {"conformal"} if own_scale else {"conformal", "union"}
    assert set(choice.methods.values()) <= expected and choice.calibrated
    actuals = future(sigma, 3)
    assert 0.75 <= coverage(forecast, actuals, 80) <= 0.88
    assert 0.90 <= coverage(forecast, actuals, 95) <= 0.99


def test_calibrated_own_intervals_can_stay():
    sigma = 0.25
    bt = backtest(3, sigma, 4, 1.0)
    cov = backtest_coverage(bt, H, LEVELS)
    assert abs(cov[80]["own"] - 0.8) < 0.05 and abs(cov[95]["own"] - 0.95) < 0.03
    forecast, choice, _ = calibrate(own_forecast(1.0, sigma), bt, H, LEVELS)
    actuals = future(sigma, 5)
    assert 0.75 <= coverage(forecast, actuals, 80) <= 0.88
    assert 0.90 <= coverage(forecast, actuals, 95) <= 0.99


def test_one_fold_takes_the_union_and_never_narrows_the_own_interval():
    sigma = 0.25
    own = own_forecast(0.5, sigma)
    forecast, choice, _ = calibrate(own, backtest(1, sigma, 6, 0.5), H, LEVELS)
    assert choice.methods == {80: "union", 95: "union"}
    for lv in LEVELS:
        assert (forecast[f"yhat_lo_{lv}"] <= own[f"yhat_lo_{lv}"] + 1e-9).all()
        assert (forecast[f"yhat_hi_{lv}"] >= own[f"yhat_hi_{lv}"] - 1e-9).all()


def test_choice_is_the_closest_to_the_level_ties_conservative():
    cov = {80: {"union": 0.9, "own": 0.78, "conformal": 0.7}, 95: {"union": 0.96, "own": 0.94, "conformal": 0.9}}
    assert choose_intervals(cov, n_folds=3) == {80: "own", 95: "union"}  # 95: a 0.01 tie goes to the union


def test_no_observed_actual_keeps_the_own_intervals():
    bt = backtest(2, 0.2, 7, 0.0)
    bt["y"] = np.full_like(bt["y"], np.nan)
    own = own_forecast(0.0, 0.2)
    forecast, choice, quantiles = calibrate(own, bt, H, LEVELS)
    assert quantiles.empty and not choice.calibrated
    pd.testing.assert_frame_equal(forecast, own)
