"""Helpers shared by the pipeline, API and scheduler tests: the samples' pipeline DB and a real
uvicorn server on a loopback port."""

from __future__ import annotations

import datetime as dt
import shutil
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from forecaster.config import Settings

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples"
DEMO_CONFIG = ROOT / "forecaster" / "data" / "demo.toml"
SAMPLE_LOGS = [str(SAMPLES / n) for n in ("apigw_rest_json.log", "apigw_http.log", "kong.log", "counts_hourly.csv")]
AS_OF = dt.datetime(2026, 11, 25, 5, 0)


def sample_settings(db: Path, **kw) -> Settings:
    base = dict(db=db, as_of=AS_OF, events_file=SAMPLES / "events.csv", schedule_ingest_sources=SAMPLE_LOGS,
                forecast_workers=2, holiday_country="US")
    base.update(kw)
    return Settings(**base)


def copy_db(src: Path, dst: Path) -> Path:
    shutil.copy(src, dst)
    wal = Path(str(src) + ".wal")
    if wal.exists():
        shutil.copy(wal, Path(str(dst) + ".wal"))
    return dst


@contextmanager
def serve(app) -> Iterator[str]:
    """Run ``app`` on uvicorn on 127.0.0.1 and a free port in a thread; yields the base URL."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not t.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        t.join(60)
