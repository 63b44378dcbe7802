"""ets_filter reproduces statsmodels' ETSModel (heuristic initial states, every parameter fixed)."""

import warnings

import numpy as np
import pandas as pd
import pytest
from statsmodels.tsa.exponential_smoothing.ets import ETSModel

from forecaster.forecast.models.ets import ets_filter


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


@pytest.mark.parametrize("seasonal_periods", [24, 12, 7, None])
@pytest.mark.parametrize("n", [48, 100, 336, 501])
def test_initial_states_match_statsmodels_heuristic(seasonal_periods, n):
    from statsmodels.tsa.exponential_smoothing.initialization import _initialization_heuristic

    from forecaster.forecast.models.ets import initial_states

    rng = np.random.default_rng(n)
    z = np.log1p(rng.poisson(100, n).astype(float)) + 0.01 * np.arange(n)
    level, slope, season = _initialization_heuristic(z, trend="add", seasonal="add" if seasonal_periods else None,
                                                     seasonal_periods=seasonal_periods)
    ours = initial_states(z, seasonal_periods)
    assert ours[0] == pytest.approx(level, abs=1e-12) and ours[1] == pytest.approx(slope, abs=1e-12)
    if seasonal_periods:
        np.testing.assert_allclose(ours[2], season, atol=1e-12)
    else:
        assert ours[2] is None


def test_grid_search_is_the_plain_recursion():
    """The buffered grid search gives the same parameters as the textbook loop over the grid."""
    from forecaster.forecast.models.ets import grid_search, parameter_grid

    rng = np.random.default_rng(5)
    for _ in range(5):
        z = np.log1p(rng.poisson(rng.uniform(1, 500), 14 * 24).astype(float))
        grid = parameter_grid(True, True)
        alpha, beta, gamma, phi = grid.T
        level = np.full(len(grid), z[:24].mean())
        trend = np.full(len(grid), (z[24:48].mean() - z[:24].mean()) / 24)
        states = np.tile(z[:24] - z[:24].mean(), (len(grid), 1))
        sse = np.zeros(len(grid))
        for t, y in enumerate(z):
            base = level + phi * trend
            e = y - base - states[:, t % 24]
            level, trend = base + alpha * e, phi * trend + beta * e
            states[:, t % 24] += gamma * e
            if t >= 24:
                sse += e * e
        assert (grid_search(z, 24, True) == grid[int(np.argmin(sse))]).all()
