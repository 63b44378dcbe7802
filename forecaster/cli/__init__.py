"""The ``forecaster`` command: a thin front over the library (one module per command group).

Each module in this package defines ``register(app)``; adding a command never edits another's file.
"""

from __future__ import annotations

import importlib
import logging
import sys

import typer

from ..errors import ForecasterError, is_interrupt

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Forecast, price and decide for API gateways.")


@app.callback()
def _root() -> None:
    """forecaster: forecast, price and decide for API gateways."""


# Command modules, in help order. Each has register(app).
COMMAND_MODULES = ("demo", "run", "ingest", "sources", "samples", "forecast", "costs", "tokens", "decide", "control", "dashboard", "serve", "keys")


def _load_commands(wanted: str | None = None) -> None:
    """Register the commands. ``wanted``: the command this process was started for (``forecaster
    ingest ...``); when the module of that name provides it, only that module is imported, so a
    command does not pay for the others' imports (pandas, the forecasting stack: a second of
    start-up that ``forecaster ingest`` never uses). Anything else (``--help``, tests importing
    ``app``) loads every command."""
    if wanted in COMMAND_MODULES and _register(wanted) and wanted in _command_names():
        return
    for name in COMMAND_MODULES:
        if name != wanted:
            _register(name)


def _register(name: str) -> bool:
    try:
        mod = importlib.import_module(f"{__name__}.{name}")
    except ModuleNotFoundError as e:
        if e.name == f"{__name__}.{name}":
            return False   # a command group not built yet
        raise
    mod.register(app)
    return True


def _command_names() -> set[str]:
    names = {c.name or (c.callback.__name__.replace("_", "-") if c.callback else "") for c in app.registered_commands}
    return names | {g.name or "" for g in app.registered_groups}


_load_commands(sys.argv[1] if len(sys.argv) > 1 and sys.argv[0].endswith(("forecaster", "__main__.py")) else None)


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # prophet logs "ERROR prophet.plot: Importing plotly failed" on import when plotly's optional
    # parts are missing; forecaster never plots through prophet, so the line is noise.
    logging.getLogger("prophet.plot").setLevel(logging.CRITICAL)
    from pydantic import ValidationError

    try:
        app()   # click's standalone mode: usage errors as one line; Ctrl-C exits 130 (see common.interruptible)
    except (KeyboardInterrupt, RuntimeError) as e:   # between commands' own handlers, e.g. while the settings load
        if not is_interrupt(e):
            raise
        sys.stderr.write("\ninterrupted\n")
        sys.exit(130)
    except SystemExit as e:     # typer's own silent exit 130 for a Ctrl-C outside `interruptible`
        from . import common

        if e.code == 130 and not common.interrupt_said:
            sys.stderr.write("\ninterrupted\n")
        raise
    except ForecasterError as e:
        typer.secho(f"error: {e}", err=True, fg=typer.colors.RED)
        sys.exit(2)
    except ValidationError as e:      # a bad setting: config file, FORECASTER_* variable
        typer.secho(f"error: {_one_line(e)}", err=True, fg=typer.colors.RED)
        sys.exit(2)


def _one_line(e) -> str:
    """A pydantic validation error as one line: each bad setting, what came and what was expected."""
    parts = []
    for err in e.errors():
        where = ".".join(str(x) for x in err.get("loc", ())) or "settings"
        parts.append(f"setting {where}: {err.get('msg')} (got {err.get('input')!r})")
    return "invalid settings: " + "; ".join(parts)


if __name__ == "__main__":  # pragma: no cover
    main()
