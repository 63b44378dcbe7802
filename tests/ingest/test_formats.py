"""Every built-in log format: detection from its own example lines, and the fields it loads."""

from __future__ import annotations

import datetime as dt

import pytest

from forecaster.config import Settings
from forecaster.ingest import ingest
from forecaster.ingest.formats import all_formats, get_format
from forecaster.store.db import connect

BUILTIN = sorted(all_formats())
T0 = dt.datetime(2026, 11, 22, 5, 0, 1)


@pytest.fixture
def con(tmp_path):
    c = connect(tmp_path / "f.duckdb")
    yield c
    c.close()


def load(con, tmp_path, text: str, name: str = "x.log", **kw):
    p = tmp_path / name
    p.write_text(text)
    rep = ingest(con, [str(p)], Settings(), **kw)
    assert rep.sources == 1 and not rep.failed, rep.by_source
    return rep.by_source[0]


def rows(con, sql: str, params=None):
    return con.execute(sql, params or []).fetchall()


def test_every_format_has_examples():
    missing = [n for n in BUILTIN if not get_format(n).examples]
    assert not missing


@pytest.mark.parametrize("name", BUILTIN)
def test_examples_detect_as_their_own_format(name):
    """On its own examples each format scores highest: --format auto picks it, nobody else does."""
    lines = list(get_format(name).examples)
    scores = {n: f.detect(lines) for n, f in all_formats().items()}
    best = max(scores, key=scores.get)
    assert best == name, scores
    assert scores[name] >= 0.9
    runner_up = max(v for n, v in scores.items() if n != name)
    assert runner_up < 0.5, scores


@pytest.mark.parametrize("name", BUILTIN)
@pytest.mark.parametrize("fmt", ["auto", "named"])
def test_examples_load_without_rejects(con, tmp_path, name, fmt):
    f = get_format(name)
    text = "\n".join(f.examples) + "\n"
    sr = load(con, tmp_path, text, fmt=name if fmt == "named" else "auto")
    assert sr.format == name
    assert sr.rows_rejected == 0, rows(con, "SELECT line_no, reason FROM rejects")
    data_lines = len(f.examples) - (1 if name == "counts" else 0)   # the CSV header is not a row
    assert sr.rows_loaded == data_lines
    if f.tokens is not None:   # model-call logs: one llm_calls row per line
        assert rows(con, "SELECT count(*) FROM llm_calls")[0][0] == data_lines
    if not f.aggregated and f.requests:
        assert rows(con, "SELECT count(*) FROM requests")[0][0] == data_lines
        assert rows(con, "SELECT sum(requests) FROM traffic_1m")[0][0] == data_lines
        assert rows(con, "SELECT DISTINCT api_type FROM requests") == [(f.api_type,)]


def test_apigw_rest_clf_fields(con, tmp_path):
    load(con, tmp_path, "\n".join(get_format("apigw_rest_clf").examples) + "\n")
    got = rows(con, "SELECT ts, route, method, status, bytes_out, client, request_id FROM requests ORDER BY line_no")
    assert got == [
        (T0, "GET /pets/{petId}", "GET", 200, 512, "192.0.2.1", "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"),
        (T0 + dt.timedelta(seconds=1), "POST /pets", "POST", 201, 88, "AIDACKCEVSQ6C2EXAMPLE",
         "d7f1a2b3-7b61-11e6-9a41-93e8deadbeef"),
    ]


def test_rest_clf_is_not_plain_clf_and_back():
    rest = list(get_format("apigw_rest_clf").examples)
    plain = list(get_format("clf").examples)
    assert get_format("clf").detect(rest) == 0
    assert get_format("apigw_rest_clf").detect(plain) == 0
    # combined with '-' referer and user agent has two trailing fields too, but quoted
    combined = ['203.0.113.6 - - [22/Nov/2026:05:00:02 +0000] "GET /a HTTP/1.1" 200 87 "-" "-"']
    assert get_format("apigw_rest_clf").detect(combined) == 0
    assert get_format("combined").detect(combined) == 1


def test_apigw_http_route_key_and_default_route(con, tmp_path):
    load(con, tmp_path, "\n".join(get_format("apigw_http").examples) + "\n")
    got = rows(con, """SELECT ts, api, stage, route, status, latency_ms, integration_latency_ms, bytes_out, request_id
                       FROM requests ORDER BY line_no""")
    assert got == [
        (T0, "a1b2c3d4e5", "$default", "GET /pets/{id}", 200, 44.0, 41.0, 87, "JKJaXmPLvHcESHA="),
        # routeKey $default: derived from method + path by the heuristics
        (T0 + dt.timedelta(seconds=1), "a1b2c3d4e5", "prod", "GET /orders/{id}/items", 404, None, None, 23,
         "JKJaYnQMvHcEJKQ="),
    ]


def test_apigw_http_epoch_ms_and_numbers(con, tmp_path):
    line = ('{"requestId":"r1","requestTimeEpoch":1795323601000,"httpMethod":"POST","routeKey":"ANY /{proxy+}",'
            '"path":"/a/b","status":502,"responseLength":0,"integrationLatency":29001}\n')
    load(con, tmp_path, line)
    assert rows(con, "SELECT ts, route, status, integration_latency_ms FROM requests") == [
        (T0, "ANY /{proxy+}", 502, 29001.0)]


def test_apigw_websocket_routes_and_event_rows(con, tmp_path):
    load(con, tmp_path, "\n".join(get_format("apigw_websocket").examples) + "\n")
    got = rows(con, "SELECT ts, route, method, api, stage, client FROM requests ORDER BY line_no")
    assert got == [
        (T0, "WS $connect", "CONNECT", "w1x2y3z4", "prod", "192.0.2.20"),
        (T0 + dt.timedelta(seconds=2), "WS sendMessage", "MESSAGE", "w1x2y3z4", "prod", "192.0.2.20"),
        (T0 + dt.timedelta(seconds=9), "WS $disconnect", "DISCONNECT", "w1x2y3z4", "prod", "Lx1FlcQWoAMCKGQ="),
    ]
    assert rows(con, "SELECT route, requests FROM traffic_1m ORDER BY route") == [
        ("WS $connect", 1), ("WS $disconnect", 1), ("WS sendMessage", 1)]


def test_apigw_websocket_without_route_key_uses_event_type(con, tmp_path):
    text = ('{"requestId":"a","requestTimeEpoch":1795323601000,"eventType":"CONNECT","connectionId":"c1","status":200}\n'
            '{"requestId":"b","requestTimeEpoch":1795323602000,"eventType":"MESSAGE","connectionId":"c1","status":200}\n')
    sr = load(con, tmp_path, text)
    assert sr.format == "apigw_websocket" and (sr.rows_loaded, sr.rows_rejected) == (1, 1)
    assert rows(con, "SELECT route FROM requests") == [("WS $connect",)]
    assert rows(con, "SELECT line_no, reason FROM rejects") == [
        (2, "missing route (no route key, method or path)")]


def test_kong_fields(con, tmp_path):
    load(con, tmp_path, "\n".join(get_format("kong").examples) + "\n")
    got = rows(con, """SELECT ts, api, route, status, latency_ms, integration_latency_ms, bytes_out, client, request_id
                       FROM requests ORDER BY line_no""")
    assert got == [
        (dt.datetime(2026, 11, 22, 5, 0, 1, 123000), "pets-service", "GET /pets/{id}", 200, 58.0, 55.0, 934,
         "192.0.2.30", "5e3a0d7c6b9a4f2e8c1d0b7a6f5e4d3c"),
        (dt.datetime(2026, 11, 22, 5, 0, 2, 500000), "orders-service", "POST /orders", 503, 1021.0, 1020.0, 210,
         "192.0.2.31", "0a6c9c1f2b3d4e5f60718293a4b5c6d7"),
    ]


def test_envoy_fields(con, tmp_path):
    load(con, tmp_path, "\n".join(get_format("envoy").examples) + "\n")
    got = rows(con, """SELECT ts, api, route, status, latency_ms, integration_latency_ms, bytes_out, client, request_id
                       FROM requests ORDER BY line_no""")
    assert got == [
        (dt.datetime(2026, 11, 22, 5, 0, 1, 310000), "locations", "POST /api/v1/locations", 204, 226.0, 100.0, 0,
         "10.0.35.28", "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2"),
        (dt.datetime(2026, 11, 22, 5, 0, 2, 4000), "locations", "GET /api/v1/locations/{id}", 200, 18.0, 16.0,
         1432, "203.0.113.9", "5b0f3e2a-1d7c-4e8f-9a6b-3c2d1e0f9a8b"),
    ]


def test_envoy_missing_upstream_time_and_status_zero(con, tmp_path):
    text = ('[2026-11-22T05:00:01.000Z] "GET /healthz HTTP/1.1" 503 UH 0 19 0 - "-" "kube-probe/1.29" '
            '"7b3c0f1e-0000-4000-8000-000000000001" "svc" "-"\n'
            '[2026-11-22T05:00:01.500Z] "GET /slow HTTP/1.1" 0 DC 0 0 5000 - "-" "curl" '
            '"7b3c0f1e-0000-4000-8000-000000000002" "svc" "10.0.0.9:80"\n')
    sr = load(con, tmp_path, text)
    assert (sr.format, sr.rows_loaded, sr.rows_rejected) == ("envoy", 1, 1)
    assert rows(con, "SELECT route, status, latency_ms, integration_latency_ms, client FROM requests") == [
        ("GET /healthz", 503, 0.0, None, None)]
    assert rows(con, "SELECT line_no, reason FROM rejects") == [(2, "status: expected 100-599, got 0")]


def test_alb_fields_and_minus_one_times(con, tmp_path):
    load(con, tmp_path, "\n".join(get_format("alb").examples) + "\n")
    got = rows(con, """SELECT ts, api, route, status, latency_ms, integration_latency_ms, bytes_out, client,
                              request_id, region FROM requests ORDER BY line_no""")
    assert got == [
        (dt.datetime(2026, 11, 22, 5, 0, 1, 186641), "my-loadbalancer", "GET /pets/{id}", 200, 171.0, 48.0, 57,
         "192.168.131.39", "Root=1-58337281-1d84f3d73c47ec4e58577259", "us-east-1"),
        (dt.datetime(2026, 11, 22, 5, 0, 2), "my-loadbalancer", "POST /orders", 502, None, None, 366,
         "192.168.131.40", "Root=1-58337364-23a8c76965a2ef7629b185e3", "us-east-1"),
    ]


def test_alb_minimal_old_line_without_trailing_fields(con, tmp_path):
    # the shortest lines (older logs) end right after the request; there is no trace id to dedupe on
    text = ('http 2026-11-22T05:00:01.000000Z app/lb/1 10.0.0.1:1 10.0.0.2:80 0.001 0.002 0.003 200 200 1 2 '
            '"GET http://h:80/a/123 HTTP/1.1"\n')
    load(con, tmp_path, text, fmt="alb")
    assert rows(con, "SELECT route, latency_ms, integration_latency_ms, request_id FROM requests") == [
        ("GET /a/{id}", 6.0, 2.0, "1:1")]


def test_combined_request_time_seconds_to_ms(con, tmp_path):
    load(con, tmp_path, "\n".join(get_format("combined").examples) + "\n")
    assert rows(con, "SELECT route, latency_ms FROM requests ORDER BY line_no") == [
        ("GET /api/orders/{id}", None), ("POST /api/orders", 42.0)]


# ---- counts ---------------------------------------------------------------------------------

def test_counts_csv_and_json_lines_fold_into_rollups(con, tmp_path):
    sr = load(con, tmp_path, "\n".join(get_format("counts").examples) + "\n", name="counts.csv")
    assert (sr.format, sr.rows_loaded, sr.rows_rejected, sr.requests_counted) == ("counts", 3, 0, 1840 + 12 + 97)
    assert rows(con, "SELECT count(*) FROM requests")[0][0] == 0     # counts never become request rows
    got = rows(con, "SELECT ts, api, api_type, stage, route, region, requests, bytes_out FROM traffic_1m ORDER BY ts, route")
    assert got == [
        (dt.datetime(2026, 11, 22, 5, 0), "petstore", "rest", "prod", "GET /pets/{id}", "eu-west-1", 1840, 942080),
        (dt.datetime(2026, 11, 22, 5, 1), "petstore", "rest", "prod", "GET /maps/{lat},{lng}", "eu-west-1", 12, 0),
        (dt.datetime(2026, 11, 22, 5, 1), "shop", "http", "default", "POST /orders", "us-east-1", 97, 0),
    ]


def test_counts_header_in_any_order_with_aliases(con, tmp_path):
    text = ('count,ts,route,status\n'
            '5,2026-11-22T05:00:00Z,GET /a,503\n'
            '7,1795323600,"GET /b ""quoted""",200\n')
    sr = load(con, tmp_path, text)
    assert (sr.format, sr.rows_loaded, sr.rows_rejected) == ("counts", 2, 0)
    assert rows(con, "SELECT route, requests, status_5xx FROM traffic_1m ORDER BY route") == [
        ("GET /a", 5, 5), ('GET /b "quoted"', 7, 0)]


def test_counts_bad_rows_are_rejected_with_reasons(con, tmp_path):
    text = ("timestamp,route,requests,api_type\n"
            "2026-11-22T05:00:00Z,GET /a,10,rest\n"
            "2026-11-22T05:00:00Z,GET /a,-3,rest\n"
            "2026-11-22T05:00:00Z,GET /a,,rest\n"
            "2026-11-22T05:00:00Z,GET /a,4,grpc\n"
            "2026-11-22T05:00:00Z,GET /a,4,rest,extra\n"
            "yesterday,GET /a,4,rest\n"
            "2026-11-22T05:00:00Z,GET /a,many,rest\n")
    sr = load(con, tmp_path, text, fmt="counts")
    assert (sr.rows_loaded, sr.rows_rejected, sr.requests_counted) == (1, 6, 10)
    assert rows(con, "SELECT line_no, reason FROM rejects ORDER BY line_no") == [
        (3, "requests: expected a count >= 0, got -3"),
        (4, "missing requests count"),
        (5, "api_type: expected one of rest, http, websocket, web, alb, kong, envoy, got grpc"),
        (6, "CSV row has 5 fields, the header 4"),
        (7, "bad timestamp: yesterday"),
        (8, "requests: expected an integer request count, got many"),
    ]


def test_counts_csv_header_is_counted_as_blank(con, tmp_path):
    sr = load(con, tmp_path, "timestamp,route,requests\n2026-11-22T05:00:00Z,GET /a,5\n")
    assert (sr.rows_loaded, sr.rows_rejected, sr.lines_blank) == (1, 0, 1)


def test_counts_csv_custom_header_order_across_chunks(con, tmp_path):
    rows_ = "".join(f"{i % 7},2026-11-22T05:{i % 60:02d}:00Z,GET /route/with/a/long/name/{i % 3}\n" for i in range(40000))
    p = tmp_path / "big.csv"
    p.write_text("requests,timestamp,route\n" + rows_)
    assert p.stat().st_size > 1 << 20
    rep = ingest(con, [str(p)], Settings(ingest_chunk_mb=1))
    assert rep.rows_rejected == 0 and rep.rows_loaded == 40000
