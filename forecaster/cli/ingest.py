"""``forecaster ingest``: load access logs, exactly once."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Iterator, List, Optional

import typer
from rich.console import Console

from ..ingest import IngestReport, ingest
from ..ingest.report import FAILED_SOURCE_LOG
from ..store import open_store
from .common import (ConfigOption, DbOption, display_path, interruptible, JsonOption, keyed_table, load_settings,
                     print_json, short)


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
        if str(settings.db) != ":memory:" and not Path(settings.db).exists() and all(
                "://" not in u or u.startswith("file://") for u in sources) and "-" not in sources:
            from ..ingest.sources import expand

            expand(list(sources), settings)   # local paths only: a typo says so before a new, empty store is made
        console = Console(stderr=True)
        kept = ("the sources loaded before Ctrl-C stay loaded; the one being read was rolled back whole. "
                "Run the same command again to load the rest, exactly once")
        with interruptible(kept), open_store(settings.db, settings) as con, _failures_said_once():
            if as_json or not console.is_terminal:
                report = ingest(con, sources, settings, fmt=fmt, route_map=route_map)
            else:   # (rich.progress imported here: only a terminal shows the bar)
                from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

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


class _SaidInTheReport(logging.Filter):
    """Drops the loader's "source X failed" warnings: the report this command prints (human or
    JSON) carries each failure with its reason, and a service's log keeps them (it has no report)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.name.startswith("forecaster.ingest.") and record.msg == FAILED_SOURCE_LOG)


@contextlib.contextmanager
def _failures_said_once() -> Iterator[None]:
    handlers = logging.getLogger().handlers
    said = _SaidInTheReport()
    for h in handlers:
        h.addFilter(said)
    try:
        yield
    finally:
        for h in handlers:
            h.removeFilter(said)


def print_summary(report: IngestReport, db: Path, limit: int = 25) -> None:
    """One row per source (failed ones first, then those with rejects; at most ``limit``), paths
    relative to the working directory and folded rather than cut; then each source's note whole."""
    console = Console()
    t = keyed_table(f"ingest into {db}", "source", 16)
    for col in ("status", "format", "loaded", "rejects", "dups", "s"):
        t.add_column(col, no_wrap=True, justify="left" if col in ("status", "format") else "right")
    rank = {"failed": 0, "loaded": 1, "skipped": 2}
    rows = sorted(report.by_source, key=lambda s: (rank.get(s.status, 1), s.rows_rejected == 0))
    notes = []
    for s in rows[:limit]:
        t.add_row(display_path(s.uri), s.status, s.format or "-", f"{s.rows_loaded:,}", f"{s.rows_rejected:,}",
                  f"{s.rows_duplicate:,}", f"{s.seconds:.2f}")
    for s in report.by_source:
        if s.note:   # failures, skips, and what a load left or continued (a held unfinished last line)
            notes.append(f"{s.status}: {s.note}" if s.uri in s.note else f"{s.status}: {display_path(s.uri)}: {s.note}")
    console.print(t)
    if len(rows) > limit:
        console.print(f"... and {len(rows) - limit:,} more source(s) (--json for all; `forecaster sources list`)")
    for n in notes[:limit]:   # whole, under the table, rather than folded into a narrow column
        console.print(n, soft_wrap=True, markup=False, highlight=False)
    if len(notes) > limit:
        console.print(f"... and {len(notes) - limit:,} more note(s) (--json for all)")
    console.print(
        f"dups: rows seen before (same request id, or same place in the same bytes); s: seconds\n"
        f"{report.sources} source(s): {report.rows_loaded:,} rows loaded, {report.rows_rejected:,} rejected "
        f"(see table rejects), {report.rows_duplicate:,} duplicate, in {report.seconds:.2f}s"
    )
