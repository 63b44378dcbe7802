"""The demo's dashboards section: write the pages next to the database and say where they are."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from forecaster.config import Settings

from . import export


def default_out_dir(settings: Settings) -> Path:
    """``<db name>-dashboards/`` beside the DuckDB file (``./forecaster-dashboards`` by default)."""
    db = Path(settings.db)
    return db.with_name(f"{db.stem}-dashboards")


def show_dashboards(con, settings: Settings, console: Console, out_dir: Path | None = None) -> Path:
    """Export the dashboards and print the overview's path; returns it."""
    out = out_dir or default_out_dir(settings)
    paths = export(out, con, settings)
    overview = paths[0].resolve()
    size_mb = max(p.stat().st_size for p in paths) / 1e6
    console.print(f"{len(paths)} dashboard pages in {out} (self-contained, largest {size_mb:.1f} MB); open the overview:")
    console.print(f"  {overview}", soft_wrap=True, highlight=False)
    return overview
