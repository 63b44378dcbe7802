"""Forecast run speed at scale: ``.venv/bin/python -m bench.bench_forecast [--preset fast|full] [--routes 1000]``.

Data: ``--routes`` routes x ``--days`` days of hourly traffic (seeded, in SQL: daily and weekly
cycles, per-route level and phase, multiplicative noise), written to ``traffic_1m`` of a fresh
DuckDB file. Run: every route and aggregate, 72 h horizon, ``--model`` (default auto with
backtests) on the ``--engine`` (default local, ``--workers`` processes). Also times the same run
with ``seasonal_naive_weekly`` and one backtest fold (``--overhead``): the orchestrator's own cost (SQL,
processes, writes), which bounds the throughput whatever the models cost.

Reports wall seconds and CPU seconds (user + system of this process and of its worker processes,
Prophet's Stan runs included; the memory sampler's own CPU left out): on a shared machine the wall
time is inflated, and CPU seconds / workers estimates the wall time on a quiet one. Runs on fewer
routes are extrapolated per series (1,000 routes come with 43 aggregates).

Targets (2 cores): 1,000 routes x 28 days, fast preset < 60 s, full < 5 min.
Writes ``bench/out/forecast_<preset>.md``.
"""

from __future__ import annotations

import argparse
import logging
import resource
import tempfile
import threading
import time
from pathlib import Path

import psutil

from bench._util import OUT, header
from forecaster.config import Settings
from forecaster.forecast.run import run_forecast
from forecaster.store.db import connect, run

TARGET_S = {"fast": 60, "full": 300}


def build_db(path: Path, routes: int, days: int, seed: int) -> float:
    """Hourly minute-bucket rows for ``routes`` routes over ``days`` days ending 2026-11-02; seconds taken."""
    t0 = time.perf_counter()
    con = connect(path)
    run(con, f"""
        INSERT INTO traffic_1m
        WITH r AS (
            SELECT r, 'api' || (r % 20) AS api, 'prod' AS stage, 'GET /r' || r AS route,
                   CASE WHEN r % 3 = 0 THEN 'eu-west-1' ELSE 'us-east-1' END AS region,
                   exp(2 + 6 * ((hash(r, {seed}) % 1000) / 1000.0)) AS level,
                   (hash(r, {seed} + 1) % 24) AS phase
            FROM range({routes}) t(r)
        ), h AS (SELECT h FROM range({days * 24}) t(h))
        SELECT TIMESTAMP '2026-11-02' - to_hours({days * 24}) + to_hours(h), api, stage, route, region, 'rest',
               greatest(0, round(level * (1 + 0.5 * sin(2 * pi() * ((h + phase) % 24) / 24))
                                       * (CASE WHEN (h // 24) % 7 IN (5, 6) THEN 0.7 ELSE 1.0 END)
                                       * (0.85 + 0.3 * ((hash(r, h, {seed}) % 10000) / 10000.0))))::BIGINT,
               0, 0, 0, 0, 0, NULL, NULL, NULL, 0, 0, 0
        FROM r, h
    """)
    con.close()
    return time.perf_counter() - t0


class PeakRss:
    """Peak memory of this process and its children (proportional set size, so pages the forked
    workers share with the parent count once), sampled every ``interval_s``.

    Reading PSS walks every page table of every process (``/proc/PID/smaps``): with Stan-loaded
    workers that cost ~30 CPU s over a 5-minute run at 200 ms. So it samples once a second and
    keeps its own CPU time (``cpu_s``), which the run's CPU seconds leave out."""

    def __init__(self, interval_s: float = 1.0) -> None:
        self.peak, self.cpu_s, self.interval_s, self._stop = 0, 0.0, interval_s, threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            try:
                rss = sum(_pss(p) for p in [me, *me.children(recursive=True)])
                self.peak = max(self.peak, rss)
            except psutil.Error:
                pass
            self.cpu_s = time.thread_time()
            self._stop.wait(self.interval_s)

    def __enter__(self) -> "PeakRss":
        self._t.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._t.join()


def _pss(p: psutil.Process) -> int:
    try:
        return p.memory_full_info().pss
    except (AttributeError, psutil.Error):
        return p.memory_info().rss


def cpu_seconds() -> tuple[float, float]:
    """User + system CPU seconds of (this process, the processes under it: the workers, and Prophet's
    Stan processes under them, since a reaped child's time includes its own reaped ones).

    The workers are forked by multiprocessing's fork server, a child of this process that outlives
    the run and reaps them: their time is in the server's children times, read from /proc."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    helpers = 0.0
    for p in _helpers():
        try:
            t = p.cpu_times()
            helpers += t.user + t.system + t.children_user + t.children_system
        except psutil.Error:
            pass
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime + helpers


def _helpers() -> list[psutil.Process]:
    """multiprocessing's long-lived helper processes under this one (fork server, resource tracker)."""
    out = []
    for p in psutil.Process().children():
        try:
            if any("multiprocessing.forkserver" in a or "multiprocessing.resource_tracker" in a for a in p.cmdline()):
                out.append(p)
        except psutil.Error:
            pass
    return out


def _wait_children(timeout_s: float = 30.0) -> None:
    """Wait until the run's worker processes have exited and were reaped, so that their CPU time is
    counted (reaping them here would race the pool's own join); the fork server stays."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        helpers = {p.pid for p in _helpers()}
        if not [p for p in psutil.Process().children(recursive=True) if p.pid not in helpers]:
            break
        time.sleep(0.1)


def timed_run(db: Path, **kw) -> tuple[dict, float, tuple[float, float]]:
    """One forecast run: (summary, peak PSS MB, CPU seconds of the run (parent, workers))."""
    settings = Settings(db=db, forecast_history_days=None, holiday_country="US")
    con = connect(db)
    _wait_children()
    c0 = cpu_seconds()
    with PeakRss() as mem:
        s = run_forecast(con, settings, **kw)
    _wait_children()
    c1 = cpu_seconds()
    cpu = (c1[0] - c0[0] - mem.cpu_s, c1[1] - c0[1])   # the memory sampler's own CPU is not the run's
    con.close()
    return s.to_dict(), mem.peak / 2**20, cpu


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="fast", choices=sorted(TARGET_S))
    ap.add_argument("--model", default="auto")
    ap.add_argument("--routes", type=int, default=1000)
    ap.add_argument("--days", type=int, default=28)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--engine", default="local")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="output file name in bench/out (default forecast_<preset>.md)")
    ap.add_argument("--overhead", action="store_true", help="also time a seasonal-naive run without backtests")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    db = Path(tempfile.mkdtemp()) / "bench.duckdb"
    build_s = build_db(db, args.routes, args.days, args.seed)
    print(f"built {args.routes} routes x {args.days} days in {build_s:.1f}s", flush=True)
    rows = []
    if args.overhead:
        s, mb, cpu = timed_run(db, model="seasonal_naive_weekly", engine=args.engine, workers=args.workers, folds=1)
        rows.append(("overhead: seasonal_naive_weekly, 1 backtest fold", s, mb, cpu))
        print(f"overhead run: {s['series']} series in {s['seconds']:.1f}s, {sum(cpu):.1f} CPU s", flush=True)
    s, mb, cpu = timed_run(db, model=args.model, preset=args.preset, engine=args.engine, workers=args.workers)
    rows.append((f"{args.model} ({args.preset} preset, {s['by_model'] and len(s['by_model'])} candidates, the preset's folds)", s, mb, cpu))
    routes_per_s = args.routes / s["seconds"]
    target = TARGET_S[args.preset]
    cmd = (f".venv/bin/python -m bench.bench_forecast --preset {args.preset} --routes {args.routes} --days {args.days} "
           f"--workers {args.workers} --engine {args.engine} --model {args.model}" + (" --overhead" if args.overhead else ""))
    lines = [header(f"Forecast run speed ({args.preset} preset)", cmd),
             f"- data: {args.routes} routes x {args.days} days hourly (+ aggregates), 72 h horizon, "
             f"{args.engine} engine x{args.workers}; DuckDB build {build_s:.1f}s\n",
             "| run | series | wall s | CPU s (parent + workers) | CPU s / workers | series/s | routes/s | peak PSS MB | fallbacks | models chosen |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, r, mb, (c_parent, c_workers) in rows:
        c = c_parent + c_workers
        lines.append(f"| {name} | {r['series']} | {r['seconds']:.1f} | {c:.1f} ({c_parent:.1f} + {c_workers:.1f}) | "
                     f"{c / max(args.workers, 1):.1f} | "
                     f"{r['series_per_second']:.2f} | {args.routes / r['seconds']:.2f} | {mb:.0f} | {r['fallbacks']} | "
                     f"{', '.join(f'{k} {v}' for k, v in r['models'].items())} |")
    acc = s["accuracy"]
    # per series, not per route: 1,000 routes come with 43 aggregates (20 APIs, 20 stages, 2 regions, total)
    series_1000 = 1000 + (s["series"] - args.routes)
    at_1000 = s["seconds"] * series_1000 / s["series"]
    scale = "" if args.routes == 1000 else f" (extrapolated per series to 1,000 routes = {series_1000} series: {at_1000:.0f}s)"
    quiet = sum(cpu) / max(args.workers, 1) * series_1000 / s["series"]
    lines += ["", f"**{args.routes} routes in {s['seconds']:.1f}s wall, {sum(cpu):.1f} CPU s = {routes_per_s:.2f} routes/s{scale}; "
              f"target for 1,000 routes < {target}s: {'met' if at_1000 < target else 'NOT met'} on wall time; "
              f"CPU s / {args.workers} workers (the quiet-machine estimate) for 1,000 routes {quiet:.0f}s: "
              f"{'met' if quiet < target else 'NOT met'}**", "",
              f"accuracy (mean over series, chosen model's backtests): rel_mae {acc['rel_mae']}, MASE {acc['mase']}, "
              f"coverage 80% {acc['coverage_80']}, 95% {acc['coverage_95']}", ""]
    OUT.mkdir(parents=True, exist_ok=True)
    out = OUT / (args.out or f"forecast_{args.preset}.md")
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines[-4:]))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
