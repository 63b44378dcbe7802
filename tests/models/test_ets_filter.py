"""ets_filter reproduces statsmodels' ETSModel (heuristic initial states, every parameter fixed)."""

import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.tsa.exponential_smoothing.ets import ETSModel

from forecaster.models.ets import ets_filter


@pytest.mark.parametrize("seasonal_periods, damped", [(24, True), (24, False), (None, True)])
def test_filter_matches_statsmodels(seasonal_periods, damped):
    rng = np.random.default_rng(3)
    t = np.arange(14 * 24)
    z = np.log1p(200 * (1 + 0.5 * np.sin(2 * np.pi * t / 24)) * rng.lognormal(0, 0.1, t.size) + 0.01 * t)
    alpha, beta, gamma, phi = 0.2, 0.005, 0.1, 0.98
    fixed = {"smoothing_level": alpha, "smoothing_trend": beta}
    if seasonal_periods:
        fixed["smoothing_seasonal"] = gamma
    if damped:
        fixed["damping_trend"] = phi
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = ETSModel(pd.Series(z), error="add", trend="add", damped_trend=damped,
                         seasonal="add" if seasonal_periods else None, seasonal_periods=seasonal_periods,
                         initialization_method="heuristic")
        with model.fix_params(fixed):
            result = model.fit(disp=False)
    level, slope, season, mse = ets_filter(z, alpha, beta, gamma if seasonal_periods else 0.0,
                                           phi if damped else 1.0, seasonal_periods)
    assert level == pytest.approx(float(np.asarray(result.level)[-1]), abs=1e-9)
    assert slope == pytest.approx(float(np.asarray(result.slope)[-1]), abs=1e-9)
    assert mse == pytest.approx(float(result.mse), rel=1e-9)
    if seasonal_periods:
        np.testing.assert_allclose(season, np.asarray(result.season, dtype=float)[-seasonal_periods:], atol=1e-9)
