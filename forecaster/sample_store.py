"""A store holding the committed samples, forecast and priced: what the demo, the notebooks and
the dashboard tests start from.

The samples' "now" is 2026-11-25 05:00 UTC, two days before the Black Friday in them. Every step
is idempotent: logs already loaded are not loaded again, and a forecast, costs and carbon whose
inputs have not changed are not made again.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from .config import DEFAULT_CONFIG_FILE, Settings, settings_from_file
from .store import connect

# One file per simulated API (the other sample files are other views of the same requests), plus
# six weeks of hourly counts: see data/samples/README.md.
DEMO_LOGS = ("apigw_rest_json.log", "apigw_http.log", "apigw_websocket.log", "combined.log", "alb.log",
             "kong.log", "envoy.log", "counts_hourly.csv", "kong_ai.log", "bedrock.log")
DEMO_AS_OF = "2026-11-25T05:00:00"
DEMO_CONFIG = Path(__file__).resolve().parent / "data" / "demo.toml"   # budgets, Lambda sizes


def default_samples_dir() -> Path:
    """data/samples of the checkout this package runs from, else of the current directory."""
    here = Path(__file__).resolve().parents[1] / "data" / "samples"
    return here if here.is_dir() else Path("data/samples")


def demo_settings(db: Path | str | None = None, config: Path | str | None = None) -> Settings:
    """The user's config when they have one (``config``, $FORECASTER_CONFIG_FILE, ./forecaster.toml),
    else the packaged demo settings (budgets, per-route Lambda sizes); ``db`` on top."""
    if config is None and not os.environ.get("FORECASTER_CONFIG_FILE") and not Path(DEFAULT_CONFIG_FILE).exists():
        config = DEMO_CONFIG
    s = settings_from_file(config) if config else Settings()
    return s.model_copy(update={"db": Path(db)}) if db is not None else s


def sample_store(db: Path | str | None = None, settings: Settings | None = None, as_of: str = DEMO_AS_OF,
                 samples_dir: Path | None = None):
    """Open ``db`` with the samples loaded, forecast 72 hours ahead of ``as_of``, priced and with
    carbon figures, through :func:`forecaster.pipeline.run_pipeline` (steps whose inputs are unchanged
    are skipped); returns ``(connection, settings)``. ``db`` defaults to the settings'
    (``$FORECASTER_DB``, else ./forecaster.duckdb: the demo's file)."""
    from .pipeline import run_pipeline

    settings = settings or demo_settings(db)
    db = settings.db if db is None else db
    samples = samples_dir or default_samples_dir()
    events = samples / "events.csv"
    con = connect(db, settings)
    run_pipeline(settings, ("ingest", "forecast", "price", "carbon"), con=con, sources=[str(samples / n) for n in DEMO_LOGS], as_of=dt.datetime.fromisoformat(as_of),
                 events=str(events) if events.is_file() else None, actor="sample_store")
    return con, settings
