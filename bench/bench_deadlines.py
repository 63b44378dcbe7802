"""How fast the run reads its series and gives up on stuck fits: ``.venv/bin/python -m bench.bench_deadlines``.

The timings the tests used to assert (a test asserts behaviour; timings live here):

- ``load_series``: 1,000 routes x 1 week of 30-minute rows read into hourly series (was: < 5 s).
- a model sleeping 30 s under ``forecast_timeout_s = 0.5``, one worker: the per-series alarm cuts
  it, the run falls back (was: the run < 10 s).
- a hung worker process (a task sleeping 60 s, deadline 0.5 s): terminated and replaced, the other
  tasks answered (``forecaster.forecast.workers``).
- the engine's backstop over futures (Dask; threads here): a 1.5 s task given up after 0.3 s (was: < 1.2 s).

Writes ``bench/out/deadlines.md``.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import datetime as dt
import tempfile
import time
from pathlib import Path

import pandas as pd

from bench._util import header, write_report
from forecaster.config import Settings
from forecaster.forecast.engines import _bounded
from forecaster.forecast.models import register_model
from forecaster.forecast.models.base import MODELS
from forecaster.forecast.models.naive import SeasonalNaive
from forecaster.forecast.run import run_forecast
from forecaster.forecast.series import load_series
from forecaster.forecast.workers import Workers
from forecaster.store.db import connect, run


class _Sleeps(SeasonalNaive):
    def __init__(self, step=None, seed=0):
        super().__init__("bench_sleeps", pd.Timedelta("7D"), step, seed)

    def fit(self, history, regressors=None):
        time.sleep(30)
        return self


def sleep_or_echo(x: str) -> str:
    if x == "hang":
        time.sleep(60)
    return x


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def series_load(d: Path, routes: int) -> float:
    con = connect(d / "big.duckdb")
    run(con, f"""
        INSERT INTO traffic_1m
        SELECT TIMESTAMP '2026-10-01' + to_minutes(m * 30), 'api' || (r % 5), 'prod', 'GET /r' || r, 'us-east-1', 'rest',
               1 + (r + m) % 7, 0, 0, 0, 0, 0, NULL, NULL, NULL, 0, 0, 0
        FROM range({routes}) t(r), range(7 * 24 * 2) u(m)
    """)
    took = timed(lambda: load_series(con, "1h", as_of=dt.datetime(2026, 10, 8)))
    con.close()
    return took


def alarm_run(d: Path) -> float:
    if "bench_sleeps" not in MODELS:
        register_model("bench_sleeps")(_Sleeps)
    con = connect(d / "one.duckdb")
    run(con, """
        INSERT INTO traffic_1m (ts, api, stage, route, region, api_type, requests, status_4xx, status_5xx, bytes_out, latency_n, latency_ms_sum, latency_p50_ms, latency_p95_ms, latency_p99_ms, integration_n, integration_ms_sum, billed_ms_sum)
        SELECT TIMESTAMP '2026-10-01' + to_hours(h), 'shop', 'prod', 'GET /p', 'us-east-1', 'rest',
               10, 0, 0, 0, 0, 0, NULL, NULL, NULL, 0, 0, 0 FROM range(14 * 24) t(h)
    """)
    settings = Settings(db=d / "one.duckdb", forecast_timeout_s=0.5, holiday_country=None)
    took = timed(lambda: run_forecast(con, settings, model="bench_sleeps", workers=1, routes="GET /p"))
    con.close()
    return took


def hung_worker() -> float:
    with Workers(2) as pool:
        list(pool.map(sleep_or_echo, ["warm", "up"], lambda t: (t,), deadline_s=120))
        return timed(lambda: list(pool.map(sleep_or_echo, ["hang", "a", "b"], lambda t: (t,), deadline_s=0.5)))


def backstop() -> float:
    with cf.ThreadPoolExecutor(2) as pool:
        def submit(task):
            return pool.submit(time.sleep, 1.5 if task[0] == "slow" else 0)
        return timed(lambda: list(_bounded(submit, [("slow", None), ("a", None), ("b", None)], limit=2, workers=2,
                                           backstop_s=0.3)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--routes", type=int, default=1000)
    args = ap.parse_args()
    d = Path(tempfile.mkdtemp(prefix="bench-deadlines-"))
    rows = [(f"load_series, {args.routes} routes x 7 days (30-min rows -> 1h)", series_load(d, args.routes), "< 5 s"),
            ("run with a model sleeping 30 s, forecast_timeout_s 0.5, 1 worker", alarm_run(d), "< 10 s"),
            ("hung worker process: deadline 0.5 s, terminated and replaced, 2 other tasks", hung_worker(), "~0.5 s"),
            ("engine backstop over futures: 1.5 s task, backstop 0.3 s", backstop(), "< 1.2 s")]
    md = header("Deadlines and series loading", f".venv/bin/python -m bench.bench_deadlines --routes {args.routes}")
    md += "\n| what | seconds | expected |\n|---|---|---|\n"
    md += "".join(f"| {what} | {s:.2f} | {want} |\n" for what, s, want in rows)
    write_report("deadlines.md", md)


if __name__ == "__main__":
    main()
