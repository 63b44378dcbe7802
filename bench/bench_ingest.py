"""Ingest benchmark: `forecaster ingest` against DuckDB reading the same file bare, in one run.

    .venv/bin/python -m bench.bench_ingest [--lines 5000000] [--small 1000000] [--work DIR]

For an AWS REST JSON access log and a combined-format log of ``--lines`` lines it measures, each
in its own process: DuckDB's bare typed ``read_json`` (JSON) / raw line read (combined) into a
table, and the full ``forecaster ingest`` (parse, validate, dedupe, store, rollups) into a new
DuckDB file; the ratio of the two is the number that matters (shared machines are noisy). The load
alone (the report's ``seconds``, without the command's start-up: imports, opening the store) is
shown beside it. Peak memory is measured at ``--small`` lines too, to show it does not grow with file size.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from ._util import header, measure, python, scratch, write_report

REST_COLUMNS = {
    "requestId": "VARCHAR", "ip": "VARCHAR", "caller": "VARCHAR", "user": "VARCHAR", "requestTime": "VARCHAR",
    "requestTimeEpoch": "BIGINT", "httpMethod": "VARCHAR", "resourcePath": "VARCHAR", "path": "VARCHAR",
    "status": "INTEGER", "protocol": "VARCHAR", "responseLength": "BIGINT", "responseLatency": "INTEGER",
    "integrationLatency": "INTEGER", "apiId": "VARCHAR", "stage": "VARCHAR", "apiKeyId": "VARCHAR", "region": "VARCHAR",
}

BASELINES = {
    # DuckDB reads the JSON log straight into a typed table (in memory): the yardstick.
    "apigw_rest_json": "CREATE TABLE t AS SELECT * FROM read_json('{f}', format='newline_delimited', columns={cols})",
    # DuckDB reads the combined log's lines raw into a table.
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
    return run_sql(baseline_sql(BASELINES[fmt], path))


def ours(fmt: str, path: Path, work: Path):
    db = work / f"bench-{fmt}-{path.stat().st_size}.duckdb"
    for p in (db, Path(str(db) + ".wal")):
        p.unlink(missing_ok=True)
    m = measure([python(), "-m", "forecaster", "ingest", str(path), "--db", str(db), "--format", fmt, "--json"])
    report = json.loads(m.stdout)
    db.unlink(missing_ok=True)
    return m, report


def bench_format(fmt: str, lines: int, small: int, work: Path) -> list[dict]:
    rows = []
    for n in ([small] if small else []) + [lines]:
        path = generate(fmt, n, work / f"{fmt}-{n}")
        n_lines = count_lines(path)
        mb = path.stat().st_size / 2**20
        b = baseline(fmt, path)
        m, rep = ours(fmt, path, work)
        assert rep["rows_loaded"] + rep["rows_rejected"] + rep["rows_duplicate"] == n_lines, rep
        rows.append({
            "format": fmt, "lines": n_lines, "mb": mb,
            "duckdb_s": b.seconds, "duckdb_lines_s": n_lines / b.seconds, "duckdb_peak_mb": b.peak_rss_mb,
            "ours_s": m.seconds, "ours_lines_s": n_lines / m.seconds, "ours_mb_s": mb / m.seconds,
            "ours_peak_mb": m.peak_rss_mb, "ratio": m.seconds / b.seconds,
            # the load itself, as the report times it: without the command's start-up (imports, store open)
            "load_s": rep["seconds"], "load_ratio": rep["seconds"] / b.seconds,
            "rejected": rep["rows_rejected"], "duplicate": rep["rows_duplicate"],
        })
        r = rows[-1]
        print(f"  {fmt} {n_lines:,} lines ({mb:.0f} MB): duckdb {r['duckdb_s']:.1f}s, ours {r['ours_s']:.1f}s "
              f"(ratio {r['ratio']:.2f}; load alone {r['load_s']:.1f}s, ratio {r['load_ratio']:.2f}; "
              f"{r['ours_lines_s']:,.0f} lines/s, {r['ours_mb_s']:.0f} MB/s, "
              f"peak {r['ours_peak_mb']:.0f} MB vs duckdb {r['duckdb_peak_mb']:.0f} MB)")
        shutil.rmtree(path.parent, ignore_errors=True)
    return rows


def to_markdown(rows: list[dict], command: str) -> str:
    out = [header("Ingest", command), "",
           "| format | lines | MB | DuckDB bare (s) | forecaster ingest (s) | ratio | load alone (s) | ratio | lines/s "
           "| MB/s | peak MB (ours) | peak MB (DuckDB) |",
           "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in rows:
        out.append(f"| {r['format']} | {r['lines']:,} | {r['mb']:.0f} | {r['duckdb_s']:.2f} | {r['ours_s']:.2f} | "
                   f"**{r['ratio']:.2f}** | {r['load_s']:.2f} | {r['load_ratio']:.2f} | {r['ours_lines_s']:,.0f} | "
                   f"{r['ours_mb_s']:.0f} | {r['ours_peak_mb']:.0f} | {r['duckdb_peak_mb']:.0f} |")
    return "\n".join(out) + "\n"


def add_common_args(ap: argparse.ArgumentParser) -> None:
    """The options both ingest benchmarks take: which formats, and where their scratch files go."""
    ap.add_argument("--formats", default="apigw_rest_json,combined")
    ap.add_argument("--work", type=Path, default=None, help="scratch directory (default: a temp dir)")


def main(argv: list[str] | None = None) -> list[dict]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lines", type=int, default=5_000_000)
    ap.add_argument("--small", type=int, default=1_000_000, help="also run at this size (0: skip) to compare memory")
    add_common_args(ap)
    a = ap.parse_args(argv)
    rows: list[dict] = []
    with scratch(a.work, "forecaster-bench-") as work:
        for fmt in a.formats.split(","):
            rows += bench_format(fmt, a.lines, a.small, work)
    md = to_markdown(rows, "python -m bench.bench_ingest " + " ".join(argv or []))
    write_report("ingest.md", md)
    return rows


if __name__ == "__main__":
    import sys
    main(sys.argv[1:])
