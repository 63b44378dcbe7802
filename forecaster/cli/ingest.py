"""``forecaster ingest``: load access logs, exactly once."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TimeRemainingColumn
from rich.table import Table

from ..ingest import IngestReport, ingest
from ..store import open_store
from .common import ConfigOption, DbOption, JsonOption, interruptible, load_settings, print_json, short


def register(app: typer.Typer) -> None:
    @app.command("ingest")
    def ingest_cmd(
        sources: List[str] = typer.Argument(..., help="files, directories, globs, .gz, '-' (stdin), s3://bucket/prefix, cwlogs://GROUP. "
                                  "stdin has no identity (no path to resume from): its lines without a request id "
                                  "are keyed by their content, so the same lines piped twice count once"),
        db: Optional[Path] = DbOption,
        fmt: str = typer.Option("auto", "--format", help="log format name, or auto (detected per source)"),
        route_map: Optional[Path] = typer.Option(None, "--route-map", help="OpenAPI spec or route list to template paths"),
        as_json: bool = JsonOption,
        config: Optional[Path] = ConfigOption,
    ) -> None:
        """Load gateway access logs into DuckDB. Loading the same bytes twice adds nothing."""
        settings = load_settings(config, db)
        console = Console(stderr=True)
        kept = ("the sources loaded before Ctrl-C stay loaded; the one being read was rolled back whole. "
                "Run the same command again to load the rest, exactly once")
        with interruptible(kept), open_store(settings.db, settings) as con:
            if as_json or not console.is_terminal:
                report = ingest(con, sources, settings, fmt=fmt, route_map=route_map)
            else:
                with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                              TimeRemainingColumn(), console=console, transient=True) as bar:
                    tasks: dict[str, TaskID] = {}

                    def progress(uri: str, done: int, total: int | None) -> None:
                        if uri not in tasks:
                            for old in tasks.values():   # sources load one after another: one bar at a time,
                                bar.remove_task(old)     # not thousands for thousands of small objects
                            tasks.clear()
                            tasks[uri] = bar.add_task(short(Path(uri).name, 40), total=total)
                        bar.update(tasks[uri], completed=done)

                    report = ingest(con, sources, settings, fmt=fmt, route_map=route_map, progress=progress)
        if as_json:
            print_json(report.to_dict())
        else:
            print_summary(report, settings.db)
        if report.failed:
            raise typer.Exit(1)


def print_summary(report: IngestReport, db: Path) -> None:
    console = Console()
    t = Table(title=f"ingest into {db}", show_lines=False)
    for col in ("source", "status", "format", "loaded", "rejected", "duplicate", "seconds"):
        t.add_column(col, justify="right" if col in ("loaded", "rejected", "duplicate", "seconds") else "left")
    width = max(16, console.width - 64)   # the other columns and the borders take ~64
    notes = []
    for s in report.by_source:
        t.add_row(short(s.uri, width), s.status, s.format or "-", f"{s.rows_loaded:,}", f"{s.rows_rejected:,}",
                  f"{s.rows_duplicate:,}", f"{s.seconds:.2f}")
        if s.note and s.status != "loaded":
            notes.append(f"{s.status}: {s.uri}: {s.note}")
    console.print(t)
    for n in notes:   # whole, under the table, rather than folded into a narrow column
        console.print(n, soft_wrap=True, markup=False, highlight=False)
    console.print(
        f"{report.sources} source(s): {report.rows_loaded:,} rows loaded, {report.rows_rejected:,} rejected "
        f"(see table rejects), {report.rows_duplicate:,} duplicate, in {report.seconds:.2f}s"
    )


