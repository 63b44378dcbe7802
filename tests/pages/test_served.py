"""Pages served live by the router, over real HTTP (uvicorn on a loopback port), in chromium."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
import urllib.parse
import urllib.request

import pytest
import uvicorn
from fastapi import FastAPI, Header, HTTPException

from dashboards.web import router

from .conftest import check_page

KEY = "reader-test-key"


def _auth(authorization: str | None = Header(None)) -> None:
    """A stand-in for the service's reader check: the router only carries the dependency."""
    if authorization != f"Bearer {KEY}":
        raise HTTPException(401, "reader key required")


@contextlib.contextmanager
def serve(app: FastAPI):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    t = threading.Thread(target=server.run, daemon=True)
    t.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        t.join(10)


def _app(con, settings, auth=None) -> FastAPI:
    @contextlib.contextmanager
    def cursor():
        cur = con.cursor()   # one cursor per request, as the service does
        try:
            yield cur
        finally:
            cur.close()
    app = FastAPI()
    app.include_router(router(settings, connection=cursor, auth=auth))
    return app


@pytest.mark.slow
def test_served_pages_load_with_data_and_no_outside_requests(demo_store, browser, artifacts):
    con, settings = demo_store
    route = "route:shop|prod|POST /orders|us-east-1"
    q = urllib.parse.urlencode({"route": route, "start": "2026-11-20T00:00", "end": "2026-11-28T00:00"})
    with serve(_app(con, settings)) as base:
        for name, path, min_charts in (("overview", "/dashboards/overview", 6), ("costs", "/dashboards/costs", 8),
                                       ("decisions", "/dashboards/decisions", 1),
                                       ("route", f"/dashboards/route?{q}", 3)):
            visit = browser.visit(base + path, screenshot=artifacts / "served" / f"{name}.png")
            check_page(visit, min_charts)
        assert "POST /orders" in visit.text and "2026-11-20 00:00" in visit.text
        # the selector lists every route, and the index redirects to the overview
        with urllib.request.urlopen(base + "/dashboards/") as r:
            assert r.url.endswith("/dashboards/overview") and r.status == 200
        with urllib.request.urlopen(base + "/dashboards/route") as r:
            assert r.read().decode().count("<option") >= 50


def test_router_requires_what_the_app_requires(demo_store):
    con, settings = demo_store
    with serve(_app(con, settings, auth=_auth)) as base:
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(base + "/dashboards/overview")
        assert e.value.code == 401
        req = urllib.request.Request(base + "/dashboards/overview", headers={"Authorization": f"Bearer {KEY}"})
        with urllib.request.urlopen(req) as r:
            assert r.status == 200 and "Overview" in r.read().decode()
        req = urllib.request.Request(base + "/dashboards/nope", headers={"Authorization": f"Bearer {KEY}"})
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req)
        assert e.value.code == 404 and "is not a dashboard" in e.value.read().decode()
