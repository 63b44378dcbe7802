"""Many small files: S3 / CloudWatch exports, ALB and Firehose deliver thousands of small objects.

Writes N files of ~2 KB (CLF lines, distinct per file) and loads them all with one
``forecaster.ingest.ingest`` call into a fresh on-disk DuckDB file (small sources load many per
transaction, ``ingest_batch_files``); reports the total time, files/s and the time per file.
Baseline in the same run: the same lines as ONE file (what the parse itself costs), so the
difference is the per-source overhead; and, for scale, the first ``--one-by-one`` files loaded
each in its own transaction (``ingest_batch_files=0``, the path before batching).

    .venv/bin/python -m bench.bench_small_files [--files 5000] [--kb 2] [--kind clf|json] [--one-by-one 200]
"""

from __future__ import annotations

import argparse
import json
import datetime as dt
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from forecaster.config import Settings
from forecaster.ingest import ingest
from forecaster.store import connect


def _line(kind: str, k: int, i: int) -> str:
    hh, mm, ss = k // 600 % 24, k // 10 % 60, i % 60
    if kind == "json":   # API Gateway REST access log (a CloudWatch export): every line has its request id
        return json.dumps({
            "requestId": f"{k:06d}-{i:04d}", "ip": f"10.0.{k % 250}.{i % 250}",
            "requestTime": f"22/Nov/2026:{hh:02d}:{mm:02d}:{ss:02d} +0000", "httpMethod": "GET",
            "resourcePath": "/items/{id}", "path": f"/prod/items/{k * 100 + i}", "status": "200",
            "responseLength": str(i * 10), "responseLatency": str(20 + i % 30), "apiId": "api1", "stage": "prod",
        }) + "\n"
    return (f"10.0.{k % 250}.{i % 250} - - [22/Nov/2026:{hh:02d}:{mm:02d}:{ss:02d} +0000] "
            f'"GET /api/items/{k * 100 + i} HTTP/1.1" 200 {i * 10}\n')


def write_files(root: Path, files: int, kb: int, kind: str = "clf") -> int:
    root.mkdir(parents=True, exist_ok=True)
    lines_total = 0
    for k in range(files):
        lines, size, i = [], 0, 0
        while size < kb * 1024:
            ln = _line(kind, k, i)
            lines.append(ln)
            size += len(ln)
            i += 1
        (root / f"part-{k:06d}.log").write_text("".join(lines))
        lines_total += len(lines)
    return lines_total


def timed_ingest(db: Path, uris: list[str], **settings) -> tuple[float, int]:
    con = connect(db)
    try:
        t = time.perf_counter()
        rep = ingest(con, uris, Settings(ingest_tail_wait_s=0, **settings))
        return time.perf_counter() - t, rep.rows_loaded
    finally:
        con.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=5000)
    ap.add_argument("--kb", type=int, default=2)
    ap.add_argument("--kind", choices=("clf", "json"), default="clf",
                    help="CLF lines (ids from line numbers) or API Gateway JSON (each line its request id)")
    ap.add_argument("--one-by-one", type=int, default=200, help="files also loaded one per transaction (0: none)")
    args = ap.parse_args()
    load_before = os.getloadavg()[0]
    work = Path(tempfile.mkdtemp(prefix="bench-small-"))
    try:
        lines = write_files(work / "files", args.files, args.kb, args.kind)
        paths = sorted((work / "files").iterdir())
        one = work / "one.log"
        with open(one, "wb") as out:
            for p in paths:
                out.write(p.read_bytes())
        base_s, base_rows = timed_ingest(work / "one.duckdb", [str(one)])
        many_s, many_rows = timed_ingest(work / "many.duckdb", [str(work / "files")])
        again_s, _ = timed_ingest(work / "many.duckdb", [str(work / "files")])
        some = paths[: args.one_by_one]
        single_s = timed_ingest(work / "single.duckdb", [str(p) for p in some], ingest_batch_files=0)[0] if some else 0.0
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()} "
          f"{os.cpu_count()} cores, load average {load_before:.1f} before, {os.getloadavg()[0]:.1f} after")
    print(f"{args.files} {args.kind} files of {args.kb} KB ({lines} lines): {many_s:.1f} s, {args.files / many_s:,.0f} files/s, "
          f"{many_s / args.files * 1000:.1f} ms/file, {many_rows} rows")
    print(f"baseline, the same lines as one file: {base_s:.2f} s ({base_rows} rows); "
          f"many files / one file: {many_s / base_s:.1f}x")
    print(f"second run over the same files (all skipped): {again_s:.1f} s")
    if some:
        print(f"one transaction per file (ingest_batch_files=0), first {len(some)} files: {single_s:.1f} s, "
              f"{single_s / len(some) * 1000:.0f} ms/file")


if __name__ == "__main__":
    main()
