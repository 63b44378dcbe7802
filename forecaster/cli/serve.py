"""``forecaster serve``: the REST API (uvicorn) and the scheduler in one process, one DuckDB writer."""

from __future__ import annotations

import gc
import signal
import sys
import logging
from pathlib import Path
from types import FrameType
from typing import Optional, cast

import typer

from .common import ConfigOption, DbOption, load_settings


def _stop_asked(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve_cmd(
        host: str = typer.Option("127.0.0.1", "--host", help="address to listen on"),
        port: int = typer.Option(8000, "--port", help="TCP port"),
        no_scheduler: bool = typer.Option(False, "--no-scheduler", help="serve the API only; run no scheduled jobs"),
        db: Optional[Path] = DbOption, config: Optional[Path] = ConfigOption,
        log_level: str = typer.Option("info", "--log-level", help="uvicorn and forecaster log level"),
    ) -> None:
        """Serve the REST API (/v1, /docs, /healthz, /readyz, /metrics), the dashboards and the scheduled jobs."""
        import uvicorn

        from ..api import create_app
        from ..runtime import Runtime
        from ..store.db import clear_holder_note, write_holder_note

        logging.getLogger("forecaster").setLevel(log_level.upper())
        logging.getLogger("pipelines").setLevel(log_level.upper())
        settings = load_settings(config, db)
        runtime = Runtime(settings)
        background = []
        if not no_scheduler:
            from pipelines import ServiceScheduler

            background.append(ServiceScheduler(runtime))
        api = create_app(settings, runtime=runtime, background=background)
        gc.collect()
        gc.freeze()     # what start-up made lives as long as the process: no collector pass walks it again
        # the scheduled pipeline runs in a thread of this process (the store has one writer): hand the
        # GIL back to the event loop every 1 ms rather than 5, so a poll never waits behind its Python work
        sys.setswitchinterval(0.001)
        shown = f"[{host}]" if ":" in host else host
        write_holder_note(settings.db, f"forecaster serve at http://{shown}:{port}")
        # uvicorn shuts down gracefully on SIGTERM, then raises the signal again under the handler it
        # found: with the default one the process would die there, before the store is closed
        # (checkpointed) and the note removed. A stop asked for is a clean exit.
        signal.signal(signal.SIGTERM, _stop_asked)
        try:
            # uvicorn annotates this int but passes it to asyncio.timeout(), which takes float seconds
            grace = cast(int, settings.shutdown_timeout_s)
            uvicorn.run(api, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=grace)
        finally:
            runtime.close()
            clear_holder_note(settings.db)
