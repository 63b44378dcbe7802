"""Options and helpers shared by the command modules."""

from __future__ import annotations

import contextlib
import json
import math
import sys
from pathlib import Path
from typing import Any, Iterator, Optional

import typer
from rich import box
from rich.table import Table

from ..config import Settings, get_settings, settings_from_file
from ..errors import is_interrupt

DbOption = typer.Option(None, "--db", help="DuckDB file (default: settings.db, ./forecaster.duckdb)")
JsonOption = typer.Option(False, "--json", help="print one JSON object instead of a human summary")
ConfigOption = typer.Option(None, "--config", help="TOML config file (default: $FORECASTER_CONFIG_FILE or ./forecaster.toml)")


def load_settings(config: Optional[Path] = None, db: Optional[Path] = None) -> Settings:
    s = settings_from_file(config) if config else get_settings()
    if db is not None:
        s = s.model_copy(update={"db": db})
    return s


def print_json(obj: Any) -> None:
    typer.echo(json.dumps(obj, default=str, indent=None, sort_keys=False))


def parse_hours(value: str, name: str) -> int:
    """'72', '72h' or '3d' -> hours (at least 1, at most 31 days)."""
    from ..errors import BadInput

    v = value.strip().lower()
    try:
        hours = int(v[:-1]) * 24 if v.endswith("d") else int(v[:-1] if v.endswith("h") else v)
    except ValueError:
        raise BadInput(f"{name}: expected hours or a duration like 72h or 3d, got {value!r}") from None
    if not 1 <= hours <= 24 * 31:
        raise BadInput(f"{name}: expected 1 hour to 31 days, got {value!r}")
    return hours


def require_db(db: Path) -> None:
    """Read-only commands never create a database: a path that does not exist is an error."""
    from ..errors import NotFound

    if str(db) != ":memory:" and not Path(db).exists():
        raise NotFound(f"no database at {db}: expected an existing DuckDB file (load logs with "
                       f"`forecaster ingest ... --db {db}` first)")


def short(text: str, width: int) -> str:
    """``text`` cut in the middle to ``width`` characters, keeping both ends (paths and keys differ
    at their ends: '…/tomcat-access.log.3', 'route:shop|prod|GET /products/{id}')."""
    if len(text) <= width:
        return text
    if width < 5:
        return text[:width]
    head = (width - 1) // 3
    return text[:head] + "…" + text[len(text) - (width - 1 - head):]


@contextlib.contextmanager
def interruptible(what_is_kept: str) -> Iterator[None]:
    """Ctrl-C as one line saying what was kept (exit status 130, the shell's for SIGINT), not a
    traceback or a bare newline. The work itself already rolls back what it had not finished."""
    global interrupt_said
    try:
        yield
    except (KeyboardInterrupt, RuntimeError) as e:
        if not is_interrupt(e):
            raise
        sys.stderr.write(f"\ninterrupted: {what_is_kept}\n")
        interrupt_said = True
        raise typer.Exit(130) from None


# Whether `interruptible` has said its line: typer turns a KeyboardInterrupt raised outside a
# command's own handler (while it prints help, while the settings load) into a silent exit 130, and
# ``cli.main`` then says the line itself.
interrupt_said = False


def keyed_table(title: str, key: str, min_width: int) -> Table:
    """A table whose first column, ``key``, folds rather than being cut (its end, a route or a
    region, is what tells rows apart) and takes the width the other columns leave."""
    t = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    t.add_column(key, overflow="fold", ratio=1, min_width=min_width)
    return t


def display_path(uri: str) -> str:
    """A local path under the working directory as a relative one (what a person typed); others whole."""
    if "://" in uri or uri == "-":
        return uri
    try:
        return str(Path(uri).resolve().relative_to(Path.cwd()))
    except (ValueError, OSError):
        return uri


def money(v: float) -> str:
    """Dollars as a person reads them: cents from a dollar up ($314.36), two significant digits
    below ($0.042, $0.000092), never a float's tail ($314.363031) nor an exponent. ``--json`` keeps
    every digit."""
    if v == 0 or v != v:
        return "$0.00" if v == 0 else "$?"
    sign = "-" if v < 0 else ""
    a = abs(v)
    if a >= 1:
        return f"{sign}${a:,.2f}"
    decimals = min(9, max(2, 1 - math.floor(math.log10(a))))
    return f"{sign}${a:.{decimals}f}"
