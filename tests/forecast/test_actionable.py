"""Forecasts and spikes you can act on (issue 12): spikes over the expected shape, robust history,
the selection floor, level-aware intervals, yearly uplifts, and the bounds on step, horizon and lead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forecaster.config import Settings
from forecaster.errors import BadInput
from forecaster.forecast.events import Event
from forecaster.forecast.fit import FitSpec, History, fit_series
from forecaster.forecast.robust import damp_outliers
from forecaster.forecast.run import run_forecast
from forecaster.forecast.selection import FLOOR, fit_predict_auto, pick
from forecaster.forecast.spikes import find_spikes
from forecaster.forecast.uplift import yearly_uplift
from forecaster.store.db import connect, run

H = pd.Timedelta("1h")
AS_OF = pd.Timestamp("2026-11-23 00:00")   # a Monday


def steady(weeks: int = 4, level: float = 1500.0, seed: int = 0, noise: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    ds = pd.date_range(AS_OF - weeks * pd.Timedelta("7D"), AS_OF - H, freq="1h")
    rng = np.random.default_rng(seed)
    shape = 1 + 0.5 * np.sin(2 * np.pi * (ds.hour.to_numpy() - 6) / 24)
    y = np.round(level * shape * rng.lognormal(0, noise, len(ds)))
    return ds.values, y


def spec(model: str = "auto", **kw) -> FitSpec:
    return FitSpec(horizon=72, step="1h", model=model, as_of=AS_OF, min_ratio=1.5, min_peak=5.0,
                   min_excess=30.0, **kw)


# ---- spikes ----------------------------------------------------------------------------------

def test_a_burst_on_a_zero_baseline_route_is_not_a_spike():
    ds, _ = steady()
    y = np.zeros(len(ds))
    y[-7 * 24 + 30] = 20.0                       # one burst of 20 a week back: a weekly naive would repeat it
    for model in ("auto", "seasonal_naive_weekly"):
        r = fit_series("route:shop|prod|GET /rare|us-east-1", History(ds, y), spec(model))
        assert r.spikes == [] and float(np.max(r.forecast["yhat"])) < 1.0
        assert any("damped 1 outlier" in n for n in r.notes)
    # and a forecast of 20 on a zero baseline, as such, is below the minimum excess: no spike, no inf
    f_ds = pd.date_range(AS_OF, periods=72, freq="1h")
    yhat = np.zeros(72)
    yhat[30] = 20.0
    frame = {"ds": f_ds.values, "yhat": yhat, "yhat_lo_80": yhat, "yhat_hi_80": yhat * 1.2}
    history = {"ds": ds, "y": np.zeros(len(ds))}
    assert find_spikes("r", frame, history, AS_OF, H, min_excess=30.0) == []
    yhat[30] = 500.0                              # a real surge on the same route: a spike with a finite ratio
    (s,) = find_spikes("r", frame, history, AS_OF, H, min_excess=30.0)
    assert np.isfinite(s.ratio) and s.ratio == pytest.approx(500.0) and s.peak_ts == AS_OF + 30 * H


def test_a_forecast_at_the_usual_shape_and_a_higher_level_flags_nothing():
    """A profile scaled up by a level factor (a ramp) is the expected traffic, not 72 h of spikes."""
    ds, y = steady()
    y[-72:] *= 1.8                                 # the level rose over the last three days
    r = fit_series("total", History(ds, y), spec("seasonal_profile"))
    assert r.spikes == []


def test_spikes_point_at_hours_and_leads_are_never_negative():
    ds, y = steady()
    f_ds = pd.date_range(AS_OF, periods=72, freq="1h")
    shape = 1500 * (1 + 0.5 * np.sin(2 * np.pi * (f_ds.hour.to_numpy() - 6) / 24))
    yhat = shape.copy()
    yhat[0:2] *= 3                                 # a surge in the first two steps
    yhat[40:43] *= 2.5
    frame = {"ds": f_ds.values, "yhat": yhat, "yhat_lo_80": yhat * 0.8, "yhat_hi_80": yhat * 1.2}
    late = AS_OF + pd.Timedelta(minutes=40)        # as-of not on the hour: the forecast starts before it
    spikes = find_spikes("total", frame, {"ds": ds, "y": y}, late, H, min_excess=30.0)
    assert [(s.start_ts, s.end_ts) for s in spikes] == [(AS_OF, AS_OF + 2 * H), (AS_OF + 40 * H, AS_OF + 43 * H)]
    assert spikes[0].lead_time_hours == 0.0 and spikes[1].lead_time_hours == pytest.approx(40 - 40 / 60)
    assert all(0.0 <= s.probability <= 1.0 for s in spikes)


def test_spike_probability_comes_from_the_backtest_residuals():
    ds, y = steady()
    f_ds = pd.date_range(AS_OF, periods=72, freq="1h")
    yhat = np.full(72, 1500.0)
    yhat[30] = 4000.0
    frame = {"ds": f_ds.values, "yhat": yhat, "yhat_lo_80": yhat * 0.9, "yhat_hi_80": yhat * 1.1}
    hist = {"ds": ds, "y": np.full(len(ds), 1500.0)}
    # residuals: the actual came in at half the forecast in 3 of 4 backtest steps
    residuals = np.log(np.r_[np.full(30, 0.5), np.full(10, 1.0)])
    (s,) = find_spikes("total", frame, hist, AS_OF, H, min_excess=30.0, residuals=residuals)
    assert s.probability == pytest.approx(0.25, abs=0.01)


# ---- robust history --------------------------------------------------------------------------

def test_a_history_outlier_does_not_reach_the_forecast():
    ds, y = steady()
    y[-24] = 1e12                                  # a logging glitch a day back
    for model in ("auto", "ets", "seasonal_naive_daily"):
        r = fit_series("total", History(ds, y), spec(model))
        assert float(np.max(r.forecast["yhat_hi_95"])) < 10_000, model
        assert r.spikes == []
        assert any("damped 1 outlier" in n and "1e+12" in n for n in r.notes)


def test_an_outlier_on_a_calendar_event_is_kept():
    ds, y = steady()
    y[-24] = 20_000.0
    protected = np.zeros(len(y), dtype=bool)
    protected[-24] = True
    kept, note = damp_outliers(ds, y, H, protected)
    assert note is None and kept[-24] == 20_000.0
    damped, note = damp_outliers(ds, y, H)
    assert damped[-24] < 5_000 and "damped 1 outlier" in note
    assert "(largest 20,000 where " in note and "e+0" not in note   # read as a person reads counts
    assert y[-24] == 20_000.0                      # the caller's array is not modified


def test_a_level_shift_is_not_an_outlier():
    ds, y = steady()
    y[-5 * 24:] *= 3                               # five days at three times the old level
    damped, note = damp_outliers(ds, y, H)
    assert note is None and np.array_equal(damped, y)


# ---- selection floor, level-aware intervals ---------------------------------------------------

def test_selection_never_picks_a_candidate_worse_than_the_floor():
    folds = {FLOOR: {0: 1.0, 1: 1.0}, "ets": {0: 0.9, 1: 1.2}, "seasonal_profile": {0: 1.004, 1: 0.998}}
    assert pick(folds, 2, 72)[0] == FLOOR          # ets 1.05 on average; the profile ties the floor
    # a slow model far better than the best cheap one on its fold, but worse than the floor there
    folds = {FLOOR: {0: 1.0, 1: 1.0}, "ets": {0: 1.2, 1: 0.6}, "prophet": {0: 1.1}}
    assert pick(folds, 2, 72)[0] == "ets"
    # ties go to the simpler model
    folds = {FLOOR: {0: 1.0, 1: 1.0}, "ets": {0: 0.800, 1: 0.800}, "seasonal_profile": {0: 0.801, 1: 0.802}}
    assert pick(folds, 2, 72)[0] == "seasonal_profile"


def test_auto_choice_is_never_worse_than_the_floor_on_its_folds():
    ds, y = steady(6, noise=0.4, seed=3)
    forecast, choice = fit_predict_auto(pd.DataFrame({"ds": ds, "y": y}), 72, H, "fast")
    means = choice.scores.groupby("model")["rel_mae"].mean()
    assert means[choice.model] <= means[FLOOR]


def test_a_ramp_keeps_coverage():
    """Traffic doubling over four weeks: daily as-of runs keep the 80% interval near its level."""
    rng = np.random.default_rng(5)
    ds = pd.date_range("2026-09-07", periods=10 * 7 * 24, freq="1h")
    ramp = 1 + np.clip((ds - pd.Timestamp("2026-10-05")) / pd.Timedelta("28D"), 0, 1)
    shape = 1 + 0.5 * np.sin(2 * np.pi * (ds.hour.to_numpy() - 6) / 24)
    weekly = np.where(ds.day_of_week.to_numpy() >= 5, 0.7, 1.0)
    y = np.round(800 * ramp * shape * weekly * rng.lognormal(0, 0.12, len(ds)))
    hits = n = 0
    for day in range(14, 28, 2):                   # as-of points inside the ramp
        as_of = pd.Timestamp("2026-10-05") + pd.Timedelta(days=day)
        past = (ds < as_of) & (ds >= as_of - pd.Timedelta("56D"))
        r = fit_series("total", History(ds[past].values, y[past]),
                       FitSpec(horizon=72, step="1h", as_of=as_of, min_excess=30.0))
        test = (ds >= as_of) & (ds < as_of + 72 * H)
        actual = y[test]
        hits += int(((actual >= r.forecast["yhat_lo_80"]) & (actual <= r.forecast["yhat_hi_80"])).sum())
        n += len(actual)
        assert r.spikes == []
    assert 0.72 <= hits / n <= 0.95


def test_the_run_reports_the_coverage_of_the_stored_intervals():
    ds, y = steady(6, noise=0.3, seed=1)
    _, choice = fit_predict_auto(pd.DataFrame({"ds": ds, "y": y}), 72, H, "fast")
    rows = choice.scores[choice.scores["model"] == choice.model]
    for level in (80, 95):
        if choice.intervals.methods[level] != "own":
            expected = [choice.intervals.fold_coverage[level][int(f)] for f in rows["fold"]]
            assert rows[f"coverage_{level}"].tolist() == pytest.approx(expected)


# ---- yearly events ---------------------------------------------------------------------------

def test_yearly_uplift_is_measured_in_history_else_taken_from_the_calendar():
    ds, y = steady(6)
    idx = pd.DatetimeIndex(ds)
    past_holiday = Event("Some holiday", pd.Timestamp("2026-11-11"), pd.Timestamp("2026-11-12"), kind="holiday")
    next_holiday = Event("Thanksgiving", pd.Timestamp("2026-11-24"), pd.Timestamp("2026-11-25"), kind="holiday")
    y = y.copy()
    y[(idx >= past_holiday.start) & (idx < past_holiday.end)] *= 0.5       # holidays halve this route
    future = pd.date_range(AS_OF, periods=72, freq="1h")
    mult, notes = yearly_uplift([past_holiday, next_holiday], "total", ds, y, future, H)
    on = (future >= next_holiday.start) & (future < next_holiday.end)
    assert mult[on] == pytest.approx(0.5, abs=0.03) and np.all(mult[~on] == 1.0)
    assert notes and "measured in history" in notes[0]
    launch_day = Event("Anniversary sale", pd.Timestamp("2025-11-25"), pd.Timestamp("2025-11-26"),
                       expected_uplift=3.0, recurring="yearly")
    mult, notes = yearly_uplift([launch_day], "total", ds, y, future, H)
    assert mult is None and notes == ["Anniversary sale: uplift x3 from the calendar's expected_uplift (no past occurrence)"]
    # the run applies the measured uplift for a model that ignores regressors
    r = fit_series("total", History(ds, y), spec("seasonal_naive_weekly", events=(past_holiday, next_holiday)))
    f_on = (pd.DatetimeIndex(r.forecast["ds"]) >= next_holiday.start) & (pd.DatetimeIndex(r.forecast["ds"]) < next_holiday.end)
    plain = fit_series("total", History(ds, y), spec("seasonal_naive_weekly"))
    assert r.forecast["yhat"][f_on].sum() == pytest.approx(0.5 * plain.forecast["yhat"][f_on].sum(), rel=0.05)
    assert any("holidays: uplift" in n for n in r.notes)


# ---- step, horizon, notes in the run ---------------------------------------------------------

@pytest.fixture
def hourly_db(tmp_path):
    """Hourly counts stored as minute rows at :00 (what an hourly counts file ingests as), with one outlier."""
    ds, y = steady(3)
    y[-30] = 1e9
    frame = pd.DataFrame({"ts": pd.DatetimeIndex(ds), "api": "shop", "stage": "prod", "route": "GET /products",
                          "region": "us-east-1", "requests": y})
    path = tmp_path / "h.duckdb"
    con = connect(path)
    con.register("_c", frame)
    run(con, """INSERT INTO traffic_1m (ts, api, stage, route, region, api_type, requests, status_4xx, status_5xx, bytes_out, latency_n, latency_ms_sum, latency_p50_ms, latency_p95_ms, latency_p99_ms, integration_n, integration_ms_sum, billed_ms_sum)
        SELECT ts, api, stage, route, region, 'rest', requests, 0, 0, 0, 0, 0,
                NULL, NULL, NULL, 0, 0, 0 FROM _c""")
    con.unregister("_c")
    con.close()
    return Settings(db=path, holiday_country=None, forecast_history_days=None)


def test_step_finer_than_the_data_is_refused_and_horizon_is_bounded(hourly_db):
    con = connect(hourly_db.db)
    with pytest.raises(BadInput, match="finer than the data.*use --step 1h"):
        run_forecast(con, hourly_db, step="5m", horizon="24h", workers=1)
    with pytest.raises(BadInput, match="forecast_max_horizon = 14d"):
        run_forecast(con, hourly_db, horizon="1000000h", workers=1)
    s = run_forecast(con, hourly_db, step="1h", horizon="24h", workers=1, model="seasonal_naive_weekly")
    assert s.status == "ok" and s.series == 5
    # the outlier is named in the run's notes, for the route and every aggregate holding it
    assert len(s.notes) == 5 and all("damped 1 outlier" in n for n in s.notes)
    assert s.notes[0].split(":")[0] in {"api", "region", "route", "stage", "total"}
    peak = con.execute("SELECT max(yhat_hi_95) FROM forecasts WHERE run_id = ?", [s.run_id]).fetchall()[0][0]
    assert peak < 10_000
    con.close()
