"""The pages served live: a FastAPI router under ``/dashboards/``.

The app that mounts it owns authentication: pass its dependency (e.g. the service's
``require_role("reader")``) as ``auth`` and every page requires it. Each request reads through its
own connection (``connection``: a context manager factory; by default a read-only DuckDB
connection to ``settings.db``), so a page never waits behind a writer's transaction.
"""

from __future__ import annotations

import contextlib
from typing import Any, Callable, ContextManager, Optional

from fastapi import APIRouter, Depends, Query
from fastapi.responses import HTMLResponse, RedirectResponse

from forecaster.config import Settings
from forecaster.errors import ForecasterError

from . import PAGES, render_page
from .html import Links, Page, notice

PREFIX = "/dashboards"


def _read_only(settings: Settings) -> Callable[[], ContextManager[Any]]:
    @contextlib.contextmanager
    def opener():
        from forecaster.store import connect

        con = connect(settings.db, settings, read_only=True)
        try:
            yield con
        finally:
            con.close()
    return opener


def router(settings: Settings, connection: Callable[[], ContextManager[Any]] | None = None,
           auth: Callable[..., Any] | None = None, prefix: str = PREFIX) -> APIRouter:
    """An APIRouter serving every page at ``{prefix}/{page}`` (``?route=&start=&end=``)."""
    opener = connection or _read_only(settings)
    deps = [Depends(auth)] if auth is not None else []
    r = APIRouter(prefix=prefix, dependencies=deps, tags=["dashboards"])
    links = Links(served=True, prefix=prefix)

    @r.get("/", include_in_schema=False)
    def index() -> RedirectResponse:
        return RedirectResponse(f"{prefix}/overview", status_code=307)

    @r.get("/{page}", response_class=HTMLResponse, summary="A dashboard page (overview, route, costs, decisions)")
    def page(page: str, route: Optional[str] = Query(None, description="series id, e.g. route:shop|prod|GET /products|us-east-1"),
             start: Optional[str] = Query(None, description="start of the range, ISO (UTC)"),
             end: Optional[str] = Query(None, description="end of the range, ISO (UTC)")) -> HTMLResponse:
        if page not in PAGES:
            return HTMLResponse(_problem("No such page", f"{page!r} is not a dashboard; pages: {', '.join(PAGES)}",
                                         links), status_code=404)
        try:
            with opener() as con:
                return HTMLResponse(render_page(page, con, settings, links, route=route, start=start, end=end))
        except ForecasterError as e:
            return HTMLResponse(_problem("Cannot show this page", str(e), links), status_code=e.status)

    return r


def _problem(title: str, message: str, links: Links) -> str:
    p = Page("error", title)
    p.add(notice(title, message))
    return p.render(links)
