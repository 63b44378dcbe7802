"""Rolling-origin backtests and the metric registry."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.forecast.backtest import backtest, make_folds
from forecaster.errors import InsufficientHistory, UnknownName
from forecaster.forecast.metrics import Scored, compute, metric_names, register_metric


def traffic(days: float, seed: int = 0, level: float = 100.0) -> pd.DataFrame:
    ds = pd.date_range("2026-01-05", periods=int(days * 24), freq="h")
    daily = 1 + 0.5 * np.sin(2 * np.pi * ds.hour.to_numpy() / 24)
    weekly = np.where(ds.day_of_week.to_numpy() >= 5, 0.5, 1.2)
    y = np.random.default_rng(seed).poisson(level * daily * weekly).astype(float)
    return pd.DataFrame({"ds": ds, "y": y})


def test_folds_step_back_by_one_horizon_from_the_end():
    history = traffic(21)
    folds = make_folds(history, horizon=24, folds=3)
    assert [f.cutoff for f in folds] == [history.ds.iloc[-25], history.ds.iloc[-49], history.ds.iloc[-73]]
    assert all(len(f.test) == 24 for f in folds)
    assert folds[0].test.ds.iloc[-1] == history.ds.iloc[-1]


def test_folds_stop_at_the_minimum_training_length():
    folds = make_folds(traffic(5), horizon=24, folds=5)       # 3 days minimum training
    assert len(folds) == 2
    with pytest.raises(InsufficientHistory, match=r"needs at least 96 steps .* history has 72 steps"):
        make_folds(traffic(3), horizon=24, folds=3)


def test_weekly_naive_has_rel_mae_one_and_the_expected_columns():
    rows = backtest(traffic(21), "seasonal_naive_weekly", horizon=24, folds=2, step=pd.Timedelta("1h"))
    assert list(rows.columns) == ["fold", "cutoff", "horizon", "n_actual", "mae", "rel_mae", "mase", "smape",
                                  "coverage_80", "coverage_95"]
    assert np.allclose(rows["rel_mae"], 1.0)
    assert (rows["horizon"] == 24).all()


def test_profile_beats_naive_on_seasonal_noisy_traffic():
    rows = backtest(traffic(28, seed=1), "seasonal_profile", horizon=72, folds=3)
    assert rows["rel_mae"].mean() < 0.95


def test_missing_actuals_are_excluded():
    history = traffic(21, seed=2)
    y = history["y"].to_numpy().copy()
    y[-10:] = np.nan
    rows = backtest(history.assign(y=y), "seasonal_naive_weekly", horizon=24, folds=1)
    assert rows["n_actual"].iloc[0] == 14
    assert np.isfinite(rows[["mae", "smape", "coverage_80"]].to_numpy()).all()


def test_metrics_against_hand_computed_numbers():
    forecast = pd.DataFrame({"yhat": [10.0, 0.0, 5.0], "yhat_lo_80": [8.0, 0.0, 0.0], "yhat_hi_80": [12.0, 1.0, 4.0],
                             "yhat_lo_95": [5.0, 0.0, 0.0], "yhat_hi_95": [15.0, 2.0, 9.0]})
    scored = Scored(np.array([12.0, 0.0, 8.0]), forecast, benchmark=np.array([10.0, 2.0, 8.0]), scale=2.0)
    m = compute(["mae", "rel_mae", "mase", "smape", "coverage_80", "coverage_95"], scored)
    assert m["mae"] == pytest.approx(5 / 3)                       # |2| + 0 + |3|
    assert m["rel_mae"] == pytest.approx((5 / 3) / (4 / 3))       # naive: 2 + 2 + 0
    assert m["mase"] == pytest.approx((5 / 3) / 2)
    assert m["smape"] == pytest.approx(100 * (4 / 22 + 0 + 6 / 13) / 3)
    assert m["coverage_80"] == pytest.approx(2 / 3)               # 12 in [8,12], 0 in [0,1], 8 not in [0,4]
    assert m["coverage_95"] == pytest.approx(1.0)


def test_metric_registry_names_the_known_ones():
    assert {"mae", "rel_mae", "mase", "smape", "coverage_80", "coverage_95"} <= set(metric_names())
    with pytest.raises(UnknownName, match="known: "):
        compute(["nope"], Scored(np.array([1.0]), pd.DataFrame({"yhat": [1.0]}), np.array([1.0]), 1.0))
    with pytest.raises(ValueError, match="already registered"):
        register_metric("mae")(lambda s: 0.0)


def test_batched_ets_folds_equal_fold_by_fold():
    """ETS fits all folds' grid searches at once; the forecasts are those of one fit per fold."""
    from forecaster.forecast.backtest import evaluate_arrays
    from forecaster.forecast.models import get_model

    history = traffic(28, seed=4)
    history.loc[history.index[100:110], "y"] = np.nan
    folds = make_folds(history, horizon=72, folds=3, step=pd.Timedelta("1h"))
    assert get_model("ets").forecasts_folds
    batched = evaluate_arrays(folds, "ets", 72)
    for fold in folds:
        one = get_model("ets", step=fold.step).fit(fold.train_data).forecast_arrays(72)
        rows = batched["fold"] == fold.index
        for c in ("yhat", "yhat_lo_80", "yhat_hi_80", "yhat_lo_95", "yhat_hi_95"):
            np.testing.assert_array_equal(batched[c][rows], one[c])


def test_a_subclass_that_changes_predicting_is_not_batched():
    from forecaster.forecast.models.ets import ETS

    class Shifted(ETS):
        def predict_arrays(self, horizon, levels=(80, 95), future_regressors=None):
            return super().predict_arrays(horizon, levels, future_regressors)

    class Framed(ETS):
        def predict(self, horizon, levels=(80, 95), future_regressors=None):
            return super().predict(horizon, levels, future_regressors)

    assert ETS.forecasts_folds and ETS.predicts_arrays
    assert not Shifted.forecasts_folds and Shifted.predicts_arrays
    assert not Framed.forecasts_folds and not Framed.predicts_arrays  # its own predict wins over the kernel
