"""The ``forecaster`` console script: Ctrl-C while the commands import (a second or two of pandas,
DuckDB and typer) ends with one line and exit status 130, like Ctrl-C later, not a traceback.

While importing, SIGINT ends the process at once (``os._exit``): nothing has been opened or written
yet, and a ``KeyboardInterrupt`` raised inside an extension module's import is not always a
``KeyboardInterrupt`` by the time it reaches us (pydantic-core wraps it in a ``SchemaError``).
Once the commands are loaded, Python's own handler is back and each command cleans up after itself.
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType


_stderr = 2


def _exit_while_importing(signum: int, frame: FrameType | None) -> None:
    try:
        os.write(_stderr, b"\ninterrupted\n")
    except OSError:
        pass
    os._exit(130)


def main() -> None:
    # A copy of the terminal's stderr: some imports point descriptor 2 at /dev/null for a moment to
    # hush a C library, and the one line must not go there.
    global _stderr
    try:
        _stderr = os.dup(2)
    except OSError:       # started with stderr closed: the line has nowhere to go, the status still says it
        _stderr = 2
    previous = signal.signal(signal.SIGINT, _exit_while_importing)
    try:
        from .cli import main as cli_main
    finally:
        signal.signal(signal.SIGINT, previous)
        if _stderr != 2:
            os.close(_stderr)
        _stderr = 2
    cli_main()
