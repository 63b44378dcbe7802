"""What DuckDB alone needs for pieces of the ingest job: the floor under the ingest benchmark's ratio.

    .venv/bin/python -m bench.bench_ingest_floor [--lines 1000000] [--work DIR]

For each format, each in its own process and against the same baseline as ``bench_ingest`` (typed
``read_json`` into memory for the REST JSON log; the lines read raw into memory for combined):
the same read into an on-disk table, and, for combined, DuckDB's own parse of the format as a
quoted, space-delimited CSV into memory and onto disk. Whatever ``forecaster ingest`` does on
top (validation, rejects, dedupe, rollups, start-up) has to fit in what is left of the 2x budget.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from ._util import header, scratch, write_report
from .bench_ingest import BASELINES, COMBINED_CSV, add_common_args, baseline_sql, count_lines, generate, run_sql

CASES = {
    "apigw_rest_json": [("typed read_json", BASELINES["apigw_rest_json"])],
    "combined": [("lines raw", BASELINES["combined"]), ("quoted CSV fields", COMBINED_CSV)],
}


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    add_common_args(ap)
    a = ap.parse_args(argv)
    rows: list[dict] = []
    with scratch(a.work, "forecaster-floor-") as work:
        for fmt in a.formats.split(","):
            path = generate(fmt, a.lines, work / f"{fmt}-{a.lines}")
            n = count_lines(path)
            base = None
            for name, template in CASES[fmt]:
                sql = baseline_sql(template, path)
                for where, db in (("memory", None), ("on disk", work / "floor.duckdb")):
                    m = run_sql(sql, db)
                    base = base or m.seconds
                    rows.append({"format": fmt, "lines": n, "case": f"{name}, {where}", "s": m.seconds,
                                 "ratio": m.seconds / base, "lines_s": n / m.seconds, "peak_mb": m.peak_rss_mb})
                    r = rows[-1]
                    print(f"  {fmt} {r['case']}: {r['s']:.2f}s (x{r['ratio']:.2f} of the baseline)", flush=True)
            shutil.rmtree(path.parent, ignore_errors=True)
    out = [header("Ingest floor", "python -m bench.bench_ingest_floor " + " ".join(argv or [])), "",
           "| format | lines | DuckDB alone | s | x baseline | lines/s | peak MB |",
           "| --- | ---: | --- | ---: | ---: | ---: | ---: |"]
    out += [f"| {r['format']} | {r['lines']:,} | {r['case']} | {r['s']:.2f} | {r['ratio']:.2f} | {r['lines_s']:,.0f} | "
            f"{r['peak_mb']:.0f} |" for r in rows]
    md = "\n".join(out) + "\n"
    write_report("ingest_floor.md", md)
    return rows


if __name__ == "__main__":
    import sys
    main(sys.argv[1:])
