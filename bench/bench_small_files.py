"""Many small files: S3 / CloudWatch exports, ALB and Firehose deliver thousands of small objects.

Writes N files of ~2 KB (CLF lines, distinct per file) and loads them all with one
``forecaster.ingest.ingest`` call into a fresh on-disk DuckDB file; reports the total time and
the time per file. Baseline in the same run: the same lines as ONE file (what the parse itself
costs), so the difference is the per-source overhead.

    .venv/bin/python -m bench.bench_small_files [--files 5000] [--kb 2]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

from forecaster.config import Settings
from forecaster.ingest import ingest
from forecaster.store import connect


def write_files(root: Path, files: int, kb: int) -> int:
    root.mkdir(parents=True, exist_ok=True)
    lines_total = 0
    for k in range(files):
        lines, size, i = [], 0, 0
        while size < kb * 1024:
            ln = (f"10.0.{k % 250}.{i % 250} - - [22/Nov/2026:{k // 600 % 24:02d}:{k // 10 % 60:02d}:{i % 60:02d} +0000] "
                  f'"GET /api/items/{k * 100 + i} HTTP/1.1" 200 {i * 10}\n')
            lines.append(ln)
            size += len(ln)
            i += 1
        (root / f"part-{k:06d}.log").write_text("".join(lines))
        lines_total += len(lines)
    return lines_total


def timed_ingest(db: Path, uris: list[str]) -> tuple[float, int]:
    con = connect(db)
    try:
        t = time.perf_counter()
        rep = ingest(con, uris, Settings(ingest_tail_wait_s=0))
        return time.perf_counter() - t, rep.rows_loaded
    finally:
        con.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=5000)
    ap.add_argument("--kb", type=int, default=2)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-small-"))
    try:
        lines = write_files(work / "files", args.files, args.kb)
        one = work / "one.log"
        with open(one, "wb") as out:
            for p in sorted((work / "files").iterdir()):
                out.write(p.read_bytes())
        base_s, base_rows = timed_ingest(work / "one.duckdb", [str(one)])
        many_s, many_rows = timed_ingest(work / "many.duckdb", [str(work / "files")])
        again_s, _ = timed_ingest(work / "many.duckdb", [str(work / "files")])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"machine: {platform.machine()} {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print(f"{args.files} files of {args.kb} KB ({lines} lines): {many_s:.1f} s, {many_s / args.files * 1000:.1f} ms/file, "
          f"{many_rows} rows")
    print(f"baseline, the same lines as one file: {base_s:.2f} s ({base_rows} rows)")
    print(f"second run over the same files (all skipped): {again_s:.1f} s")


if __name__ == "__main__":
    main()
