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


@pytest.mark.slow
def test_pages_served_by_the_service_with_a_session_cookie(demo_store, browser, artifacts, tmp_path):
    """The real app (``forecaster.api.create_app``) mounts the router: a browser holding the session
    cookie of ``POST /v1/session`` sees every page, drawn and offline-clean."""
    import shutil

    from forecaster.api import create_app
    from forecaster.sample_store import demo_settings
    from forecaster.store import api_keys

    con, settings = demo_store
    con.execute("CHECKPOINT")
    db = tmp_path / "service.duckdb"
    shutil.copyfile(settings.db, db)
    app = create_app(demo_settings(db))
    key = api_keys.create(app.state.runtime.cursor(), "dashboards-test", "reader")[1]
    with serve(app) as base:
        req = urllib.request.Request(base + "/v1/session", method="POST", headers={"Authorization": f"Bearer {key}"})
        with urllib.request.urlopen(req) as r:
            cookie = r.headers["set-cookie"].split(";", 1)[0].split("=", 1)
        assert cookie[0] == "forecaster_session"
        anonymous = browser.visit(base + "/dashboards/overview")
        assert "unauthorized" in anonymous.text and anonymous.charts == []
        for name, min_charts in (("overview", 6), ("route", 3), ("costs", 8), ("decisions", 1)):
            visit = browser.visit(f"{base}/dashboards/{name}", cookies={cookie[0]: cookie[1]},
                                  screenshot=artifacts / "service" / f"{name}.png")
            check_page(visit, min_charts)
