"""Route templating: route maps (lists, OpenAPI 2/3), heuristics, and which one wins."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from forecaster.config import Settings
from forecaster.errors import BadInput
from forecaster.ingest import ingest
from forecaster.ingest.routes import RouteTemplate, clean_path_sql, heuristic_sql, load_route_map, route_sql
from forecaster.store.db import connect

FIX = Path(__file__).parent / "fixtures"


@pytest.fixture
def con(tmp_path):
    c = connect(tmp_path / "r.duckdb")
    yield c
    c.close()


def routes_of(templates):
    return {t.route for t in templates}


def derive(method: str, path: str, templates=None) -> str:
    """Evaluate the route SQL for one (method, path) pair in an in-memory DuckDB."""
    c = duckdb.connect()
    try:
        return c.execute(f"SELECT {route_sql('$1', clean_path_sql('$2'), templates)}", [method, path]).fetchall()[0][0]
    finally:
        c.close()


def heuristic(path: str) -> str:
    c = duckdb.connect()
    try:
        return c.execute(f"SELECT {heuristic_sql(clean_path_sql('$1'))}", [path]).fetchall()[0][0]
    finally:
        c.close()


# ---- route-map files ------------------------------------------------------------------------

def test_yaml_route_list():
    t = load_route_map(FIX / "routes.yaml")
    assert routes_of(t) == {"GET /pets/{petId}", "GET /pets/mine", "POST /pets", "ANY /files/{path+}",
                            "DELETE /users/{userId}/sessions/{sessionId}"}
    # most literal first: the literal /pets/mine must be tried before /pets/{petId}
    order = [x.route for x in t]
    assert order.index("GET /pets/mine") < order.index("GET /pets/{petId}")


def test_openapi3_yaml_with_server_variables_and_relative_server():
    t = routes_of(load_route_map(FIX / "openapi3.yaml"))
    for base in ("/v1", ""):
        assert {f"GET {base}/pets", f"POST {base}/pets", f"GET {base}/pets/{{petId}}",
                f"DELETE {base}/pets/{{petId}}", f"GET {base}/stores/{{storeId}}/orders/{{orderId}}"} <= t
    assert len(t) == 10          # 'parameters' under a path is not a method


def test_openapi3_json_server_path_prefix():
    t = routes_of(load_route_map(FIX / "openapi3.json"))
    assert t == {"GET /api/v2/orders/{orderId}", "PATCH /api/v2/orders/{orderId}", "GET /api/v2/orders/search"}


def test_swagger2_base_path():
    assert routes_of(load_route_map(FIX / "swagger2.json")) == {"GET /legacy/items/{id}", "PUT /legacy/items/{id}"}


def test_toml_and_bare_list(tmp_path):
    (tmp_path / "r.toml").write_text('routes = ["GET /a/{id}"]\n')
    (tmp_path / "r.yml").write_text("- /b/{id}\n- PUT /c\n")
    assert routes_of(load_route_map(tmp_path / "r.toml")) == {"GET /a/{id}"}
    assert routes_of(load_route_map(tmp_path / "r.yml")) == {"ANY /b/{id}", "PUT /c"}


def test_bad_route_map_names_every_bad_entry(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("routes:\n  - GET /ok\n  - FETCH /x\n  - pets\n")
    with pytest.raises(BadInput) as e:
        load_route_map(p)
    assert "entry 2: expected 'METHOD /path/{param}', got 'FETCH /x'" in str(e.value)
    assert "entry 3:" in str(e.value)
    (tmp_path / "bad.json").write_text("{nope")
    with pytest.raises(BadInput, match="not valid json"):
        load_route_map(tmp_path / "bad.json")
    (tmp_path / "scalar.yaml").write_text("42\n")
    with pytest.raises(BadInput, match="expected an OpenAPI spec or a list of routes, got int"):
        load_route_map(tmp_path / "scalar.yaml")


def test_template_matching_in_sql():
    t = load_route_map(FIX / "routes.yaml")
    assert derive("GET", "/pets/mine", t) == "GET /pets/mine"
    assert derive("GET", "/pets/42?x=1", t) == "GET /pets/{petId}"
    assert derive("GET", "/pets/42/", t) == "GET /pets/{petId}"           # trailing slash
    assert derive("PUT", "/files/a/b/c.txt", t) == "PUT /files/{path+}"    # greedy {proxy+}, any method
    assert derive("DELETE", "/users/u1/sessions/s9", t) == "DELETE /users/{userId}/sessions/{sessionId}"
    # method must match: POST /pets/42 is not in the map, so the heuristics take over
    assert derive("POST", "/pets/42", t) == "POST /pets/{id}"
    # regex metacharacters in templates are literal
    assert derive("GET", "/a.b", [RouteTemplate("GET", "/a.b")]) == "GET /a.b"
    assert derive("GET", "/axb", [RouteTemplate("GET", "/a.b")]) == "GET /axb"


# ---- heuristics -----------------------------------------------------------------------------

@pytest.mark.parametrize("path, template", [
    ("/pets/42", "/pets/{id}"),
    ("/pets/42/toys/7", "/pets/{id}/toys/{id}"),
    ("/a/1/2/3", "/a/{id}/{id}/{id}"),                                           # consecutive numbers
    ("/orders/3f2504e0-4f89-11d3-9a0c-0305e82c3301", "/orders/{id}"),            # UUID
    ("/orders/3F2504E0-4F89-11D3-9A0C-0305E82C3301/items", "/orders/{id}/items"),
    ("/blobs/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "/blobs/{id}"),  # sha256
    ("/commits/da39a3ee5e6b4b0d", "/commits/{id}"),                                # 16 hex chars
    ("/tokens/AbC9xYz01234567890qwertYU", "/tokens/{id}"),                       # base64-ish token
    ("/pets?limit=10&offset=20", "/pets"),                                       # query string stripped
    ("/pets/42#frag", "/pets/{id}"),
    ("https://api.example.com:443/v1/pets/42?x=1", "/v1/pets/{id}"),             # full URL
    ("http://h/", "/"),
    ("/", "/"),
    ("", "/"),
    ("/v2/users/me", "/v2/users/me"),                                            # versions and words stay
    ("/images/logo-2x.png", "/images/logo-2x.png"),
    ("/deadbeef", "/deadbeef"),                                                  # 8 hex chars: a word
])
def test_heuristics(path, template):
    assert heuristic(path) == template


# ---- precedence through ingest --------------------------------------------------------------

def _combined(path: str, method: str = "GET", sec: int = 1) -> str:
    return f'203.0.113.5 - - [22/Nov/2026:05:00:{sec:02d} +0000] "{method} {path} HTTP/1.1" 200 10 "-" "curl"\n'


def test_route_map_beats_heuristics(con, tmp_path):
    log = tmp_path / "a.log"
    log.write_text(_combined("/pets/mine", sec=1) + _combined("/pets/42", sec=2) + _combined("/other/42", sec=3))
    ingest(con, [str(log)], Settings(), route_map=FIX / "routes.yaml")
    assert [r[0] for r in con.execute("SELECT route FROM requests ORDER BY line_no").fetchall()] == [
        "GET /pets/mine", "GET /pets/{petId}", "GET /other/{id}"]


def test_logged_template_beats_route_map(con, tmp_path):
    log = tmp_path / "rest.json"
    log.write_text('{"requestId":"r1","requestTime":"22/Nov/2026:05:00:01 +0000","httpMethod":"GET",'
                   '"resourcePath":"/pets/{id}","path":"/pets/mine","status":"200"}\n'
                   '{"requestId":"r2","requestTime":"22/Nov/2026:05:00:01 +0000","httpMethod":"GET",'
                   '"resourcePath":"/pets/{id}","path":"/pets/42","status":"200"}\n')
    ingest(con, [str(log)], Settings(), route_map=FIX / "routes.yaml")
    assert [r[0] for r in con.execute("SELECT route FROM requests").fetchall()] == ["GET /pets/{id}"] * 2


def test_http_default_route_uses_route_map(con, tmp_path):
    log = tmp_path / "http.json"
    log.write_text(
        '{"requestId":"h1","requestTimeEpoch":1795323601000,"httpMethod":"GET","routeKey":"$default","path":"/pets/mine","status":200}\n'
        '{"requestId":"h2","requestTimeEpoch":1795323601000,"httpMethod":"GET","routeKey":"GET /pets/{x}","path":"/pets/mine","status":200}\n')
    ingest(con, [str(log)], Settings(), route_map=FIX / "routes.yaml")
    assert [r[0] for r in con.execute("SELECT route FROM requests ORDER BY line_no").fetchall()] == [
        "GET /pets/mine", "GET /pets/{x}"]


def test_route_map_argument_beats_settings(con, tmp_path):
    log = tmp_path / "a.log"
    log.write_text(_combined("/api/v2/orders/77"))
    ingest(con, [str(log)], Settings(route_map=FIX / "routes.yaml"), route_map=FIX / "openapi3.json")
    assert con.execute("SELECT route FROM requests").fetchall() == [("GET /api/v2/orders/{orderId}",)]


def test_settings_route_map_used_when_no_argument(con, tmp_path):
    log = tmp_path / "a.log"
    log.write_text(_combined("/legacy/items/abc", method="PUT"))
    ingest(con, [str(log)], Settings(route_map=FIX / "swagger2.json"))
    assert con.execute("SELECT route FROM requests").fetchall() == [("PUT /legacy/items/{id}",)]
