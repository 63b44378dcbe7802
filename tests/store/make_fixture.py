"""Make ``tests/store/fixtures/schema-v<N>.duckdb``: a small database written by this forecaster.

    .venv/bin/python tests/store/make_fixture.py [--out tests/store/fixtures]

It holds real rows in every table a release writes: two committed sample logs (the REST JSON and
the combined log, ``data/samples/``) plus three weeks of hourly counts for two routes cut from
``counts_hourly.csv``, a handful of bad lines (``rejects``), a 24-hour weekly seasonal-naive
forecast as of 2026-11-25 05:00 with a capacity limit on one route (so ``spikes`` has rows), and
that forecast priced in dollars and grams (``costs``, ``carbon``, ``runs``). Ids and timestamps of the run are fixed afterwards so
that the file is the same whenever it is made (DuckDB's bytes still differ run to run).

The file is named for the schema version it was written at (``migrations.latest_version()``).
Keep every released version's file: ``test_migrations.py`` migrates each to the latest version
and checks its data (counts and sample values). ``schema-v1.duckdb`` was made at commit 8c054ac
(the schema before versioned migrations, which is version 1). The database is copied into a file
with 16 KB blocks at the end, which keeps it at a few hundred KB instead of a few MB.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import shutil
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "data" / "samples"
AS_OF = dt.datetime(2026, 11, 25, 5)
COUNT_ROUTES = {("shop", "GET /products", "us-east-1"), ("pets", "GET /pets", "us-east-1")}
BAD_LINES = ["this is not a log line\n", '{"requestId": "broken json\n', "GET / HTTP/1.1 missing fields\n"]


def write_inputs(work: Path) -> list[Path]:
    counts = work / "counts_two_routes.csv"
    first = AS_OF - dt.timedelta(days=21)
    with open(SAMPLES / "counts_hourly.csv", newline="") as f, open(counts, "w", newline="") as out:
        r, w = csv.reader(f), csv.writer(out)
        w.writerow(next(r))
        for row in r:
            ts = dt.datetime.fromisoformat(row[0].replace("Z", ""))
            if (row[1], row[4], row[5]) in COUNT_ROUTES and first <= ts < AS_OF:
                w.writerow(row)
    bad = work / "combined_with_bad_lines.log"
    lines = (SAMPLES / "combined.log").read_text().splitlines(keepends=True)[:200]
    bad.write_text("".join(lines[:100] + BAD_LINES + lines[100:]))
    return [SAMPLES / "apigw_rest_json.log", bad, counts]


def make(out_dir: Path) -> Path:
    from forecaster.carbon.store import report_from_db as carbon_report
    from forecaster.carbon.store import write_report as write_carbon
    from forecaster.config import Settings
    from forecaster.forecast.run import run_forecast
    from forecaster.ingest import ingest
    from forecaster.pricing.store import report_from_db, write_report
    from forecaster.store import open_store
    from forecaster.store.db import run
    from forecaster.store.migrations import latest_version

    version = latest_version()
    target = out_dir / f"schema-v{version}.duckdb"
    with tempfile.TemporaryDirectory(prefix="forecaster-fixture-") as tmp:
        work = Path(tmp)
        db = work / "full.duckdb"
        settings = Settings(db=db, forecast_workers=1, forecast_engine="local",
                            spike_capacity_rps={"route:shop|prod|GET /products|us-east-1": 5.0})
        with open_store(db, settings) as con:
            rep = ingest(con, [str(p) for p in write_inputs(work)], settings)
            assert not rep.failed, rep
            summary = run_forecast(con, settings, horizon="24h", step="1h", model="seasonal_naive_weekly",
                                   as_of=AS_OF, routes="route:*", seed=1)
            assert summary.spikes > 0, "the capacity limit should make spikes"
            report, fc_run = report_from_db(con, settings, forecast=True, as_of=AS_OF)
            cost_run = write_report(con, report, {"as_of": AS_OF.isoformat(), "forecast": True}, fc_run)
            carbon_run = write_carbon(con, carbon_report(con, settings, forecast=True, as_of=AS_OF))
            # Fixed ids and times: the same rows whenever the file is made.
            fixed = {summary.run_id: "fo-fixture-forecast", cost_run: "costs-fixture", carbon_run: "carbon-fixture"}
            for old, new in fixed.items():
                for table in ("runs", "forecasts", "backtests", "spikes", "costs", "carbon"):
                    run(con, f"UPDATE {table} SET run_id = ? WHERE run_id = ?", [new, old])
            run(con, "UPDATE runs SET started = ?, finished = ?", [AS_OF, AS_OF + dt.timedelta(minutes=1)])
            run(con, "UPDATE sources SET loaded_at = ?, uri = regexp_replace(uri, '^.*/', 'fixture/')", [AS_OF])
            run(con, "UPDATE schema_version SET applied_at = ?", [AS_OF])
            run(con, "CHECKPOINT")
        small = work / "small.duckdb"
        import duckdb  # the test suite's tool, not forecaster's: only forecaster.store imports duckdb

        c = duckdb.connect()
        c.execute(f"ATTACH '{db}' AS full_db (READ_ONLY)")
        c.execute(f"ATTACH '{small}' AS small_db (BLOCK_SIZE 16384)")
        c.execute("COPY FROM DATABASE full_db TO small_db")
        c.close()
        out_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(small, target)
    return target


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "fixtures")
    a = ap.parse_args(argv)
    path = make(a.out)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB)")


if __name__ == "__main__":
    main()
