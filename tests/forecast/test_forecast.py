"""The forecast run (forecast, fit, engines): rows written, engines agree, failures fall back and are recorded, spikes ahead, CLI."""

from __future__ import annotations

import concurrent.futures as cf
import json
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from forecaster.config import Settings
from forecaster.forecast.engines import _bounded
from forecaster.errors import SeriesTimeout
from forecaster.forecast.run import run_forecast
from forecaster.forecast.models import register_model
from forecaster.forecast.models.base import model_names
from forecaster.forecast.models.naive import SeasonalNaive
from forecaster.store.db import connect, run

START = pd.Timestamp("2026-11-02")          # a Monday
DAYS = 21
END = START + pd.Timedelta(days=DAYS)                # end of the data, the as-of point of the runs
EVENT = END + pd.Timedelta(hours=36)                  # 36h after it
ROUTES = [("shop", "prod", "GET /products", "us-east-1", 100.0), ("shop", "prod", "POST /orders", "us-east-1", 20.0),
          ("pay", "v1", "POST /charge", "eu-west-1", 10.0)]
EVENTS_CSV = "name,start,end,routes,expected_uplift\nMega sale,{s},{e},shop:*,4\n"


# ---- test models (registered once; module-level classes, so they reach the worker processes) ----

class _Fails(SeasonalNaive):
    def __init__(self, step=None, seed=0):
        super().__init__("test_always_fails", pd.Timedelta("7D"), step, seed)

    def fit(self, history, regressors=None):
        raise RuntimeError("boom: this model always fails")


class _Sleeps(SeasonalNaive):
    def __init__(self, step=None, seed=0):
        super().__init__("test_sleeps", pd.Timedelta("7D"), step, seed)

    def fit(self, history, regressors=None):
        time.sleep(30)
        return self


if "test_always_fails" not in model_names():
    register_model("test_always_fails")(_Fails)
    register_model("test_sleeps")(_Sleeps)


def counts(days: int = DAYS, seed: int = 0) -> pd.DataFrame:
    """Hourly Poisson counts with a daily cycle, one row per route and hour (as traffic_1m minute rows)."""
    rng = np.random.default_rng(seed)
    ds = pd.date_range(START, periods=days * 24, freq="1h")
    shape = 1 + 0.5 * np.sin(2 * np.pi * (ds.hour.to_numpy() - 6) / 24)
    rows = []
    for api, stage, route, region, level in ROUTES:
        y = rng.poisson(level * shape)
        rows.append(pd.DataFrame({"ts": ds, "api": api, "stage": stage, "route": route, "region": region, "requests": y}))
    return pd.concat(rows, ignore_index=True)


def load(con, frame: pd.DataFrame) -> None:
    con.register("_c", frame)
    run(con, """INSERT INTO traffic_1m (ts, api, stage, route, region, api_type, requests, status_4xx, status_5xx, bytes_out, latency_n, latency_ms_sum, latency_p50_ms, latency_p95_ms, latency_p99_ms, integration_n, integration_ms_sum, billed_ms_sum) SELECT ts, api, stage, route, region, 'rest', requests, 0, 0, 0, 0, 0,
                NULL, NULL, NULL, 0, 0, 0 FROM _c WHERE requests > 0""")
    con.unregister("_c")


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "f.duckdb"
    con = connect(path)
    load(con, counts())
    con.close()
    return path


@pytest.fixture
def settings(db, tmp_path):
    ev = tmp_path / "events.csv"
    ev.write_text(EVENTS_CSV.format(s=EVENT.isoformat(), e=(EVENT + pd.Timedelta(hours=6)).isoformat()))
    return Settings(db=db, holiday_country="US", forecast_timeout_s=5, events_file=ev, forecast_history_days=None)


def table(con, sql, params=None) -> pd.DataFrame:
    return con.execute(sql, params or []).df()


def test_run_writes_forecasts_spikes_and_the_run_row(settings):
    con = connect(settings.db)
    s = run_forecast(con, settings, model="seasonal_profile", workers=1, as_of=END)
    assert s.status == "ok" and s.series == 3 + 2 + 2 + 2 + 1      # routes, apis, stages, regions, total
    assert s.cutoff == str(START + pd.Timedelta(days=DAYS)) and s.horizon_steps == 72
    fc = table(con, "SELECT * FROM forecasts WHERE run_id = ?", [s.run_id])
    assert len(fc) == s.series * 72 and fc["ds"].min() == START + pd.Timedelta(days=DAYS)
    assert (fc["yhat_lo_95"] <= fc["yhat_lo_80"]).all() and (fc["yhat_lo_80"] <= fc["yhat"]).all()
    assert (fc["yhat"] <= fc["yhat_hi_80"]).all() and (fc["yhat_hi_80"] <= fc["yhat_hi_95"]).all()
    bt = table(con, "SELECT * FROM backtests WHERE run_id = ?", [s.run_id])
    assert len(bt) and bt["chosen"].all() and set(bt["model"]) == {"seasonal_profile"}
    row = con.execute("SELECT kind, status, summary, params FROM runs WHERE run_id = ?", [s.run_id]).fetchall()[0]
    assert row[:2] == ("forecast", "ok") and json.loads(row[2])["series"] == s.series
    assert json.loads(row[3])["model"] == "seasonal_profile"
    # the calendar's 4x sale 36h ahead on shop routes is a spike seen more than 24h ahead
    sp = table(con, "SELECT * FROM spikes WHERE run_id = ?", [s.run_id])
    products = sp[sp.series == "route:shop|prod|GET /products|us-east-1"]
    assert len(products) == 1
    (p,) = products.itertuples()
    assert p.start_ts == EVENT and p.lead_time_hours >= 24 and p.event == "Mega sale"
    assert 0 <= p.probability <= 1 and p.ratio > 3
    assert sp[sp.series.str.contains("pay")].empty
    assert s.spikes == len(sp) and s.accuracy["rel_mae"] is not None
    con.close()


def test_auto_selection_records_every_candidate_and_the_choice(settings):
    con = connect(settings.db)
    s = run_forecast(con, settings, routes="GET /products", workers=1, as_of=END)
    assert s.series == 1 and s.per_series[0]["model"] in s.by_model
    bt = table(con, "SELECT * FROM backtests WHERE run_id = ?", [s.run_id])
    assert bt["model"].nunique() >= 3
    assert set(bt.loc[bt.chosen, "model"]) == {s.per_series[0]["model"]}
    assert bt["note"].str.len().min() > 0
    # the spike is there whatever model won (uplift applied for models that ignore regressors)
    assert table(con, "SELECT count(*) AS n FROM spikes WHERE run_id = ? AND event = 'Mega sale'", [s.run_id])["n"][0] == 1
    con.close()


def test_as_of_forecasts_from_the_past_only(settings):
    con = connect(settings.db)
    load(con, pd.DataFrame({"ts": [START + pd.Timedelta(days=15, hours=1, minutes=7)], "api": ["shop"], "stage": ["prod"],
                            "route": ["GET /products"], "region": ["us-east-1"], "requests": [10**9]}))
    s = run_forecast(con, settings, model="seasonal_naive_weekly", as_of=START + pd.Timedelta(days=15), workers=1,
                     routes="route:*")
    fc = table(con, "SELECT * FROM forecasts WHERE run_id = ?", [s.run_id])
    assert fc["ds"].min() == START + pd.Timedelta(days=15) and fc["yhat_hi_95"].max() < 10**6
    con.close()


def test_failing_model_falls_back_and_is_recorded(settings):
    con = connect(settings.db)
    s = run_forecast(con, settings, model="test_always_fails", workers=2, routes="route:*")
    assert s.fallbacks == 3 and s.models == {"seasonal_naive_weekly": 3}
    assert all("boom: this model always fails" in r["reason"] and r["reason"].startswith("fallback:")
               for r in s.per_series)
    fc = table(con, "SELECT DISTINCT model FROM forecasts WHERE run_id = ?", [s.run_id])
    assert fc["model"].tolist() == ["seasonal_naive_weekly"]
    con.close()


def test_slow_model_times_out_and_falls_back(settings):
    """The model sleeps 30 s: only the per-series alarm makes it fall back (timings: bench/bench_deadlines.py)."""
    con = connect(settings.db)
    s = run_forecast(con, settings.model_copy(update={"forecast_timeout_s": 0.5}), model="test_sleeps", workers=1,
                     routes="GET /products")
    assert s.fallbacks == 1 and "SeriesTimeout" in s.per_series[0]["reason"]
    con.close()


def test_engine_gives_up_on_a_hung_worker():
    """The parent-side deadline (for threads, where no alarm can interrupt the fit): the slow task is
    given up (its sleep would have returned None); timings: bench/bench_deadlines.py."""
    with cf.ThreadPoolExecutor(2) as pool:
        def submit(task):
            return pool.submit(time.sleep, 1.5 if task[0] == "slow" else 0)
        tasks = [("slow", None), ("a", None), ("b", None)]
        out = {sid: res for sid, _h, res in _bounded(submit, tasks, limit=2, workers=2, backstop_s=0.3)}
    assert isinstance(out["slow"], SeriesTimeout) and out["a"] is None and out["b"] is None


def test_failed_run_is_marked_failed(tmp_path):
    con = connect(tmp_path / "empty.duckdb")
    with pytest.raises(Exception, match="no traffic"):
        run_forecast(con, Settings(db=tmp_path / "empty.duckdb"), model="seasonal_naive_weekly", workers=1)
    assert con.execute("SELECT status, error FROM runs").fetchall()[0][0] == "failed"
    with pytest.raises(Exception, match="unknown engine 'spark'"):
        run_forecast(con, Settings(db=tmp_path / "empty.duckdb"), engine="spark")
    con.close()


@pytest.mark.slow
def test_local_and_dask_engines_give_identical_forecasts(settings):
    con = connect(settings.db)
    runs = [run_forecast(con, settings, engine=engine, workers=2, dask_processes=False, routes="route:*")
            for engine in ("local", "dask")]
    frames = [table(con, "SELECT series, ds, model, yhat, yhat_lo_80, yhat_hi_80, yhat_lo_95, yhat_hi_95 "
                         "FROM forecasts WHERE run_id = ? ORDER BY series, ds", [r.run_id]) for r in runs]
    pd.testing.assert_frame_equal(frames[0], frames[1])
    assert runs[0].models == runs[1].models and runs[1].engine == "dask"
    con.close()


@pytest.mark.slow
def test_cli_json_shapes_via_subprocess(settings, tmp_path):
    env_cfg = tmp_path / "forecaster.toml"
    env_cfg.write_text(f'holiday_country = "US"\nevents_file = "{settings.events_file}"\n')
    base = [sys.executable, "-m", "forecaster"]
    out = subprocess.run(base + ["forecast", "--db", str(settings.db), "--model", "seasonal_profile", "--workers", "1",
                                 "--routes", "route:shop*", "--as-of", str(END), "--config", str(env_cfg), "--json"],
                         capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    assert {"run_id", "series", "models", "accuracy", "spikes", "seconds", "per_series"} <= set(summary)
    assert summary["series"] == 2 and set(summary["per_series"][0]) >= {"series", "model", "rel_mae", "peak", "spikes"}
    out = subprocess.run(base + ["spikes", "--db", str(settings.db), "--json"], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    spikes = json.loads(out.stdout)
    assert spikes["run_id"] == summary["run_id"] and len(spikes["spikes"]) == summary["spikes"] >= 2
    assert {"start_ts", "peak", "ratio", "probability", "lead_time_hours", "reason", "event"} <= set(spikes["spikes"][0])


def test_cli_in_process(settings):
    from typer.testing import CliRunner

    from forecaster.cli import app

    args = ["--db", str(settings.db), "--model", "seasonal_naive_weekly", "--workers", "1", "--routes", "total",
            "--as-of", str(END), "--json"]
    res = CliRunner().invoke(app, ["forecast", *args])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    assert summary["series"] == 1 and summary["per_series"][0]["series"] == "total"
    res = CliRunner().invoke(app, ["backtest", *args])
    assert res.exit_code == 0, res.output
    bt = json.loads(res.stdout)
    assert bt["kind"] == "backtest" and bt["spikes"] == 0 and "seasonal_naive_weekly" in bt["by_model"]
    human = CliRunner().invoke(app, ["spikes", "--db", str(settings.db), "--run", summary["run_id"]])
    assert human.exit_code == 0 and ("spikes of run" in human.stdout or "no spikes ahead in run" in human.stdout)


def test_summary_means_per_candidate_equal_the_plain_finite_mean():
    from forecaster.forecast.run import _column_means, _nanmean

    rng = np.random.default_rng(0)
    for _ in range(300):
        v = rng.normal(size=(int(rng.integers(1, 12)), 5)) * 100
        v[rng.random(v.shape) < 0.2] = np.nan
        v[rng.random(v.shape) < 0.05] = np.inf
        assert _column_means(v) == [_nanmean(v[:, j]) for j in range(v.shape[1])]


def test_batches_shrink_toward_the_end_and_keep_every_series_in_order():
    from forecaster.forecast.engines import batches

    tasks = [(f"s{i:04d}", None) for i in range(1043)]
    out = list(batches(tasks, 25, total=len(tasks), workers=2))
    sizes = [len(b) for _, b in out]
    assert [t for _, b in out for t in b] == tasks and all(label == b[0][0] for label, b in out)
    assert sizes[0] == 25 and sizes[-1] == 1 and max(sizes) == 25
    tail = sizes[sizes.index(max(s for s in sizes if s < 25)):]
    assert tail == sorted(tail, reverse=True)
    assert [len(b) for _, b in batches(tasks[:60], 25)] == [25, 25, 10]       # total unknown: fixed size


def test_a_history_that_does_not_validate_falls_back_to_the_last_resort():
    """All-NaN history: every model refuses it, the run still returns a flat forecast and says why."""
    from forecaster.forecast.fit import FitSpec, History, fit_series

    ds = pd.date_range(START, periods=14 * 24, freq="1h").values
    spec = FitSpec(horizon=24, step="1h", model="auto", timeout_s=30)
    r = fit_series("total", History(ds, np.full(len(ds), np.nan)), spec)
    assert r.fallback and r.model == "constant_median" and "failed" in r.reason
    assert len(r.forecast["yhat"]) == 24 and (r.forecast["yhat"] == 0).all()
    same = fit_series("total", pd.DataFrame({"ds": ds, "y": np.full(len(ds), np.nan)}), spec)
    assert same.model == r.model and same.reason == r.reason


def test_capacity_limit_from_the_settings_is_a_spike(settings):
    """A throttle below the daily peak of one route (pay ~15 req/h at its peak) flags that route's
    peaks as capacity spikes; routes without a limit keep the ratio rule only."""
    s = settings.model_copy(update={"spike_capacity_rps": {"route:pay|v1|POST /charge": 12 / 3600}})
    con = connect(s.db)
    r = run_forecast(con, s, model="seasonal_profile", workers=1, as_of=END)
    sp = table(con, "SELECT * FROM spikes WHERE run_id = ?", [r.run_id])
    pay = sp[sp.series == "route:pay|v1|POST /charge|eu-west-1"]
    assert len(pay) >= 3 and pay["reason"].str.contains("rps exceeds throttle 0.00333 rps").all()
    assert (pay["threshold"] == 12).all()
    assert not sp[sp.series == "route:shop|prod|POST /orders|us-east-1"]["reason"].str.contains("throttle").any()
    con.close()
