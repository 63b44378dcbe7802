"""The REST API over real HTTP (uvicorn on a loopback port): auth and roles, the error shape,
ETag/304, cursor pages, events, uploads, health and metrics."""

from __future__ import annotations

import gzip
import json
import re
import time

import pytest

from service_helpers import insert_recommendations

ERROR_KEYS = {"code", "message"}


def assert_error(r, status: int, code: str | None = None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert set(body) == {"error"} and ERROR_KEYS <= set(body["error"]) <= ERROR_KEYS | {"details"}, body
    assert "Traceback" not in r.text
    if code:
        assert body["error"]["code"] == code, body
    return body["error"]


# ---- auth and roles ------------------------------------------------------------------------

def test_no_key_is_401_with_the_error_shape(api):
    with api.client(None) as c:
        e = assert_error(c.get("/v1/recommendations"), 401, "unauthorized")
        assert "Bearer" in e["message"]
        assert c.get("/v1/runs").headers["www-authenticate"].startswith("Bearer")
        e = assert_error(c.get("/v1/runs", headers={"Authorization": "Basic dXNlcjpwdw=="}), 401)
        assert "got scheme 'Basic'" in e["message"]
        for empty in ("Bearer", "bearer"):   # "Bearer $KEY" with KEY never set (curl sends "Bearer ")
            e = assert_error(c.get("/v1/recommendations", headers={"Authorization": empty}), 401, "unauthorized")
            assert "no key after 'Bearer'" in e["message"], e
        assert_error(c.get("/v1/runs", headers={"Authorization": "Bearer fk_nope_wrong"}), 401)
        assert_error(c.get("/v1/runs", headers={"Authorization": "Bearer " + api.keys["reader"][:-2] + "xx"}), 401)


@pytest.mark.parametrize("role,path,method,allowed", [
    ("reader", "/v1/runs", "GET", True),
    ("reader", "/v1/keys", "GET", False),
    ("operator", "/v1/keys", "GET", False),
    ("admin", "/v1/keys", "GET", True),
    ("reader", "/v1/events", "POST", False),
    ("operator", "/v1/events", "POST", False),
    ("reader", "/v1/ingest", "POST", False),
])
def test_roles(api, role, path, method, allowed):
    with api.client(role) as c:
        r = c.request(method, path, json={} if method == "POST" else None)
    if allowed:
        assert r.status_code == 200, r.text
    else:
        assert_error(r, 403, "forbidden")


def test_keys_over_the_api_and_revocation(api):
    with api.client("admin") as admin:
        r = admin.post("/v1/keys", json={"name": "edge", "role": "reader"})
        assert r.status_code == 201
        made = r.json()
        assert set(made) == {"name", "role", "key", "id"} and made["key"].startswith("fk_")
        listed = admin.get("/v1/keys").json()["items"]
        assert any(k["id"] == made["id"] for k in listed) and all("key" not in k for k in listed)
        with api.client(None, headers={"Authorization": f"Bearer {made['key']}"}) as edge:
            assert edge.get("/v1/routes").status_code == 200
            assert admin.delete(f"/v1/keys/{made['id']}").status_code == 200
            assert_error(edge.get("/v1/routes"), 401)
        assert_error(admin.delete("/v1/keys/no-such-key"), 404, "not_found")
        assert_error(admin.post("/v1/keys", json={"name": "x", "role": "root"}), 422, "invalid_request")


def test_only_a_hash_of_each_key_is_stored(api):
    rows = api.runtime.cursor().execute("SELECT key_hash FROM api_keys").fetchall()
    stored = {r[0] for r in rows}
    assert not any(k in stored or k[3:] in " ".join(stored) for k in api.keys.values())


# ---- errors --------------------------------------------------------------------------------

def test_unknown_routes_and_methods(api):
    with api.client() as c:
        assert_error(c.get("/v1/nothing-here"), 404, "not_found")
        assert_error(c.get("/"), 404)
        assert_error(c.delete("/v1/recommendations"), 405, "method_not_allowed")
        assert_error(c.get("/v1/runs/no-such-run"), 404, "not_found")
        assert_error(c.get("/v1/forecasts", params={"run_id": "no-such-run"}), 404)


def test_malformed_bodies(api):
    with api.client("admin") as c:
        e = assert_error(c.post("/v1/events", content=b"{not json", headers={"content-type": "application/json"}),
                         400, "bad_input")
        assert "malformed JSON" in e["message"]
        e = assert_error(c.post("/v1/events", json={"name": "x"}), 422, "invalid_request")
        assert any(d["loc"][-1] == "start" for d in e["details"])
        assert_error(c.post("/v1/events", json={"name": "x", "start": "2026-11-27", "end": "2026-11-28",
                                                "colour": "red"}), 422)
        e = assert_error(c.post("/v1/events", json={"name": "x", "start": "2026-11-28T00:00", "end": "2026-11-27T00:00"}),
                         400, "bad_input")
        assert "not after start" in e["message"]
        assert_error(c.post("/v1/events", json={"name": "x", "start": "soon", "end": "later"}), 400)
        assert_error(c.post("/v1/events", json=[1, 2]), 422)


def test_bad_query_parameters(api):
    with api.client() as c:
        assert_error(c.get("/v1/spikes", params={"limit": 0}), 400, "bad_input")
        assert_error(c.get("/v1/spikes", params={"limit": 51}), 400)          # api_page_max is 50 here
        assert_error(c.get("/v1/spikes", params={"limit": "many"}), 422)
        assert_error(c.get("/v1/spikes", params={"cursor": "!!not-a-cursor"}), 400)
        assert_error(c.get("/v1/forecasts", params={"from": "yesterday"}), 400)


# ---- recommendations: ETag / 304 ------------------------------------------------------------

def test_recommendations_in_force_with_filters(api):
    with api.client() as c:
        r = c.get("/v1/recommendations")          # valid_at defaults to settings.as_of (2026-11-25 05:00)
        body = r.json()
        assert r.status_code == 200 and body["valid_at"] == "2026-11-25T05:00:00"
        assert [x["id"] for x in body["recommendations"]] == ["rec-1", "rec-2"]   # rec-4 superseded, rec-3 later
        assert c.get("/v1/recommendations", params={"valid_at": "2026-11-27T10:00:00Z"}).json()["count"] == 1
        assert [x["id"] for x in c.get("/v1/recommendations", params={"route": "GET /products"}).json()["recommendations"]] == ["rec-2"]
        assert c.get("/v1/recommendations", params={"api": "payments"}).json()["count"] == 0
        assert c.get("/v1/recommendations", params={"kind": "prewarm", "valid_at": "2026-11-27T01:00"}).json()["count"] == 1


def test_etag_and_304(api):
    with api.client() as c:
        r = c.get("/v1/recommendations")
        etag = r.headers["etag"]
        assert re.fullmatch(r'"[0-9a-f]{32}"', etag)             # strong
        again = c.get("/v1/recommendations", headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
        assert c.get("/v1/recommendations", headers={"If-None-Match": f'"x", W/{etag}'}).status_code == 304
        assert c.get("/v1/recommendations", headers={"If-None-Match": '"other"'}).status_code == 200
        other = c.get("/v1/recommendations", params={"api": "shop", "kind": "throttle"})
        assert other.status_code == 200
        # a new recommendation written by a run of this process: the next poll sees it
        insert_recommendations(api.runtime.cursor(), [("rec-5", "cache", "shop|prod|GET /products",
                               {"api": "shop", "stage": "prod", "route": "GET /products", "cache_enabled": True,
                                "cache_size_gb": 0.5, "ttl_s": 60}, "2026-11-25T00:00:00", "2026-11-26T00:00:00",
                               "proposed")])
        api.runtime.version += 1
        changed = c.get("/v1/recommendations", headers={"If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["etag"] != etag
        assert "rec-5" in [x["id"] for x in changed.json()["recommendations"]]


def _expire(cache) -> None:
    for ck, entry in list(cache.d.items()):
        cache.d[ck] = (entry[0], 0.0, *entry[2:])


def test_many_polls_at_expiry_rebuild_once_and_never_wait(api):
    """64 gateways polling when the cached response expires: one rebuild, and every poll is
    answered from what was cached (stale while revalidating), none waits for the rebuild."""
    import concurrent.futures as cf

    cache = api.app.state.rec_cache
    with api.client() as c:
        etag = c.get("/v1/recommendations").headers["etag"]
        _expire(cache)
        before = cache.fills
        with cf.ThreadPoolExecutor(16) as pool:
            codes = list(pool.map(lambda _: c.get("/v1/recommendations", headers={"If-None-Match": etag}).status_code,
                                  range(64)))
        assert codes == [304] * 64
        for _ in range(100):                 # the one background rebuild lands
            if not cache.inflight:
                break
            time.sleep(0.05)
        assert cache.fills - before == 1 and not cache.inflight


def test_a_write_from_another_process_shows_after_one_background_rebuild(api):
    cache = api.app.state.rec_cache
    with api.client() as c:
        etag = c.get("/v1/recommendations").headers["etag"]
        # written behind the server's back (no version bump): as another process's decide run would
        insert_recommendations(api.runtime.cursor(), [("rec-6", "throttle", "shop|prod",
                               {"api": "shop", "stage": "prod", "route": None, "rate_limit_rps": 50.0,
                                "burst_limit": 100}, "2026-11-25T00:00:00", "2026-11-26T00:00:00", "proposed")])
        _expire(cache)
        assert c.get("/v1/recommendations", headers={"If-None-Match": etag}).status_code == 304   # stale, at once
        for _ in range(100):
            r = c.get("/v1/recommendations", headers={"If-None-Match": etag})
            if r.status_code == 200:
                break
            time.sleep(0.05)
        assert r.status_code == 200 and "rec-6" in [x["id"] for x in r.json()["recommendations"]]


def _settled(cache) -> None:
    for _ in range(100):                              # the background rebuild lands: fresh again
        if not cache.inflight:
            return
        time.sleep(0.05)


def _same(a, b) -> bool:
    """The same response but for the time it was sent."""
    return (a.status_code == b.status_code and a.content == b.content
            and [(k, v) for k, v in a.headers.multi_items() if k != "date"]
            == [(k, v) for k, v in b.headers.multi_items() if k != "date"])


def test_polls_are_answered_before_routing_with_the_routes_responses(api):
    """A poll with a live key for filters whose response is cached and fresh is answered by the
    ASGI layer in front of FastAPI: the route's own 304 or 200 (same status, headers and body),
    timed under the route's endpoint; anything it cannot vouch for goes on to the route (no,
    unknown or revoked key, an expired entry, odd parameters)."""
    cache = api.app.state.rec_cache
    with api.client() as c:
        etag = c.get("/v1/recommendations").headers["etag"]
        _settled(cache)
        for inm in ({"If-None-Match": etag}, {}):     # 304 and 200
            before = cache.short
            short = c.get("/v1/recommendations", headers=inm)
            assert cache.short == before + 1
            _expire(cache)                            # the route answers (and rebuilds in the background)
            routed = c.get("/v1/recommendations", headers=inm)
            assert cache.short == before + 1
            assert _same(short, routed) and short.status_code == (304 if inm else 200)
            _settled(cache)
        # the same filters in another spelling, and ones the route alone parses
        params = {"api": "shop", "kind": "throttle"}
        tag = c.get("/v1/recommendations", params=params).headers["etag"]
        n = cache.short
        assert c.get("/v1/recommendations", params=params, headers={"If-None-Match": tag}).status_code == 304
        assert cache.short == n + 1
        assert c.get("/v1/recommendations", params={**params, "x": "1"}, headers={"If-None-Match": tag}).status_code == 304
        assert c.get("/v1/recommendations", params={"api": ""}, headers={"If-None-Match": tag}).status_code == 200
        assert_error(c.get("/v1/recommendations", params={"valid_at": "soon"}, headers={"If-None-Match": etag}), 400)
        assert cache.short == n + 1
        other = c.get("/v1/recommendations", headers={"If-None-Match": '"other"'})
        assert other.status_code == 200 and other.headers["etag"] == etag and cache.short == n + 2
    # no key, a wrong key, a wrong scheme: the route's 401, never a 304
    with api.client(None) as anon:
        assert_error(anon.get("/v1/recommendations", headers={"If-None-Match": etag}), 401)
        assert_error(anon.get("/v1/recommendations", headers={"If-None-Match": etag,
                                                              "Authorization": "Bearer not-a-key"}), 401)
        assert_error(anon.get("/v1/recommendations", headers={"If-None-Match": etag,
                                                              "Authorization": f"Basic {api.keys['reader']}"}), 401)
    # a key revoked through the API is forgotten at once, shortcut or not
    with api.client("admin") as admin:
        key = admin.post("/v1/keys", json={"name": "short-lived", "role": "reader"}).json()["key"]
        with api.client(None, headers={"Authorization": f"Bearer {key}"}) as c:
            assert c.get("/v1/recommendations", headers={"If-None-Match": etag}).status_code == 304
            assert admin.delete("/v1/keys/short-lived").status_code in (200, 204)
            assert_error(c.get("/v1/recommendations", headers={"If-None-Match": etag}), 401)
    with api.client() as c:
        text = c.get("/metrics").text
    assert re.search(r'forecaster_http_request_duration_seconds_count\{method="GET",endpoint="/v1/recommendations",'
                     r'status="3xx"\} [1-9]', text)


# ---- pages ---------------------------------------------------------------------------------

def _walk(c, path, **params):
    items, cursor, pages = [], None, 0
    while True:
        r = c.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        body = r.json()
        items += body["items"]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return items, pages


@pytest.mark.parametrize("path,key", [
    ("/v1/spikes", ("series", "start_ts", "peak_ts")),
    ("/v1/forecasts", ("series", "ds", "model")),
    ("/v1/routes", ("api", "stage", "route", "region")),
    ("/v1/costs", None),
    ("/v1/runs", ("run_id",)),
])
def test_cursor_pages_walk_every_row_once(api, path, key):
    table = {"/v1/spikes": "spikes", "/v1/forecasts": "forecasts", "/v1/costs": "costs", "/v1/runs": "runs"}.get(path)
    cur = api.runtime.cursor()
    with api.client() as c:
        params = {"limit": 50}
        if path == "/v1/forecasts":
            params["series"] = "total"
        if path == "/v1/costs":
            params.update(kind="forecast", api="shop", route="GET /products")
        items, pages = _walk(c, path, **params)
        if table == "forecasts":
            run_id = c.get(path).json()["run_id"]
            total = cur.execute("SELECT count(*) FROM forecasts WHERE run_id = ? AND series = 'total'", [run_id]).fetchone()[0]
        elif table == "spikes":
            run_id = c.get(path).json()["run_id"]
            total = cur.execute("SELECT count(*) FROM spikes WHERE run_id = ?", [run_id]).fetchone()[0]
        elif table == "costs":
            total = cur.execute("SELECT count(*) FROM costs WHERE kind = 'forecast' AND api = 'shop' "
                                "AND route = 'GET /products'").fetchone()[0]
        elif table:
            total = cur.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        else:
            total = cur.execute("SELECT count(DISTINCT (api, stage, route, region)) FROM traffic_1m").fetchone()[0]
        assert len(items) == total and total > 0
        assert pages == -(-total // 50) or pages == total // 50 + 1
        if key:
            assert len({tuple(i[k] for k in key) for i in items}) == total


def test_filters_by_route_and_time(api):
    with api.client() as c:
        rows = c.get("/v1/forecasts", params={"route": "GET /products", "from": "2026-11-26T00:00:00",
                                              "to": "2026-11-26T06:00:00", "limit": 50}).json()["items"]
        assert rows and all("|GET /products|" in r["series"] for r in rows)
        assert all("2026-11-26T00:00:00" <= r["ds"] < "2026-11-26T06:00:00" for r in rows)
        costs = c.get("/v1/costs", params={"api": "shop", "kind": "actual", "limit": 50}).json()["items"]
        assert costs and {r["api"] for r in costs} == {"shop"} and {r["kind"] for r in costs} == {"actual"}


# ---- events --------------------------------------------------------------------------------

def test_events_post_list_delete(api):
    with api.client("admin") as c:
        r = c.post("/v1/events", json={"name": "Cyber Monday", "start": "2026-11-30", "end": "2026-11-30",
                                       "routes": ["route:shop|*"], "expected_uplift": 3})
        assert r.status_code == 201, r.text
        ev = r.json()
        assert ev["start"] == "2026-11-30T00:00:00" and ev["end"] == "2026-12-01T00:00:00"   # a date is the whole day
        assert ev["created_by"] == "test-admin"
        with api.client("reader") as reader:
            assert any(e["id"] == ev["id"] for e in reader.get("/v1/events").json()["items"])
        assert c.delete(f"/v1/events/{ev['id']}").json()["deleted"]["id"] == ev["id"]
        assert_error(c.delete(f"/v1/events/{ev['id']}"), 404, "not_found")


# ---- uploads -------------------------------------------------------------------------------

def _upload_dir(api):
    from forecaster.api.routers.ingest import upload_dir

    return upload_dir(api.runtime.settings)


def test_upload_loads_a_log_once(api):
    from service_helpers import SAMPLES

    lines = (SAMPLES / "kong.log").read_bytes().splitlines(keepends=True)[:60]
    body = gzip.compress(b"".join(lines))
    with api.client("admin") as c:
        r = c.post("/v1/ingest", params={"name": "kong-part.log.gz"}, content=body)
        assert r.status_code == 200, r.text
        first = r.json()
        assert first["bytes"] == len(body) and first["sources"] == 1
        again = c.post("/v1/ingest", params={"name": "kong-again.log.gz"}, content=body).json()
        assert again["rows_loaded"] == 0
    step = api.runtime.cursor().execute("SELECT status FROM runs WHERE run_id = ?", [first["run_id"]]).fetchone()
    assert step == ("ok",)


def test_upload_size_limit(api):
    limit = int(0.05 * 1024 * 1024)
    before = set(_upload_dir(api).iterdir())
    with api.client("admin") as c:
        e = assert_error(c.post("/v1/ingest", content=b"x" * (limit + 1)), 413, "too_large")
        assert "api_upload_max_mb" in e["message"]

        def chunks():                      # no Content-Length: refused while streaming
            for _ in range(10):
                yield b"y" * (limit // 4)
        assert_error(c.post("/v1/ingest", content=chunks()), 413, "too_large")
        assert_error(c.post("/v1/ingest", content=b""), 400, "bad_input")
    assert set(_upload_dir(api).iterdir()) == before        # nothing refused is kept


# ---- health and metrics --------------------------------------------------------------------

def test_health_ready_and_metrics(api):
    with api.client(None) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        ready = c.get("/readyz").json()
        assert ready["status"] == "ready" and ready["schema_version"] >= 2
        assert ready["last_ok_run"]["age_s"] >= 0
        c.get("/v1/recommendations", headers={"Authorization": f"Bearer {api.keys['reader']}"})
        m = c.get("/metrics")
        assert m.headers["content-type"].startswith("text/plain; version=0.0.4")
        text = m.text
    sample = re.compile(r'^[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})? -?[0-9.e+]+$')
    for line in text.splitlines():
        assert line.startswith("# HELP ") or line.startswith("# TYPE ") or sample.match(line), line
    assert 'forecaster_runs{kind="pipeline",status="ok"}' in text
    assert 'forecaster_step_seconds_count{step="forecast"}' in text
    assert re.search(r"^forecaster_rows_ingested_total [1-9]", text, re.M)
    assert 'forecaster_http_request_duration_seconds_bucket{method="GET",endpoint="/v1/recommendations",status="2xx",le="+Inf"}' in text


def test_openapi_documents_every_endpoint(api):
    with api.client(None) as c:
        spec = c.get("/openapi.json").json()
        assert c.get("/docs").status_code == 200
    paths = set(spec["paths"])
    for p in ("/v1/recommendations", "/v1/forecasts", "/v1/spikes", "/v1/costs", "/v1/carbon", "/v1/routes",
              "/v1/runs", "/v1/events", "/v1/events/{event_id}", "/v1/ingest", "/v1/keys", "/healthz", "/readyz", "/metrics"):
        assert p in paths, p
    assert json.dumps(spec["paths"]["/v1/recommendations"]).count("example") >= 1


# ---- the dashboards, mounted by the service ---------------------------------------------------

def test_dashboards_need_a_reader_key_or_a_session_cookie(api):
    with api.client(None) as anon:
        assert_error(anon.get("/dashboards/overview"), 401, "unauthorized")
    with api.client("reader") as c:
        page = c.get("/dashboards/overview")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert "<html" in page.text.lower()
        r = c.post("/v1/session")
        assert r.status_code == 200 and "httponly" in r.headers["set-cookie"].lower()
        cookie = r.cookies["forecaster_session"]
    with api.client(None, cookies={"forecaster_session": cookie}) as browser:
        assert browser.get("/dashboards/overview").status_code == 200
        assert browser.get("/v1/routes").status_code == 200
        assert_error(browser.post("/v1/events", json={"name": "x", "start": "2026-11-27", "end": "2026-11-28"}), 401)
