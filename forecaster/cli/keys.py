"""``forecaster keys create | list | revoke``: API keys for the REST API (only their hashes are stored)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from ..store import api_keys, open_store
from .common import ConfigOption, DbOption, JsonOption, load_settings, print_json, require_db


def register(app: typer.Typer) -> None:
    keys = typer.Typer(no_args_is_help=True, help="API keys: reader (gateways, dashboards), operator (plan/apply/rollback), admin.")
    app.add_typer(keys, name="keys")

    @keys.command("create")
    def create_cmd(
        role: str = typer.Option(..., "--role", help="reader | operator | admin"),
        name: str = typer.Option(..., "--name", help="who or what uses the key"),
        db: Optional[Path] = DbOption, config: Optional[Path] = ConfigOption, as_json: bool = JsonOption,
    ) -> None:
        """Make a key and print it once (it cannot be shown again: only its hash is stored)."""
        settings = load_settings(config, db)
        with open_store(settings.db, settings) as con:
            k, text = api_keys.create(con, name, role)
        if as_json:
            print_json({"name": k.name, "role": k.role, "key": text})
            return
        Console().print(f"created {k.role} key {k.key_id} for {k.name!r}; store it now, it is not shown again:")
        typer.echo(text)

    @keys.command("list")
    def list_cmd(
        all_: bool = typer.Option(False, "--all", help="include revoked keys"),
        db: Optional[Path] = DbOption, config: Optional[Path] = ConfigOption, as_json: bool = JsonOption,
    ) -> None:
        """List keys (id, name, role, created, revoked); never the keys themselves."""
        settings = load_settings(config, db)
        require_db(settings.db)
        with open_store(settings.db, settings) as con:
            rows = api_keys.list_keys(con, include_revoked=all_)
        if as_json:
            print_json({"keys": [k.to_dict() for k in rows]})
            return
        if not rows:
            Console().print("no " + ("" if all_ else "live ") + "API key yet: `forecaster keys create --role reader|"
                            "operator|admin --name NAME` makes one", highlight=False)
            return
        t = Table(title=f"API keys in {settings.db}", box=box.SIMPLE_HEAD, pad_edge=False)
        t.add_column("id", no_wrap=True)
        t.add_column("name", overflow="fold", ratio=1, min_width=8)
        t.add_column("role", no_wrap=True)
        for c in ("created (UTC)", "revoked (UTC)"):
            t.add_column(c, no_wrap=True)
        for k in rows:
            d = k.to_dict()
            t.add_row(d["id"], d["name"], d["role"], d["created"][:16].replace("T", " "),
                      (d["revoked"] or "")[:16].replace("T", " "))
        Console().print(t)

    @keys.command("revoke")
    def revoke_cmd(
        key: str = typer.Argument(..., help="key id, or a name (revokes every live key with that name)"),
        db: Optional[Path] = DbOption, config: Optional[Path] = ConfigOption, as_json: bool = JsonOption,
    ) -> None:
        """Revoke keys: they stop working at once."""
        settings = load_settings(config, db)
        require_db(settings.db)
        with open_store(settings.db, settings) as con:
            revoked = api_keys.revoke(con, key)
        if as_json:
            print_json({"revoked": [k.to_dict() for k in revoked]})
            return
        for k in revoked:
            Console().print(f"revoked {k.key_id} ({k.name}, {k.role})")
