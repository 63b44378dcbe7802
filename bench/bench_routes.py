"""Routes before and after mining: the real NASA excerpt, the demo's samples, a generated data-API log.

Each log is loaded twice into fresh on-disk DuckDB files, with ``route_mining`` off (the heuristics
alone: the baseline, in the same run) and on; reports routes per API, load seconds and the mined
routes of the data-API log.

    .venv/bin/python -m bench.bench_routes [--lines 16000]
"""

from __future__ import annotations

import argparse
import platform
import shutil
import tempfile
import time
from pathlib import Path

from forecaster.config import Settings
from forecaster.ingest import ingest
from forecaster.sample_store import DEMO_LOGS, default_samples_dir
from forecaster.samples.data_api import data_api_log
from forecaster.store import connect
from forecaster.store.db import run

ROOT = Path(__file__).resolve().parents[1]


def measure(work: Path, name: str, uris: list[str], mining: bool) -> tuple[int, int, float, list[tuple]]:
    db = work / f"{name}-{mining}.duckdb"
    con = connect(db)
    try:
        t = time.perf_counter()
        ingest(con, uris, Settings(ingest_tail_wait_s=0, route_mining=mining, ingest_ts_future_days=3650))
        secs = time.perf_counter() - t
        routes = run(con, "SELECT count(DISTINCT (api, route)) FROM traffic_1m")[0][0]
        requests = run(con, "SELECT coalesce(sum(requests), 0)::BIGINT FROM traffic_1m")[0][0]
        top = run(con, "SELECT api, route, sum(requests)::BIGINT AS n FROM traffic_1m GROUP BY ALL ORDER BY n DESC, 2")
        return routes, requests, secs, top
    finally:
        con.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=16000)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-routes-"))
    try:
        api_log = work / "data-api.log"
        api_log.write_text("".join(data_api_log(seed=7, lines=args.lines)))
        cases = {
            "NASA excerpt (100 lines)": [str(ROOT / "data/realdata/NASA_access_log_Aug95_first100.log")],
            "demo samples": [str(default_samples_dir() / n) for n in DEMO_LOGS],
            f"data-API log ({args.lines} lines)": [str(api_log)],
        }
        print(f"machine: {platform.machine()} {platform.processor() or ''}, python {platform.python_version()}, "
              f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
        print("| log | routes, heuristics only | routes, mined | requests (both) | load s, off / on |")
        print("| --- | ---: | ---: | ---: | ---: |")
        tops = {}
        for name, uris in cases.items():
            r0, n0, s0, _ = measure(work, name[:4], uris, False)
            r1, n1, s1, top = measure(work, name[:4], uris, True)
            assert n0 == n1, (name, n0, n1)
            print(f"| {name} | {r0:,} | {r1:,} | {n1:,} | {s0:.2f} / {s1:.2f} |")
            tops[name] = top
        for name, top in tops.items():
            if name.startswith("demo"):
                continue
            print(f"\nmined routes, {name}: " + "; ".join(f"{route} {n}" for _, route, n in top))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
