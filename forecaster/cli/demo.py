"""``forecaster demo``: the main job on the embedded default — sample logs -> DuckDB -> forecast -> price.

It is what the README's first command runs: a newcomer sees every stage work on the committed
samples, and the same DuckDB file is left behind to explore (notebooks, API, dashboards).
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from ..ingest import ingest
from ..store import open_store
from ..store.db import run
from .common import ConfigOption, DbOption, load_settings
from .ingest import print_summary


def default_samples_dir() -> Path:
    """data/samples of the checkout this package runs from, else of the current directory."""
    here = Path(__file__).resolve().parents[2] / "data" / "samples"
    return here if here.is_dir() else Path("data/samples")


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo_cmd(
        db: Optional[Path] = DbOption,
        samples: Optional[Path] = typer.Option(None, "--samples", help="directory of sample logs (default: data/samples)"),
        config: Optional[Path] = ConfigOption,
    ) -> None:
        """Run the pipeline on the sample data: ingest, then every stage built so far."""
        settings = load_settings(config, db)
        samples_dir = samples or default_samples_dir()
        console = Console()
        console.rule(f"[bold]forecaster demo[/] — samples {samples_dir} -> {settings.db}")
        logs = sorted(p for p in samples_dir.iterdir() if p.is_file() and p.suffix in (".log", ".gz", ".jsonl", ".csv")
                      and not p.name.startswith(("events", "README")))
        if not logs:
            raise typer.BadParameter(f"no sample logs in {samples_dir}; generate some with `forecaster samples generate`")
        with open_store(settings.db, settings) as con:
            report = ingest(con, [str(p) for p in logs], settings)
            print_summary(report, settings.db)
            show_traffic(con, console)
        if report.failed:
            raise typer.Exit(1)


def show_traffic(con, console: Console, limit: int = 12) -> None:
    """The busiest routes in the store, from the per-minute rollups."""
    rows = run(con, f"""
        SELECT api, route, region, sum(requests) AS requests,
               round(100.0 * sum(status_5xx) / sum(requests), 2) AS pct_5xx,
               round(sum(latency_p95_ms * latency_n) / nullif(sum(latency_n), 0), 1) AS p95_ms,
               min(ts) AS first, max(ts) AS last
        FROM traffic_1m GROUP BY ALL ORDER BY requests DESC LIMIT {int(limit)}
    """)
    total = run(con, "SELECT count(DISTINCT (api, stage, route, region)), coalesce(sum(requests), 0) FROM traffic_1m")[0]
    t = Table(title=f"traffic: {total[1]:,} requests on {total[0]} routes (top {limit})")
    for c in ("api", "route", "region", "requests", "5xx %", "p95 ms", "from", "to"):
        t.add_column(c, justify="right" if c in ("requests", "5xx %", "p95 ms") else "left")
    for api, route, region, req, p5, p95, first, last in rows:
        t.add_row(api, route, region, f"{req:,}", f"{p5}", "-" if p95 is None else f"{p95}",
                  f"{first:%Y-%m-%d %H:%M}", f"{last:%Y-%m-%d %H:%M}")
    console.print(t)
