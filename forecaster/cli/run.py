"""``forecaster run``: the pipeline once, in the foreground, with progress."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.markup import escape

from ..errors import ForecasterError
from ..pipeline import STEPS, StepResult, recover, run_pipeline
from ..store import open_store
from .common import ConfigOption, DbOption, JsonOption, interruptible, load_settings, money, print_json


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run_cmd(
        steps: Optional[str] = typer.Option(None, "--steps", help=f"comma-separated steps, in flow order: {', '.join(STEPS)} "
                                                                  "(default: all but plan and apply)"),
        sources: Optional[List[str]] = typer.Option(None, "--source", help="source to ingest (repeatable; default: "
                                                                           "settings.schedule_ingest_sources)"),
        as_of: Optional[dt.datetime] = typer.Option(None, "--as-of", help="the run's 'now' (UTC; default: settings.as_of or the clock)"),
        events: Optional[Path] = typer.Option(None, "--events", help="events calendar (default: settings.events_file)"),
        force: bool = typer.Option(False, "--force", help="rerun steps whose inputs did not change"),
        apply_mode: str = typer.Option("dry_run", "--apply", help="the apply step: dry_run (default), all (for real), "
                                                                 "or auto (for real on targets with auto_apply)"),
        db: Optional[Path] = DbOption, config: Optional[Path] = ConfigOption, as_json: bool = JsonOption,
    ) -> None:
        """Run the pipeline once: ingest -> forecast -> price -> carbon (each step a row in runs)."""
        settings = load_settings(config, db)
        console = Console(stderr=True)

        def progress(sr: StepResult) -> None:
            counts = ", ".join(f"{k} {_shown(k, v)}" for k, v in sr.counts.items()
                               if k not in ("seconds", "models", "failed") and not isinstance(v, (dict, list)))
            console.print(f"[bold]{sr.step:<9}[/] {sr.status:<8} {sr.seconds:7.1f}s  {escape(counts)}")

        kept = ("the steps finished before Ctrl-C are kept; the one running was rolled back and marked "
                "interrupted. Run again: finished steps whose inputs did not change are skipped")
        with interruptible(kept), open_store(settings.db, settings) as con:
            recover(con)
            try:
                result = run_pipeline(settings, steps, con=con, sources=sources, as_of=as_of,
                                      events=str(events) if events else None, force=force, apply_mode=apply_mode,
                                      progress=None if as_json else progress, actor="cli")
            except ForecasterError as e:
                console.print(f"[red]pipeline failed[/]: {e}")
                raise typer.Exit(1)
        if as_json:
            print_json(result.to_dict())
        else:
            console.print(f"pipeline {result.run_id}: {result.status} in {result.seconds:.1f}s")


def _shown(key: str, v) -> str:
    """A step's count as a person reads it: money to the cent, grams to the gram, counts with commas
    (``--json`` keeps every digit)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return str(v)
    if key.endswith("_usd"):
        return money(v)
    if isinstance(v, float):
        return f"{v:,.0f}" if abs(v) >= 100 else f"{v:,.3g}"
    return f"{v:,}"
