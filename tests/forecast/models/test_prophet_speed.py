"""The Prophet shortcuts return exactly what the originals do."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.forecast.models import prophet_speed


def test_stan_json_writer_writes_the_same_bytes(tmp_path):
    from stanio.json import write_stan_json as original

    data = {"T": 672, "K": 3, "t": np.linspace(0, 1, 50), "cap": np.zeros(50), "X": np.random.default_rng(0).normal(size=(50, 3)),
            "sigmas": [10.0, 0.5, float("nan")], "tau": 0.05, "trend_indicator": 0, "s_a": np.array([1, 0, 1]),
            "flag": True, "inf": np.array([np.inf, -np.inf]), "y": pd.Series([1.5, 2.25])}
    original(str(tmp_path / "a.json"), data)
    prophet_speed.write_stan_json(str(tmp_path / "b.json"), data)
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()


def test_cached_holidays_equal_the_original_and_are_copies():
    from prophet.make_holidays import get_holiday_names, make_holidays_df

    cached = prophet_speed.cached_holidays_df(make_holidays_df)
    for years in ([2026], [2027, 2026], [2025, 2026, 2027]):
        first = cached(year_list=years, country="US")
        pd.testing.assert_frame_equal(first, make_holidays_df(year_list=years, country="US"))
        first["holiday"] = "changed by a caller"
        assert "changed by a caller" not in set(cached(year_list=years, country="US")["holiday"])  # no leak
    names = prophet_speed.cached_holiday_names(get_holiday_names)
    assert names("US") == get_holiday_names("US")
    names("US").clear()
    assert names("US") == get_holiday_names("US")


@pytest.mark.slow
def test_prophet_forecast_is_unchanged_by_the_shortcuts(monkeypatch):
    """A fit with the originals and one with the shortcuts give the same forecast."""
    import cmdstanpy.utils.filesystem as files
    import prophet.forecaster as pf
    from prophet import make_holidays
    from stanio.json import write_stan_json

    from forecaster.forecast.models import get_model

    ds = pd.date_range("2026-01-05", periods=21 * 24, freq="h")
    y = np.random.default_rng(1).poisson(100 * (1.3 + np.sin(2 * np.pi * ds.hour.to_numpy() / 24))).astype(float)
    history = pd.DataFrame({"ds": ds, "y": y})
    prophet_speed.install()
    fast = get_model("prophet", step=pd.Timedelta("1h"), seed=0).fit(history).predict(72)
    monkeypatch.setattr(pf, "make_holidays_df", make_holidays.make_holidays_df)
    monkeypatch.setattr(pf, "get_holiday_names", make_holidays.get_holiday_names)
    monkeypatch.setattr(files, "write_stan_json", write_stan_json)
    slow = get_model("prophet", step=pd.Timedelta("1h"), seed=0).fit(history).predict(72)
    pd.testing.assert_frame_equal(fast, slow)
