"""Ingest benchmark: `forecaster ingest` against DuckDB storing the same file on disk, in one run.

    .venv/bin/python -m bench.bench_ingest [--lines 5000000] [--small 1000000] [--rounds 3] [--work DIR]

For an AWS REST JSON access log and a combined-format log of ``--lines`` lines it measures, each
in its own process and alternating (floor, ours, in-memory baseline; ``--rounds`` times, since the
machine is shared and noisy): the **floor** of issue 11 — DuckDB's typed ``read_json`` of the JSON
log into an on-disk table, DuckDB's parse of the combined log as a quoted, space-delimited CSV into
an on-disk table — and the full ``forecaster ingest FILE --db NEW --json`` (start-up, parse,
validate, dedupe, store, rollups). The headline ratio is ours over the floor, best run against best
run; the median of each round's own ratio (two runs next to each other in time) is shown beside
it. The older in-memory baselines (typed ``read_json`` into memory; the combined lines read raw)
and the load alone (the report's ``seconds``, without the command's start-up) are kept as
columns. Peak memory is measured at ``--small`` lines too, to show it does not grow with file size.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
from pathlib import Path

from ._util import header, measure, python, scratch, write_report

REST_COLUMNS = {
    "requestId": "VARCHAR", "ip": "VARCHAR", "caller": "VARCHAR", "user": "VARCHAR", "requestTime": "VARCHAR",
    "requestTimeEpoch": "BIGINT", "httpMethod": "VARCHAR", "resourcePath": "VARCHAR", "path": "VARCHAR",
    "status": "INTEGER", "protocol": "VARCHAR", "responseLength": "BIGINT", "responseLatency": "INTEGER",
    "integrationLatency": "INTEGER", "apiId": "VARCHAR", "stage": "VARCHAR", "apiKeyId": "VARCHAR", "region": "VARCHAR",
}

# DuckDB's own parse of the combined format: a quoted, space-delimited CSV with typed fields.
COMBINED_CSV = ("CREATE TABLE t AS SELECT * FROM read_csv('{f}', delim=' ', quote='\"', escape='\\', header=false, "
                "auto_detect=false, ignore_errors=true, columns={{'ip': 'VARCHAR', 'ident': 'VARCHAR', "
                "'user': 'VARCHAR', 'time': 'VARCHAR', 'zone': 'VARCHAR', 'request': 'VARCHAR', 'status': 'SMALLINT', "
                "'bytes': 'VARCHAR', 'referer': 'VARCHAR', 'agent': 'VARCHAR', 'latency': 'DOUBLE'}})")

TYPED_JSON = "CREATE TABLE t AS SELECT * FROM read_json('{f}', format='newline_delimited', columns={cols})"

# Issue 11's yardstick, written to an on-disk table (a new DuckDB file), like the ingest's rows.
FLOORS = {
    "apigw_rest_json": ("typed read_json, on disk", TYPED_JSON),
    "combined": ("quoted-CSV parse, on disk", COMBINED_CSV),
}

# The earlier yardsticks, into memory: kept as columns to compare with older runs.
BASELINES = {
    # DuckDB reads the JSON log straight into a typed table (in memory).
    "apigw_rest_json": TYPED_JSON,
    # DuckDB reads the combined log's lines raw into a table (in memory).
    "combined": "CREATE TABLE t AS SELECT * FROM read_csv('{f}', columns={{'line': 'VARCHAR'}}, delim='\\x01', "
                "quote='', escape='', header=false, auto_detect=false)",
}


def generate(fmt: str, lines: int, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    m = measure([python(), "-m", "forecaster", "samples", "generate", "--format", fmt, "--lines", str(lines),
                 "--out", str(out), "--seed", "7"])
    files = sorted(out.glob(f"{fmt}*"))
    if not files:
        raise RuntimeError(f"generator wrote no {fmt} file in {out}: {m.stdout[-500:]}")
    print(f"  generated {files[0].name}: {files[0].stat().st_size / 2**20:.0f} MB in {m.seconds:.1f}s")
    return files[0]


def count_lines(path: Path) -> int:
    n = 0
    with open(path, "rb") as f:
        while block := f.read(1 << 24):
            n += block.count(b"\n")
    return n


def baseline_sql(template: str, path: Path) -> str:
    """A DuckDB statement of :data:`BASELINES` (or alike) over ``path``, the REST columns filled in."""
    cols = "{" + ", ".join(f"'{k}': '{v}'" for k, v in REST_COLUMNS.items()) + "}"
    return template.format(f=path, cols=cols)


def run_sql(sql: str, db: Path | None = None):
    """Time ``sql`` (it creates table ``t``) in a process of its own, into memory or a new file ``db``."""
    target = repr(str(db)) if db else ""
    code = (f"import duckdb; c = duckdb.connect({target}); c.execute({sql!r}).fetchall(); "
            "print(c.execute('SELECT count(*) FROM t').fetchall()[0][0]); c.close()")
    files = (db, Path(str(db) + ".wal")) if db else ()
    for p in files:
        p.unlink(missing_ok=True)
    try:
        return measure([python(), "-c", code])
    finally:
        for p in files:
            p.unlink(missing_ok=True)


def baseline(fmt: str, path: Path):
    """The older in-memory baseline of ``fmt`` over ``path``."""
    return run_sql(baseline_sql(BASELINES[fmt], path))


def floor(fmt: str, path: Path, work: Path):
    """Issue 11's floor of ``fmt`` over ``path``: DuckDB's own read into a table of a new DuckDB file."""
    return run_sql(baseline_sql(FLOORS[fmt][1], path), work / "floor.duckdb")


def ours(fmt: str, path: Path, work: Path):
    db = work / f"bench-{fmt}-{path.stat().st_size}.duckdb"
    for p in (db, Path(str(db) + ".wal")):
        p.unlink(missing_ok=True)
    m = measure([python(), "-m", "forecaster", "ingest", str(path), "--db", str(db), "--format", fmt, "--json"])
    report = json.loads(m.stdout)
    db.unlink(missing_ok=True)
    return m, report


def bench_format(fmt: str, lines: int, small: int, work: Path, rounds: int = 3, memory: bool = True) -> list[dict]:
    rows = []
    for n in ([small] if small else []) + [lines]:
        path = generate(fmt, n, work / f"{fmt}-{n}")
        n_lines = count_lines(path)
        mb = path.stat().st_size / 2**20
        fl, us, mem, reps = [], [], [], []
        for i in range(rounds):   # alternate, so a busy moment of the shared machine hits both sides
            fl.append(floor(fmt, path, work))
            m, rep = ours(fmt, path, work)
            assert rep["rows_loaded"] + rep["rows_rejected"] + rep["rows_duplicate"] == n_lines, rep
            us.append(m)
            reps.append(rep)
            if memory:
                mem.append(baseline(fmt, path))
            print(f"  {fmt} {n_lines:,} round {i + 1}: floor {fl[-1].seconds:.2f}s ({fl[-1].cpu_seconds:.2f} CPU s), "
                  f"ours {m.seconds:.2f}s ({m.cpu_seconds:.2f} CPU s; load {rep['seconds']:.2f}s; "
                  f"x{m.seconds / fl[-1].seconds:.2f})"
                  + (f", in-memory baseline {mem[-1].seconds:.2f}s" if memory else ""), flush=True)
        f_best, o_best = min(x.seconds for x in fl), min(x.seconds for x in us)
        load_best = min(r["seconds"] for r in reps)
        mem_best = min(x.seconds for x in mem) if mem else None
        rep = reps[0]
        rows.append({
            "format": fmt, "lines": n_lines, "mb": mb, "rounds": rounds, "floor": FLOORS[fmt][0],
            "floor_s": f_best, "floor_runs": [x.seconds for x in fl], "floor_peak_mb": max(x.peak_rss_mb for x in fl),
            "ours_s": o_best, "ours_runs": [x.seconds for x in us], "ours_peak_mb": max(x.peak_rss_mb for x in us),
            "ratio": o_best / f_best,
            "ratio_median": statistics.median(o.seconds / f.seconds for o, f in zip(us, fl)),
            "load_s": load_best, "load_ratio": load_best / f_best,
            # CPU seconds (user + system): what other jobs on a shared machine disturb least
            "floor_cpu": min(x.cpu_seconds for x in fl), "ours_cpu": min(x.cpu_seconds for x in us),
            "cpu_ratio": min(x.cpu_seconds for x in us) / max(min(x.cpu_seconds for x in fl), 1e-9),
            "ours_lines_s": n_lines / o_best, "ours_mb_s": mb / o_best,
            "memory_s": mem_best, "memory_ratio": o_best / mem_best if mem_best else None,
            "rejected": rep["rows_rejected"], "duplicate": rep["rows_duplicate"],
        })
        r = rows[-1]
        print(f"  {fmt} {n_lines:,} lines ({mb:.0f} MB): floor ({r['floor']}) {r['floor_s']:.2f}s, ours {r['ours_s']:.2f}s: "
              f"ratio {r['ratio']:.2f} (median of rounds {r['ratio_median']:.2f}); load alone {r['load_s']:.2f}s "
              f"(x{r['load_ratio']:.2f}); peak {r['ours_peak_mb']:.0f} MB vs {r['floor_peak_mb']:.0f} MB", flush=True)
        shutil.rmtree(path.parent, ignore_errors=True)
    return rows


def to_markdown(rows: list[dict], command: str) -> str:
    out = [header("Ingest", command), "",
           "| format | lines | MB | floor: DuckDB into an on-disk table | floor (s) | forecaster ingest (s) "
           "| **ratio** | median of rounds | load alone (s) | ratio | CPU s: floor / ours | CPU ratio "
           "| in-memory baseline (s) | ratio | lines/s | peak MB (ours) | peak MB (floor) |",
           "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: "
           "| ---: | ---: |"]
    for r in rows:
        mem = (f"{r['memory_s']:.2f} | {r['memory_ratio']:.2f}" if r["memory_s"] else "- | -")
        out.append(f"| {r['format']} | {r['lines']:,} | {r['mb']:.0f} | {r['floor']} | {r['floor_s']:.2f} | "
                   f"{r['ours_s']:.2f} | **{r['ratio']:.2f}** | {r['ratio_median']:.2f} | {r['load_s']:.2f} | "
                   f"{r['load_ratio']:.2f} | {r['floor_cpu']:.2f} / {r['ours_cpu']:.2f} | {r['cpu_ratio']:.2f} | {mem} | {r['ours_lines_s']:,.0f} | {r['ours_peak_mb']:.0f} | "
                   f"{r['floor_peak_mb']:.0f} |")
    out += ["", "Every run, in order (seconds; floor / ours per round):", ""]
    for r in rows:
        runs = ", ".join(f"{f:.2f} / {o:.2f}" for f, o in zip(r["floor_runs"], r["ours_runs"]))
        out.append(f"- {r['format']} {r['lines']:,}: {runs}")
    return "\n".join(out) + "\n"


def add_common_args(ap: argparse.ArgumentParser) -> None:
    """The options both ingest benchmarks take: which formats, and where their scratch files go."""
    ap.add_argument("--formats", default="apigw_rest_json,combined")
    ap.add_argument("--work", type=Path, default=None, help="scratch directory (default: a temp dir)")


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=5_000_000)
    ap.add_argument("--small", type=int, default=1_000_000, help="also run at this size (0: skip) to compare memory")
    ap.add_argument("--rounds", type=int, default=3, help="alternated runs of each side; the best of each is compared")
    ap.add_argument("--no-memory", action="store_true", help="skip the older in-memory baselines")
    add_common_args(ap)
    a = ap.parse_args(argv)
    rows: list[dict] = []
    with scratch(a.work, "forecaster-bench-") as work:
        for fmt in a.formats.split(","):
            rows += bench_format(fmt, a.lines, a.small, work, a.rounds, not a.no_memory)
    md = to_markdown(rows, "python -m bench.bench_ingest " + " ".join(argv or []))
    write_report("ingest.md", md)
    return rows


if __name__ == "__main__":
    import sys
    main(sys.argv[1:])
