"""Bad input, through the public ``ingest(con, [path], settings)`` on a real DuckDB file.

Each case checks the report's counts, the ``rejects`` rows (line number and reason) and that
the good lines around the bad ones are loaded: one bad line never stops a load, and nothing
is dropped silently (loaded + rejected + duplicate + blank = lines).
"""

from __future__ import annotations

import re
import gzip
import json
import shutil

import duckdb
import pytest

from forecaster.config import Settings
from forecaster.ingest import ingest, loader
from forecaster.store.db import connect


@pytest.fixture
def con(tmp_path):
    c = connect(tmp_path / "bad.duckdb")
    yield c
    c.close()


def good(i: int, sec: int = 1, **over) -> str:
    """One valid API Gateway REST JSON access-log line (with its newline)."""
    d = {"requestId": f"req-{i}", "requestTime": f"22/Nov/2026:05:{sec // 60:02d}:{sec % 60:02d} +0000",
         "httpMethod": "GET", "resourcePath": "/pets/{id}", "status": "200", "responseLength": "10"}
    d.update(over)
    return json.dumps(d) + "\n"


def load(con, tmp_path, data: bytes | str, name: str = "in.log", settings: Settings | None = None, **kw):
    p = tmp_path / name
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    rep = ingest(con, [str(p)], settings or Settings(), **kw)
    assert rep.sources == 1
    return rep.by_source[0]


def rejects(con) -> list[tuple[int, str]]:
    return con.execute("SELECT line_no, reason FROM rejects ORDER BY source_id, line_no").fetchall()


def loaded_ids(con) -> list[str]:
    return [r[0] for r in con.execute("SELECT request_id FROM requests ORDER BY source_id, line_no").fetchall()]


def counts(sr) -> tuple[int, int, int, int]:
    return sr.rows_loaded, sr.rows_rejected, sr.rows_duplicate, sr.lines_blank


# ---- malformed content ----------------------------------------------------------------------

def test_malformed_json(con, tmp_path):
    sr = load(con, tmp_path, good(1) + '{"requestId": "x", "status": 200,,}\n' + "not json at all\n" + good(4))
    assert sr.status == "loaded" and counts(sr) == (2, 2, 0, 0)
    assert rejects(con) == [(2, "malformed JSON"), (3, "malformed JSON")]
    assert loaded_ids(con) == ["req-1", "req-4"]
    raw = con.execute("SELECT raw FROM rejects WHERE line_no = 3").fetchall()[0][0]
    assert raw == "not json at all"       # stored without its newline


def test_truncated_line_cut_mid_json(con, tmp_path):
    cut = good(2)[:37] + "\n"
    sr = load(con, tmp_path, good(1) + cut + good(3) + good(4))
    assert counts(sr) == (3, 1, 0, 0)
    assert rejects(con) == [(2, "malformed JSON")]
    assert loaded_ids(con) == ["req-1", "req-3", "req-4"]


def test_wrong_types_name_the_field_and_value(con, tmp_path):
    sr = load(con, tmp_path, good(1) + good(2, status="abc") + good(3, responseLength="x")
              + good(4, status="2OO", responseLength="1e99x") + good(5))
    assert counts(sr) == (2, 3, 0, 0)
    assert rejects(con) == [
        (2, "status: expected an integer HTTP status, got abc"),
        (3, "bytes_out: expected an integer byte count, got x"),
        (4, "status: expected an integer HTTP status, got 2OO; bytes_out: expected an integer byte count, got 1e99x"),
    ]


def test_bad_and_missing_timestamps(con, tmp_path):
    no_ts = json.loads(good(4))
    del no_ts["requestTime"]
    sr = load(con, tmp_path, good(1) + good(2, requestTime="32/Nov/2026:05:00:01 +0000")
              + good(3, requestTime="yesterday") + json.dumps(no_ts) + "\n" + good(5, requestTime="")
              + good(6, requestTime=None, requestTimeEpoch="1795323601000") + good(7, requestTimeEpoch="1e400"))
    assert counts(sr) == (2, 5, 0, 0)
    assert rejects(con) == [
        (2, "bad timestamp: 32/Nov/2026:05:00:01 +0000"),
        (3, "bad timestamp: yesterday"),
        (4, "missing timestamp"),
        (5, "missing timestamp"),
        (7, "bad timestamp: 1e400"),
    ]
    assert loaded_ids(con) == ["req-1", "req-6"]


def test_non_utf8_bytes(con, tmp_path):
    data = good(1).encode() + b'{"requestId": "caf\xe9", "bad": "\xff\xfe"}\n' + good(3).encode()
    sr = load(con, tmp_path, data)
    assert counts(sr) == (2, 1, 0, 0)
    assert rejects(con) == [(2, "invalid UTF-8 at byte 18")]     # 0-based offset of \xe9
    raw = con.execute("SELECT raw FROM rejects").fetchall()[0][0]
    assert raw == '{"requestId": "caf\\xe9", "bad": "\\xff\\xfe"}'     # bytes shown as \xNN


def test_nul_bytes(con, tmp_path):
    data = "".join(good(i) for i in range(1, 6)) + "\x00\x00\x00\n" + good(7).replace("req-7", "req\x00-7") + good(8)
    sr = load(con, tmp_path, data)
    assert counts(sr) == (6, 2, 0, 0)
    assert rejects(con) == [(6, "malformed JSON"), (7, "malformed JSON")]
    assert loaded_ids(con)[-1] == "req-8"


def test_json_values_that_are_not_objects(con, tmp_path):
    head = "".join(good(i) for i in range(1, 6))
    sr = load(con, tmp_path, head + "[" + good(6).strip() + "]\n" + '"a string"\n' + "42\n" + "null\n" + good(10))
    assert counts(sr) == (6, 4, 0, 0)
    assert rejects(con) == [
        (6, "JSON value is not an object (array)"),
        (7, "JSON value is not an object (varchar)"),
        (8, "JSON value is not an object (ubigint)"),
        (9, "JSON value is not an object (null)"),
    ]


def test_status_out_of_range(con, tmp_path):
    sr = load(con, tmp_path, good(1) + good(2, status="999") + good(3, status="99") + good(4, status=-200) + good(5))
    assert counts(sr) == (2, 3, 0, 0)
    assert rejects(con) == [(2, "status: expected 100-599, got 999"), (3, "status: expected 100-599, got 99"),
                            (4, "status: expected 100-599, got -200")]


def test_negative_numbers(con, tmp_path):
    sr = load(con, tmp_path, good(1) + good(2, responseLength="-5") + good(3, responseLatency="-1.5") + good(4))
    assert counts(sr) == (2, 2, 0, 0)
    assert rejects(con) == [(2, "bytes_out: expected a byte count >= 0, got -5"),
                            (3, "latency_ms: expected a latency in ms >= 0, got -1.5")]


def test_negative_counts_in_counts_format(con, tmp_path):
    text = ("timestamp,route,requests\n2026-11-22T05:00:00Z,GET /a,5\n2026-11-22T05:00:00Z,GET /a,-5\n"
            '{"timestamp":"2026-11-22T05:00:00Z","route":"GET /a","requests":-1}\n2026-11-22T05:01:00Z,GET /a,2\n')
    sr = load(con, tmp_path, text, name="c.csv")
    assert (sr.format, sr.rows_loaded, sr.rows_rejected, sr.requests_counted) == ("counts", 2, 2, 7)
    assert rejects(con) == [(3, "requests: expected a count >= 0, got -5"),
                            (4, "requests: expected a count >= 0, got -1")]
    assert con.execute("SELECT sum(requests) FROM traffic_1m").fetchall() == [(7,)]


# ---- files and line structure ---------------------------------------------------------------

def test_empty_file(con, tmp_path):
    sr = load(con, tmp_path, b"")
    assert sr.status == "loaded" and counts(sr) == (0, 0, 0, 0) and sr.format is None
    assert rejects(con) == [] and loaded_ids(con) == []


def test_file_of_blank_lines_only(con, tmp_path):
    sr = load(con, tmp_path, "\n\r\n\n")
    assert sr.status == "loaded" and counts(sr) == (0, 0, 0, 3)


def test_blank_lines_are_counted_not_rejected(con, tmp_path):
    sr = load(con, tmp_path, "\n" + good(1) + "\n\n" + good(2) + "\r\n" + good(3) + "\n")
    assert counts(sr) == (3, 0, 0, 5)
    assert rejects(con) == []
    # line numbers count the blank lines
    assert con.execute("SELECT line_no FROM requests ORDER BY line_no").fetchall() == [(2,), (5,), (7,)]


def test_whitespace_only_lines_are_blank(con, tmp_path):
    sr = load(con, tmp_path, good(1) + "   \n" + good(2) + "\t\r\n" + good(3))
    assert counts(sr) == (3, 0, 0, 2)


def test_crlf_line_endings(con, tmp_path):
    data = (good(1) + good(2, status="abc") + good(3)).replace("\n", "\r\n")
    sr = load(con, tmp_path, data)
    assert counts(sr) == (2, 1, 0, 0)
    assert con.execute("SELECT line_no, raw, reason FROM rejects").fetchall() == [
        (2, good(2, status="abc").strip(), "status: expected an integer HTTP status, got abc")]


def test_crlf_line_endings_regex_format(con, tmp_path):
    lines = ['192.0.2.1 - - [22/Nov/2026:05:00:01 +0000] "GET /a/1 HTTP/1.1" 200 5',
             '192.0.2.1 - - [22/Nov/2026:05:00:02 +0000] "GET /a/2 HTTP/1.1" 404 -',
             '192.0.2.1 - - [22/Nov/2026:05:00:03 +0000] "GET /a/3 HTTP/1.1" 200 x']
    sr = load(con, tmp_path, "\r\n".join(lines) + "\r\n")
    assert (sr.format, *counts(sr)) == ("clf", 2, 1, 0, 0)
    assert con.execute("SELECT route, status, bytes_out FROM requests ORDER BY line_no").fetchall() == [
        ("GET /a/{id}", 200, 5), ("GET /a/{id}", 404, None)]
    assert con.execute("SELECT line_no, raw, reason FROM rejects").fetchall() == [
        (3, lines[2], "line does not match Common Log Format")]


@pytest.mark.parametrize("eol", ["\n", "\r\n"])
def test_no_trailing_newline(con, tmp_path, eol):
    """A last line without its newline is a line still being written: left for the next load,
    neither rejected nor lost; once finished (and more appended) it loads, the rest is not reloaded."""
    sr = load(con, tmp_path, (good(1) + good(2) + good(3).rstrip("\n")).replace("\n", eol))
    assert counts(sr) == (2, 0, 0, 0) and rejects(con) == []
    assert "unfinished last line" in sr.note
    assert loaded_ids(con) == ["req-1", "req-2"]
    with open(tmp_path / "in.log", "ab") as f:
        f.write((eol + good(4)).replace("\n", eol).encode() if eol == "\n" else ("\r\n" + good(4).replace("\n", eol)).encode())
    again = ingest(con, [str(tmp_path / "in.log")], Settings()).by_source[0]
    assert again.status == "loaded" and counts(again) == (2, 0, 0, 0)
    assert loaded_ids(con) == ["req-1", "req-2", "req-3", "req-4"]
    assert con.execute("SELECT line_no FROM requests ORDER BY line_no").fetchall() == [(1,), (2,), (3,), (4,)]


def test_no_trailing_newline_in_a_gzip_is_loaded(con, tmp_path):
    """A compressed file is finished: its last line loads even without a newline."""
    sr = load(con, tmp_path, gzip.compress((good(1) + good(2).rstrip("\n")).encode()), name="done.log.gz")
    assert counts(sr) == (2, 0, 0, 0)


def test_long_lines_rejected_by_setting(con, tmp_path):
    long_line = good(2, padding="p" * 5000)
    settings = Settings(ingest_max_line_kb=1, reject_raw_max_chars=100)
    sr = load(con, tmp_path, good(1) + long_line + good(3), settings=settings)
    assert counts(sr) == (2, 1, 0, 0)
    assert rejects(con) == [(2, f"line too long: {len(long_line)} bytes (max 1024)")]
    assert con.execute("SELECT length(raw) FROM rejects").fetchall() == [(100,)]
    assert loaded_ids(con) == ["req-1", "req-3"]


@pytest.mark.slow
@pytest.mark.parametrize("chunk_mb", [64, 1])
def test_real_three_megabyte_line(con, tmp_path, chunk_mb):
    """A 3 MB line: held in the chunk (64 MB chunks) or skipped while streaming (1 MB chunks)."""
    huge = good(2, padding="z" * (3 << 20))
    sr = load(con, tmp_path, good(1) + huge + good(3), settings=Settings(ingest_chunk_mb=chunk_mb))
    assert counts(sr) == (2, 1, 0, 0)
    assert rejects(con) == [(2, f"line too long: {len(huge)} bytes (max 65536)")]
    assert loaded_ids(con) == ["req-1", "req-3"]
    assert con.execute("SELECT max(length(raw)) FROM rejects").fetchall()[0][0] <= 4096


def test_gzip_cut_short(con, tmp_path):
    body = "".join(good(i, sec=i % 3600) for i in range(20000)).encode()
    gz = gzip.compress(body)
    sr = load(con, tmp_path, gz[: len(gz) * 2 // 3], name="cut.log.gz", settings=Settings(ingest_chunk_mb=1))
    assert sr.status == "loaded"
    got = rejects(con)
    # whole lines read before the damage are loaded; the partial last line and the damage are rejected
    assert sr.rows_loaded > 10000 and sr.rows_rejected == 2
    assert got[0] == (sr.rows_loaded + 1, "malformed JSON")
    assert got[1][0] == sr.rows_loaded + 2
    assert re.match(r"stream damaged after \d+ bytes: EOFError: Compressed file ended", got[1][1])
    assert loaded_ids(con)[-1] == f"req-{sr.rows_loaded - 1}"


def test_mixed_formats_in_one_file(con, tmp_path):
    clf = '192.0.2.1 - - [22/Nov/2026:05:00:01 +0000] "GET /a HTTP/1.1" 200 5\n'
    sr = load(con, tmp_path, good(1) + good(2) + clf + good(4) + clf + good(6))
    assert (sr.format, *counts(sr)) == ("apigw_rest_json", 4, 2, 0, 0)
    assert rejects(con) == [(3, "malformed JSON"), (5, "malformed JSON")]


def test_undetectable_file_fails_with_the_known_formats(con, tmp_path):
    sr = load(con, tmp_path, "hello\nworld\n")
    assert sr.status == "failed"
    assert "cannot tell the log format from its first lines" in sr.note and "apigw_rest_json" in sr.note
    assert con.execute("SELECT count(*) FROM sources").fetchall() == [(0,)]


# ---- duplicates and reloads ----------------------------------------------------------------

def test_duplicate_request_ids_within_a_file(con, tmp_path):
    sr = load(con, tmp_path, good(1) + good(2) + good(1) + good(3) + good(2))
    assert counts(sr) == (3, 0, 2, 0)
    assert loaded_ids(con) == ["req-1", "req-2", "req-3"]
    assert con.execute("SELECT line_no FROM requests ORDER BY line_no").fetchall() == [(1,), (2,), (4,)]
    assert con.execute("SELECT sum(requests) FROM traffic_1m").fetchall() == [(3,)]


def test_duplicate_request_ids_across_two_files(con, tmp_path):
    a = load(con, tmp_path, good(1) + good(2), name="a.log")
    b = load(con, tmp_path, good(2) + good(3), name="b.log")
    assert counts(a) == (2, 0, 0, 0) and counts(b) == (1, 0, 1, 0)
    assert loaded_ids(con) == ["req-1", "req-2", "req-3"]
    assert con.execute("SELECT sum(requests) FROM traffic_1m").fetchall() == [(3,)]


def test_same_file_twice_is_a_no_op(con, tmp_path):
    first = load(con, tmp_path, good(1) + "oops\n" + good(3))
    again = ingest(con, [str(tmp_path / "in.log")], Settings()).by_source[0]
    assert first.status == "loaded" and again.status == "skipped"
    assert again.note == f"already loaded as source {first.source_id}"
    # the same bytes under another name are recognised by checksum
    shutil.copy(tmp_path / "in.log", tmp_path / "copy.log")
    copy = ingest(con, [str(tmp_path / "copy.log")], Settings()).by_source[0]
    assert copy.status == "skipped" and copy.note == f"same bytes already loaded as source {first.source_id}"
    assert con.execute("SELECT count(*) FROM sources").fetchall() == [(1,)]
    assert loaded_ids(con) == ["req-1", "req-3"]
    assert rejects(con) == [(2, "malformed JSON")]
    assert con.execute("SELECT sum(requests) FROM traffic_1m").fetchall() == [(2,)]


# ---- interrupted loads ----------------------------------------------------------------------

def _big_file(tmp_path) -> tuple[str, int]:
    """~2.5 MB: three 1 MB chunks, a bad line in the first one."""
    lines = [good(i, sec=i % 3600) for i in range(16000)]
    lines[5] = "broken\n"
    p = tmp_path / "big.log"
    p.write_text("".join(lines))
    assert p.stat().st_size > 2 << 20
    return str(p), len(lines)


@pytest.mark.parametrize("error", [OSError("disk on fire"), duckdb.IOException("write failed"), KeyboardInterrupt()])
def test_interrupted_load_leaves_nothing_and_rerun_loads_once(con, tmp_path, monkeypatch, error):
    path, n = _big_file(tmp_path)
    settings = Settings(ingest_chunk_mb=1)
    real, calls = loader._load_chunk, []

    def failing(*args, **kw):
        calls.append(1)
        if len(calls) > 1:
            raise error
        return real(*args, **kw)

    monkeypatch.setattr(loader, "_load_chunk", failing)
    if isinstance(error, KeyboardInterrupt):
        with pytest.raises(KeyboardInterrupt):
            ingest(con, [path], settings)
    else:
        sr = ingest(con, [path], settings).by_source[0]
        assert sr.status == "failed" and type(error).__name__ in sr.note
    assert len(calls) == 2        # the first chunk was loaded, then rolled back
    for table in ("requests", "sources", "rejects", "traffic_1m"):
        assert con.execute(f"SELECT count(*) FROM {table}").fetchall() == [(0,)], table

    monkeypatch.setattr(loader, "_load_chunk", real)
    sr = ingest(con, [path], settings).by_source[0]
    assert sr.status == "loaded" and counts(sr) == (n - 1, 1, 0, 0)
    assert rejects(con) == [(6, "malformed JSON")]
    assert con.execute("SELECT count(*), count(DISTINCT request_id) FROM requests").fetchall() == [(n - 1, n - 1)]
    assert con.execute("SELECT sum(requests) FROM traffic_1m").fetchall() == [(n - 1,)]
    assert ingest(con, [path], settings).by_source[0].status == "skipped"
