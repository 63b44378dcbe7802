"""The ``forecaster`` command: a thin front over the library (one module per command group).

Each module in this package defines ``register(app)``; adding a command never edits another's file.
"""

from __future__ import annotations

import importlib
import logging
import sys

import typer

from ..errors import ForecasterError

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Forecast, price and decide for API gateways.")



@app.callback()
def _root() -> None:
    """forecaster: forecast, price and decide for API gateways."""


# Command modules, in help order. Each has register(app).
COMMAND_MODULES = ("demo", "ingest", "sources", "samples", "forecast", "costs")


def _load_commands() -> None:
    for name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:
            if e.name == f"{__name__}.{name}":
                continue   # a command group not built yet
            raise
        mod.register(app)


_load_commands()


def main() -> None:
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        app()
    except ForecasterError as e:
        typer.secho(f"error: {e}", err=True, fg=typer.colors.RED)
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
