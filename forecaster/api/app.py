"""The app factory: routers, auth, the error shape, metrics, and the runtime's life cycle."""

from __future__ import annotations

import contextlib
import logging
from typing import Any, AsyncIterator, Iterable, Protocol

from fastapi import FastAPI

from ..config import Settings
from ..runtime import Runtime
from . import errors
from .auth import KeyCache
from .metrics import Metrics, MetricsMiddleware
from .auth import require_role
from .routers import control, data, events, health, ingest, keys, recommendations, session
from .routers.recommendations import Polls, _Cache

log = logging.getLogger(__name__)

DESCRIPTION = """Forecasts, spikes, costs, carbon and the recommendations in force for your API gateways.

Authenticate with `Authorization: Bearer KEY` (`forecaster keys create --role reader|operator|admin --name NAME`).
Every error is `{"error": {"code", "message", "details"?}}` with its HTTP status. Lists are paginated with
`cursor` / `next_cursor`. `GET /v1/recommendations` carries a strong `ETag`: poll with `If-None-Match`.
"""


class Background(Protocol):
    """Something that runs beside the app (the scheduler): started and stopped with it."""

    def start(self) -> None: ...
    def shutdown(self) -> None: ...


def create_app(settings: Settings, runtime: Runtime | None = None, background: Iterable[Background] = (),
               routers: Iterable[Any] = (), dashboards: bool = True) -> FastAPI:
    """The REST API over ``runtime`` (made from ``settings`` and closed with the app when not given).

    ``background`` objects are started at start-up and shut down (before the store closes) at
    shutdown; ``routers`` are extra APIRouters to include. ``dashboards``: serve the ops pages under
    ``/dashboards/`` (reader key, or the session cookie of ``POST /v1/session``), reading on this
    process's cursors.
    """
    own = runtime is None
    rt = runtime or Runtime(settings)
    bg = list(background)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for b in bg:
            b.start()
        try:
            yield
        finally:
            rt.stop.set()
            for b in reversed(bg):
                try:
                    b.shutdown()
                except Exception:  # noqa: BLE001 - shutdown goes on whatever one part does
                    log.exception("shutting down %r failed", b)
            rt.interrupt_running()
            if own:
                rt.close()

    app = FastAPI(title="forecaster", version="1", description=DESCRIPTION, lifespan=lifespan)
    app.state.settings = settings
    app.state.runtime = rt
    app.state.metrics = Metrics()
    app.state.key_cache = KeyCache()
    app.state.rec_cache = _Cache()
    errors.install(app)
    extra = list(routers)
    if dashboards:
        extra.append(_dashboards(settings, rt))
    for r in (health.router, session.router, recommendations.router, data.router, events.router, ingest.router,
              keys.router, control.router, *extra):
        app.include_router(r)
    app.add_middleware(Polls, api=app)      # polls answered from the fresh cache before routing (timed by the metrics)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    return app


def _dashboards(settings: Settings, rt: Runtime):
    """The dashboards' router (top-level ``dashboards`` package), reading on this thread's cursor."""
    from dashboards.web import router

    @contextlib.contextmanager
    def connection():
        yield rt.cursor()

    return router(settings, connection=connection, auth=require_role("reader"))
