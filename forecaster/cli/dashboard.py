"""``forecaster dashboard --out DIR``: the ops pages as self-contained HTML files."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from .common import ConfigOption, DbOption, JsonOption, load_settings, print_json, require_db


def register(app: typer.Typer) -> None:
    @app.command("dashboard")
    def dashboard_cmd(
        out: Path = typer.Option(..., "--out", help="directory to write the pages to (created if missing)"),
        routes: int = typer.Option(5, "--routes", min=1, help="route pages to write: the busiest routes"),
        db: Optional[Path] = DbOption,
        config: Optional[Path] = ConfigOption,
        as_json: bool = JsonOption,
    ) -> None:
        """Write the overview, route, cost & carbon and decisions pages (plotly.js inlined, no network)."""
        from dashboards import export

        from ..store import open_store

        settings = load_settings(config, db)
        require_db(settings.db)
        with open_store(settings.db, settings) as con:
            paths = export(out, con, settings, routes=routes)
        if as_json:
            print_json({"out": str(out), "pages": [str(p) for p in paths]})
            return
        typer.echo(f"{len(paths)} pages written to {out}; open {paths[0].resolve()}")
