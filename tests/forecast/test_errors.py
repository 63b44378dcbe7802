"""Errors match their meaning: an unknown run or series is NotFound (404), a model's bad output is a
ModelError (ours, not the caller's BadInput), a slow series a SeriesTimeout (504)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.errors import BadInput, ModelError, NotFound, SeriesTimeout
from forecaster.forecast.fit import _checked
from forecaster.forecast.run import load_spikes
from forecaster.forecast.series import SeriesFrame
from forecaster.store.db import connect


def test_an_unknown_run_id_is_not_found(tmp_path):
    con = connect(tmp_path / "f.duckdb")
    with pytest.raises(NotFound, match="no finished forecast run yet"):
        load_spikes(con)
    with pytest.raises(NotFound, match="no run 'fo-nope'") as e:
        load_spikes(con, "fo-nope")
    assert e.value.status == 404
    con.close()


def test_a_models_bad_output_is_a_model_error_not_bad_input():
    future = pd.date_range("2026-11-02", periods=3, freq="h")
    good = {"ds": future.values, **{c: np.ones(3) for c in ("yhat", "yhat_lo_80", "yhat_hi_80", "yhat_lo_95",
                                                             "yhat_hi_95")}}
    assert set(_checked(good, future)) == set(good)
    for bad, why in [({k: v for k, v in good.items() if k != "yhat_hi_95"}, "lacks columns"),
                     ({**good, "ds": future.values[:2]}, "returned 2 steps"),
                     ({**good, "yhat": np.array([1.0, np.nan, 1.0])}, "non-finite")]:
        with pytest.raises(ModelError, match=why) as e:
            _checked(bad, future)
        assert not isinstance(e.value, BadInput) and e.value.status == 500


def test_an_unknown_series_is_not_found():
    frame = SeriesFrame(["route:a"], np.array([0, 2]), pd.date_range("2026-11-02", periods=2, freq="h").values,
                        np.ones(2), "1h", None)
    assert len(frame.get("route:a")) == 2
    with pytest.raises(NotFound, match="no series 'route:b'; there are 1 series"):
        frame.get("route:b")


def test_series_timeout_lives_with_the_other_errors():
    from forecaster.forecast import fit

    assert SeriesTimeout.status == 504 and fit.SeriesTimeout is SeriesTimeout


def test_no_series_to_forecast_says_which_of_the_three_reasons(tmp_path):
    """Too little data for one step, an --as-of before the data, a --routes that matches nothing:
    each error names the span traffic_1m holds and what to do."""
    from forecaster.config import Settings
    from forecaster.forecast.run import run_forecast
    from forecaster.store.db import run

    con = connect(tmp_path / "f.duckdb")
    for ts in ("2026-11-20 10:00", "2026-11-20 10:03", "2026-11-20 10:06"):
        run(con, "INSERT INTO traffic_1m (ts, api, stage, route, region, api_type, requests, status_4xx, status_5xx, "
                 "bytes_out, latency_n, latency_ms_sum, integration_n, integration_ms_sum, billed_ms_sum) "
                 "VALUES (?, 'a', 's', 'GET /x', 'r', 'rest', 5, 0, 0, 0, 0, 0, 0, 0, 0)", [ts])
    s = Settings(db=tmp_path / "f.duckdb", forecast_history_days=None)
    with pytest.raises(BadInput, match=r"holds 2026-11-20 10:00 .. 2026-11-20 10:06: not one whole 1h step.*or use --step 5m$"):
        run_forecast(con, s, workers=1)
    with pytest.raises(BadInput, match=r"no traffic before --as-of 2026-11-01"):
        run_forecast(con, s, workers=1, as_of=pd.Timestamp("2026-11-01"))
    with pytest.raises(BadInput, match=r"no series matches --routes \['nothing\*'\]"):
        run_forecast(con, s, workers=1, step="5m", as_of=pd.Timestamp("2026-11-20 10:10"), routes=["nothing*"])
    con.close()
