"""``forecaster sources``: what was loaded from where, and forgetting a source exactly."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from ..ingest.forget import forget
from ..store import open_store
from ..store import sources as store_sources
from .common import ConfigOption, DbOption, display_path, JsonOption, load_settings, print_json, require_db


def register(app: typer.Typer) -> None:
    group = typer.Typer(no_args_is_help=True, help="List loaded sources; forget one (its rows, rejects and rollups).")
    app.add_typer(group, name="sources")

    @group.command("list")
    def list_cmd(db: Optional[Path] = DbOption, as_json: bool = JsonOption, config: Optional[Path] = ConfigOption) -> None:
        """Every loaded source: id, path, format, rows loaded / rejected / duplicate, bytes covered."""
        settings = load_settings(config, db)
        require_db(settings.db)
        with open_store(settings.db, settings) as con:
            rows = store_sources.listing(con)
        if as_json:
            print_json([r.__dict__ for r in rows])
            return
        console = Console()
        t = Table(title=f"sources in {settings.db}", box=box.SIMPLE_HEAD, pad_edge=False)
        t.add_column("id", justify="right", no_wrap=True)
        t.add_column("source", overflow="fold", ratio=1, min_width=16)   # folded, not cut: its end tells files apart
        for col in ("format", "loaded", "rejects", "dups", "bytes"):
            t.add_column(col, justify="left" if col == "format" else "right", no_wrap=True)
        for r in rows:
            span = f"{r.offset_bytes:,}-{r.loaded_bytes:,}" if r.parent_id and r.loaded_bytes is not None else (
                f"{r.loaded_bytes:,}" if r.loaded_bytes is not None else "-")
            t.add_row(str(r.source_id), display_path(r.uri), r.format or "-", f"{r.rows_loaded:,}",
                      f"{r.rows_rejected:,}", f"{r.rows_duplicate:,}", span)
        console.print(t)

    @group.command("forget")
    def forget_cmd(
        source: str = typer.Argument(..., help="a source id (see `sources list`) or a loaded path/URI (every load of it)"),
        db: Optional[Path] = DbOption, as_json: bool = JsonOption, config: Optional[Path] = ConfigOption,
    ) -> None:
        """Remove a source's requests, rejects and rollup contributions, exactly, in one transaction
        (with any later load continuing it); load it again afterwards, e.g. with the right --format."""
        settings = load_settings(config, db)
        require_db(settings.db)
        with open_store(settings.db, settings) as con:
            rep = forget(con, source)
        if as_json:
            print_json(rep.to_dict())
            return
        typer.echo(f"forgot source(s) {', '.join(map(str, rep.source_ids))}: {rep.requests:,} requests, "
                   f"{rep.rejects:,} rejects, {rep.count_rows:,} count rows; {rep.rollup_rows_removed:,} rollup rows "
                   f"removed, {rep.rollup_rows_rebuilt:,} of them rebuilt from other sources' traffic")
