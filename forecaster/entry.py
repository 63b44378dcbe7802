"""The ``forecaster`` console script: Ctrl-C while the commands import (a second or two of pandas,
DuckDB and typer) ends with one line and exit status 130, like Ctrl-C later, not a traceback.

While importing, SIGINT ends the process at once (``os._exit``): nothing has been opened or written
yet, and a ``KeyboardInterrupt`` raised inside an extension module's import is not always a
``KeyboardInterrupt`` by the time it reaches us (pydantic-core wraps it in a ``SchemaError``).
Once the commands are loaded, Python's own handler is back and each command cleans up after itself.

A command of :data:`FAST_EXIT` ends the process without tearing the interpreter down once it has
returned (its outputs written, atexit handlers run, the same exit status): unloading DuckDB,
pyarrow, numpy and pydantic module by module costs 0.1-0.2 s, a tenth of a small ``ingest``.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
from types import FrameType


_stderr = 2

#: commands that close every file and connection they open before they return (so nothing is left
#: for the interpreter's shutdown to flush or close)
FAST_EXIT = ("ingest",)


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
    if len(sys.argv) < 2 or sys.argv[1] not in FAST_EXIT:
        cli_main()
        return
    try:
        cli_main()
    except SystemExit as e:
        _exit(e.code)
    _exit(0)


def _exit(code: object) -> None:
    """Exit with ``sys.exit(code)``'s status and output, skipping the interpreter's teardown; the
    usual exit when another (non-daemon) thread still runs or the standard streams cannot be flushed."""
    if any(t.is_alive() and not t.daemon for t in threading.enumerate() if t is not threading.main_thread()):
        raise SystemExit(code)
    status = 0 if code is None else code if isinstance(code, int) else 1
    try:
        sys.stdout.flush()
        if status == 1 and not isinstance(code, int):   # sys.exit("message"): the message on stderr
            sys.stderr.write(f"{code}\n")
        sys.stderr.flush()
    except (OSError, ValueError):   # a closed or broken stream: let the interpreter report it as usual
        raise SystemExit(code) from None
    atexit._run_exitfuncs()   # logging's shutdown among them
    os._exit(status)
