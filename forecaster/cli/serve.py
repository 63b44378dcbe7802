"""``forecaster serve``: the REST API (uvicorn) and the scheduler in one process, one DuckDB writer."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Optional

import typer

from .common import ConfigOption, DbOption, load_settings


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

        logging.getLogger("forecaster").setLevel(log_level.upper())
        logging.getLogger("pipelines").setLevel(log_level.upper())
        settings = load_settings(config, db)
        runtime = Runtime(settings)
        background = []
        if not no_scheduler:
            from pipelines import ServiceScheduler

            background.append(ServiceScheduler(runtime))
        api = create_app(settings, runtime=runtime, background=background)
        try:
            uvicorn.run(api, host=host, port=port, log_level=log_level, timeout_graceful_shutdown=settings.shutdown_timeout_s)
        finally:
            runtime.close()
