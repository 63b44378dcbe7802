"""Speed of each model and of auto selection on 28 days hourly: ``python -m bench.bench_models``.

Measures CPU seconds (this process + child processes, i.e. Prophet's Stan) per route for
fit + predict(72 h) of each model, and for ``fit_predict_auto`` with the fast and full presets
(each preset's default folds). Projects the product target: 1,000 routes x 28 days hourly on 2 cores (fast < 60 s,
full < 5 min), assuming the engine keeps both cores busy. CPU time, not wall time, because the
benchmark machine is shared. Writes ``bench/out/models.md``.
"""

from __future__ import annotations

import argparse
import logging
import resource
import time
import warnings

import pandas as pd

from bench._util import OUT, header
from bench.bench_accuracy import md_table
from forecaster.forecast.models import get_model, model_names
from forecaster.forecast.selection import PRESET_FOLDS, fit_predict_auto

HORIZON, STEP, ROUTES_TARGET, CORES = 72, pd.Timedelta("1h"), 1000, 2
TARGET_S = {"fast": 60.0, "full": 300.0}


def cpu_seconds() -> float:
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def routes(n: int, seed: int = 3) -> list[pd.DataFrame]:
    from forecaster.samples.traffic import generate_counts

    counts = generate_counts("2026-01-05", "2026-02-02", "1h", seed=seed)
    out = []
    for _, part in counts.groupby(["api", "route", "region"], sort=True):
        if part["requests"].sum() > 0:
            out.append(pd.DataFrame({"ds": pd.DatetimeIndex(part["ts"]), "y": part["requests"].to_numpy(float)}))
    return (out * (n // len(out) + 1))[:n]


def timed(fn, items) -> tuple[float, float]:
    """(CPU seconds, wall seconds) per item."""
    fn(items[0])  # warm up imports and caches
    c0, w0 = cpu_seconds(), time.perf_counter()
    for item in items:
        fn(item)
    return (cpu_seconds() - c0) / len(items), (time.perf_counter() - w0) / len(items)


def run(n: int, folds: int | None) -> str:
    logging.getLogger("cmdstanpy").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore")
    series = routes(n)
    rows = []
    for name in model_names():
        cpu, wall = timed(lambda h: get_model(name, step=STEP, seed=0).fit(h).predict(HORIZON), series)
        rows.append({"what": f"model {name}", "cpu ms/route": round(1000 * cpu, 1),
                     "wall ms/route": round(1000 * wall, 1), "routes/s per core": round(1 / cpu, 1)})
    for preset in ("fast", "full"):
        cpu, wall = timed(lambda h: fit_predict_auto(h, HORIZON, STEP, preset, folds, 0), series)
        projected = ROUTES_TARGET * cpu / CORES
        rows.append({"what": f"auto {preset} ({folds or PRESET_FOLDS[preset]} folds)", "cpu ms/route": round(1000 * cpu, 1),
                     "wall ms/route": round(1000 * wall, 1), "routes/s per core": round(1 / cpu, 1),
                     f"{ROUTES_TARGET} routes on {CORES} cores, s": round(projected, 1),
                     "target s": TARGET_S[preset]})
    table = pd.DataFrame(rows).fillna("")
    return (header(f"Model speed, 28 days hourly, {n} generated routes, horizon {HORIZON} h",
                   f".venv/bin/python -m bench.bench_models --routes {n}")
            + "\n" + md_table(table) + "\n")


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench.bench_models")
    parser.add_argument("--routes", type=int, default=20)
    parser.add_argument("--folds", type=int, default=None, help="default: each preset's")
    args = parser.parse_args(argv)
    text = run(args.routes, args.folds)
    print(text)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "models.md").write_text(text)


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
