"""The ``forecaster`` console script: Ctrl-C while the commands import (a second or two of pandas,
DuckDB and typer) ends with one line and exit status 130, like Ctrl-C later, not a traceback."""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from .cli import main as cli_main
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        sys.exit(130)
    cli_main()
