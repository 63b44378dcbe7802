"""Formats declared in the config (regex with named groups, JSON field mapping), loaded through ingest()."""

from __future__ import annotations

import datetime as dt

import pytest

from forecaster.config import CustomFormat, Settings
from forecaster.errors import ConfigError
from forecaster.ingest import ingest
from forecaster.ingest.formats import all_formats
from forecaster.store.db import connect

REGEX_FMT = {
    "regex": r"^(?P<ts>\S+) (?P<method>[A-Z]+) (?P<path>\S+) -> (?P<status>\d+) in (?P<latency_ms>[0-9.]+)ms"
             r"(?: id=(?P<request_id>\S+))?$",
    "defaults": {"api": "edge", "api_type": "web", "stage": "prod"},
}
JSON_FMT = {
    "json_fields": {"ts": "time", "method": "verb", "path": "uri", "status": "code", "request_id": "id",
                    "api": "svc.name", "latency_ms": "timing.total_ms", "region": "dc"},
    "defaults": {"api_type": "http", "stage": "live"},
}


@pytest.fixture
def con(tmp_path):
    c = connect(tmp_path / "c.duckdb")
    yield c
    c.close()


def test_regex_custom_format_detected_and_loaded(con, tmp_path):
    p = tmp_path / "edge.log"
    p.write_text("2026-11-22T05:00:01Z GET /pets/42 -> 200 in 12.5ms id=a1\n"
                 "2026-11-22T05:00:02Z POST /pets -> 201 in 30ms\n"
                 "2026-11-22T05:00:03Z GET /pets/43 -> 2xx in 1ms\n"
                 "garbage\n"
                 "2026-11-22T05:00:04Z GET /pets -> 200 in 2ms id=a2\n")
    rep = ingest(con, [str(p)], Settings(custom_formats={"edge_text": REGEX_FMT}))
    sr = rep.by_source[0]
    assert (sr.format, sr.rows_loaded, sr.rows_rejected) == ("edge_text", 3, 2)
    got = con.execute("SELECT ts, api, api_type, stage, route, status, latency_ms, request_id FROM requests "
                      "ORDER BY line_no").fetchall()
    assert got == [
        (dt.datetime(2026, 11, 22, 5, 0, 1), "edge", "web", "prod", "GET /pets/{id}", 200, 12.5, "a1"),
        (dt.datetime(2026, 11, 22, 5, 0, 2), "edge", "web", "prod", "POST /pets", 201, 30.0, f"{sr.source_id}:2"),
        (dt.datetime(2026, 11, 22, 5, 0, 4), "edge", "web", "prod", "GET /pets", 200, 2.0, "a2"),
    ]
    assert con.execute("SELECT line_no, raw, reason FROM rejects ORDER BY line_no").fetchall() == [
        (3, "2026-11-22T05:00:03Z GET /pets/43 -> 2xx in 1ms", "line does not match custom format edge_text"),
        (4, "garbage", "line does not match custom format edge_text"),
    ]


def test_json_custom_format_with_nested_keys_by_name(con, tmp_path):
    p = tmp_path / "svc.jsonl"
    p.write_text('{"time":"2026-11-22T06:00:01+01:00","verb":"get","uri":"/orders/9?x=1","code":503,"id":"j1",'
                 '"svc":{"name":"orders"},"timing":{"total_ms":81.5},"dc":"eu-west-1"}\n'
                 '{"time":1795323602,"verb":"DELETE","uri":"/orders/10","code":"204","id":"j2","svc":{"name":"orders"}}\n'
                 '{"verb":"GET","uri":"/x","code":200,"id":"j3"}\n')
    rep = ingest(con, [str(p)], Settings(custom_formats={"svc_json": JSON_FMT}), fmt="svc_json")
    sr = rep.by_source[0]
    assert (sr.format, sr.rows_loaded, sr.rows_rejected) == ("svc_json", 2, 1)
    got = con.execute("SELECT ts, api, api_type, stage, route, method, status, latency_ms, region, request_id "
                      "FROM requests ORDER BY line_no").fetchall()
    assert got == [
        (dt.datetime(2026, 11, 22, 5, 0, 1), "orders", "http", "live", "GET /orders/{id}", "GET", 503, 81.5,
         "eu-west-1", "j1"),
        (dt.datetime(2026, 11, 22, 5, 0, 2), "orders", "http", "live", "DELETE /orders/{id}", "DELETE", 204, None,
         "us-east-1", "j2"),
    ]
    assert con.execute("SELECT line_no, reason FROM rejects").fetchall() == [(3, "missing timestamp")]


def test_json_custom_format_is_auto_detected(con, tmp_path):
    p = tmp_path / "svc.jsonl"
    p.write_text('{"time":"2026-11-22T05:00:01Z","verb":"GET","uri":"/a","code":200,"id":"k1","svc":{"name":"s"},'
                 '"timing":{"total_ms":1},"dc":"x"}\n')
    rep = ingest(con, [str(p)], Settings(custom_formats={"svc_json": JSON_FMT}))
    assert rep.by_source[0].format == "svc_json" and rep.rows_loaded == 1


def test_strptime_ts_format(con, tmp_path):
    fmt = {"regex": r"^(?P<ts>\d{4}/\d\d/\d\d \d\d:\d\d:\d\d) (?P<method>\w+) (?P<path>\S+) (?P<status>\d+)$",
           "ts_format": "%Y/%m/%d %H:%M:%S"}
    p = tmp_path / "s.log"
    p.write_text("2026/11/22 05:00:01 GET /a 200\n2026/13/22 05:00:01 GET /a 200\n")
    rep = ingest(con, [str(p)], Settings(custom_formats={"slashy": fmt}), fmt="slashy")
    assert (rep.rows_loaded, rep.rows_rejected) == (1, 1)
    assert con.execute("SELECT ts FROM requests").fetchall() == [(dt.datetime(2026, 11, 22, 5, 0, 1),)]
    assert con.execute("SELECT reason FROM rejects").fetchall() == [("bad timestamp: 2026/13/22 05:00:01",)]


@pytest.mark.parametrize("formats, message", [
    ({"clf": {"regex": r"(?P<ts>\S+)"}}, "custom format 'clf' clashes with a built-in format"),
    ({"x": {"regex": r"(?P<when>\S+) (?P<path>\S+)"}}, "custom format 'x': the regex needs a named group 'ts'"),
    ({"x": {"regex": r"(?P<ts>\S+) (\S+)"}}, "every capturing group of a format pattern must be named"),
    ({"x": {"json_fields": {"ts": "t", "colour": "c"}}}, "custom format 'x': unknown field(s) ['colour']"),
    ({"x": {"json_fields": {"path": "p"}}}, "custom format 'x': json_fields needs 'ts'"),
    ({"x": {}}, "custom format 'x': give either 'regex' or 'json_fields'"),
])
def test_bad_declarations_fail_before_any_work(con, tmp_path, formats, message):
    p = tmp_path / "a.log"
    p.write_text("x\n")
    with pytest.raises(ConfigError) as e:
        ingest(con, [str(p)], Settings(custom_formats=formats))
    assert message in str(e.value)
    assert con.execute("SELECT count(*) FROM sources").fetchall() == [(0,)]


def test_custom_formats_are_replaced_per_run(con, tmp_path):
    p = tmp_path / "a.log"
    p.write_text("2026-11-22T05:00:01Z GET /a -> 200 in 1ms\n")
    ingest(con, [str(p)], Settings(custom_formats={"edge_text": REGEX_FMT}))
    assert "edge_text" in all_formats()
    q = tmp_path / "b.log"
    q.write_text("2026-11-22T05:00:02Z GET /b -> 200 in 1ms\n")
    rep = ingest(con, [str(q)], Settings())
    assert "edge_text" not in all_formats()
    assert rep.by_source[0].status == "failed"
    assert "cannot tell the log format" in rep.by_source[0].note


def test_a_regex_re2_refuses_is_one_clear_config_error():
    from forecaster.errors import ConfigError
    from forecaster.ingest.formats.custom import register_custom_formats

    with pytest.raises(ConfigError, match="not valid for RE2"):
        register_custom_formats({"look": CustomFormat(regex=r"^(?P<ts>\S+)(?=x) (?P<path>\S+)$")})
    register_custom_formats({})


def test_a_catastrophic_regex_cannot_hang_detection():
    import time

    from forecaster.ingest.formats.detect import bounded_regex_share

    t = time.monotonic()
    share = bounded_regex_share(["a" * 40 + "!"] * 5, r"(?P<ts>(a+)+)b", budget_s=0.3)
    assert share == 0.0 and time.monotonic() - t < 5
