"""Auto model selection, the seasonal-naive floor and fallback, and calibrated intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.errors import UnknownName
from forecaster.forecast.models import FORECAST_COLUMNS, ForecastModel
from forecaster.forecast.models.base import MODELS
from forecaster.forecast.models.profile import SeasonalProfile
from forecaster.forecast.selection import choose_model, fit_predict_auto, preset_models

H = pd.Timedelta("1h")


def traffic(days: float, seed: int = 0, level: float = 300.0) -> pd.DataFrame:
    ds = pd.date_range("2026-01-05", periods=int(days * 24), freq="h")
    daily = 1 + 0.6 * np.sin(2 * np.pi * (ds.hour.to_numpy() - 8) / 24)
    weekly = np.where(ds.day_of_week.to_numpy() >= 5, 0.5, 1.2)
    rng = np.random.default_rng(seed)
    y = rng.poisson(level * daily * weekly * rng.lognormal(0, 0.15, len(ds))).astype(float)
    return pd.DataFrame({"ds": ds, "y": y})


class Overconfident(SeasonalProfile):
    """Seasonal profile with zero-width intervals: its coverage is far below target."""

    def predict(self, horizon, levels=(80, 95), future_regressors=None):
        out = super().predict(horizon, levels, future_regressors)
        for lv in levels:
            out[f"yhat_lo_{lv}"] = out["yhat"]
            out[f"yhat_hi_{lv}"] = out["yhat"]
        return out


class Broken(ForecastModel):
    name = "broken"

    def __init__(self, step=None, seed=0):
        pass

    def fit(self, history, regressors=None):
        raise np.linalg.LinAlgError("singular matrix")


@pytest.fixture
def extra_models():
    MODELS.register("broken", Broken)
    MODELS.register("overconfident", lambda step=None, seed=0: Overconfident(step, seed))
    yield
    MODELS.unregister("broken")
    MODELS.unregister("overconfident")


def test_profile_wins_on_noisy_weekly_traffic():
    choice = choose_model(traffic(28), ["seasonal_naive_daily", "seasonal_profile"], horizon=72, folds=3, step=H)
    assert choice.model == "seasonal_profile"
    assert "lowest mean rel_mae" in choice.reason
    assert set(choice.scores.model) == {"seasonal_naive_weekly", "seasonal_naive_daily", "seasonal_profile"}
    assert choice.summary().index[0] == "seasonal_profile"
    assert not choice.residual_quantiles.empty


def test_short_history_falls_back_to_seasonal_naive_and_says_so():
    forecast, choice = fit_predict_auto(traffic(2), horizon=72, step=H)
    assert choice.model == "seasonal_naive_weekly"
    assert "history too short to backtest" in choice.reason
    assert list(forecast.columns) == list(FORECAST_COLUMNS) and len(forecast) == 72


def test_a_failing_candidate_is_recorded_not_fatal(extra_models):
    choice = choose_model(traffic(21), ["broken"], horizon=24, folds=2, step=H)
    assert choice.model == "seasonal_naive_weekly"
    assert "failed: broken" in choice.reason
    errors = choice.scores.set_index("model")["error"]
    assert "LinAlgError: singular matrix" in errors["broken"]


def test_overconfident_intervals_are_calibrated(extra_models, monkeypatch):
    monkeypatch.setitem(__import__("forecaster.forecast.selection").forecast.selection.PRESETS, "test", ("overconfident",))
    history = traffic(49, seed=3)
    train, test = history.iloc[:-72], history.iloc[-72:]
    forecast, choice = fit_predict_auto(train, horizon=72, step=H, preset="test", folds=6)
    assert choice.calibrated and "calibrated" in choice.reason
    y = test["y"].to_numpy()
    coverage = np.mean((y >= forecast.yhat_lo_80) & (y <= forecast.yhat_hi_80))
    assert 0.6 <= coverage <= 0.95           # was 0 before calibration
    f = forecast
    assert (f.yhat_lo_95 <= f.yhat_lo_80).all() and (f.yhat_lo_80 <= f.yhat).all()
    assert (f.yhat <= f.yhat_hi_80).all() and (f.yhat_hi_80 <= f.yhat_hi_95).all()


def test_fit_predict_auto_fast_preset_frame():
    history = traffic(28, seed=4)
    forecast, choice = fit_predict_auto(history, horizon=72, step=H, preset="fast", folds=2, seed=1)
    assert list(forecast.columns) == list(FORECAST_COLUMNS)
    assert forecast["ds"].iloc[0] == history["ds"].iloc[-1] + H
    assert choice.model in preset_models("fast")
    again, _ = fit_predict_auto(history, horizon=72, step=H, preset="fast", folds=2, seed=1)
    pd.testing.assert_frame_equal(forecast, again)


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(UnknownName, match="known: fast, full"):
        fit_predict_auto(traffic(28), horizon=24, step=H, preset="fastest")


@pytest.mark.slow
def test_full_preset_runs_slow_models_on_one_fold():
    forecast, choice = fit_predict_auto(traffic(28, seed=5), horizon=72, step=H, preset="full", folds=3)
    folds = choice.scores.groupby("model")["fold"].count()
    assert folds["prophet"] == 1 and folds["mstl"] == 1 and folds["ets"] == 3
    assert len(forecast) == 72


def test_blend_backtest_fits_nothing_of_its_own(monkeypatch):
    from forecaster.forecast.models.blend import SeasonalBlend

    def no_fit(self, history, regressors=None):
        raise AssertionError("the blend's backtest must come from its components'")

    monkeypatch.setattr(SeasonalBlend, "fit", no_fit)
    choice = choose_model(traffic(28, seed=6), preset_models("fast"), horizon=72, folds=2, step=H)
    blend_rows = choice.scores[choice.scores.model == "seasonal_blend"]
    assert len(blend_rows) == 2 and blend_rows.error.isna().all()


def test_auto_intervals_cover_the_target_on_seeded_traffic():
    """Poisson counts with lognormal(0, 0.15) noise on a daily x weekly pattern, 20 seeds, the last
    72 h held out: the pooled coverage of auto's intervals lands in the target bands."""
    hits = {80: [], 95: []}
    for seed in range(20):
        history = traffic(31, seed=seed)
        train, test = history.iloc[:-72], history.iloc[-72:]
        forecast, _ = fit_predict_auto(train, horizon=72, step=H, preset="fast")
        y = test["y"].to_numpy()
        for level in hits:
            hits[level].append(np.mean((y >= forecast[f"yhat_lo_{level}"]) & (y <= forecast[f"yhat_hi_{level}"])))
    assert 0.75 <= np.mean(hits[80]) <= 0.88
    assert 0.90 <= np.mean(hits[95]) <= 0.99
