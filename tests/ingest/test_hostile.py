"""Hostile input: one bad line, chunk or file never breaks anything else, and values that parse
but cannot be true are rejected with a reason. Row counts before (today's code) are in
docs/benchmarks.md; each test pins the counts after."""

from __future__ import annotations

import datetime as dt
import gzip
import json

import pytest
from typer.testing import CliRunner

from forecaster.cli import app
from forecaster.config import Settings
from forecaster.ingest import ingest
from forecaster.ingest.loader import apply_retention
from forecaster.store import connect
from forecaster.store.db import run


@pytest.fixture
def con(tmp_path):
    c = connect(tmp_path / "hostile.duckdb")
    yield c
    c.close()


def good(i: int, **over) -> str:
    d = {"requestId": f"req-{i}", "requestTime": f"22/Nov/2026:05:{i // 60 % 60:02d}:{i % 60:02d} +0000",
         "httpMethod": "GET", "resourcePath": "/pets/{id}", "status": "200", "responseLatency": "12",
         "pad": "x" * 150}
    d.update(over)
    return json.dumps(d) + "\n"


def reasons(con) -> list[tuple[int, str]]:
    return run(con, "SELECT line_no, reason FROM rejects ORDER BY line_no")


@pytest.mark.parametrize("last", [b"   ", b"\xff\xfe not utf-8", b"y" * 70_000], ids=["blank", "not-utf8", "oversize"])
def test_a_last_chunk_without_a_usable_line_keeps_the_good_lines(con, tmp_path, last):
    """Today: 'ValueError: Must pass schema, or at least one RecordBatch', the whole source lost."""
    p = tmp_path / "f.log"
    p.write_bytes("".join(good(i) for i in range(6000)).encode() + last)   # > 1 MB: the last line is its own chunk
    sr = ingest(con, [str(p)], Settings(ingest_chunk_mb=1, ingest_tail_wait_s=0)).by_source[0]
    assert (sr.status, sr.rows_loaded) == ("loaded", 6000)
    assert sr.rows_rejected == (0 if last.strip() == b"" else 1)


def test_a_gzip_cut_in_its_header_fails_only_itself(tmp_path):
    """Today: 'Aborted.', no report, and every later file of the directory is never loaded."""
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a.log.gz").write_bytes(gzip.compress(good(1).encode())[:6])
    (logs / "b.log").write_text(good(2) + good(3))
    res = CliRunner().invoke(app, ["ingest", str(logs), "--db", str(tmp_path / "x.duckdb")], env={"COLUMNS": "80"})
    assert res.exit_code == 1, res.output
    assert "failed" in res.output and "2 rows loaded" in res.output.replace("\n", " ")
    c = connect(tmp_path / "x.duckdb")
    try:
        assert run(c, "SELECT count(*) FROM requests")[0][0] == 2
        assert run(c, "SELECT count(*) FROM sources")[0][0] == 1      # the broken file can be retried once fixed
    finally:
        c.close()


def test_absurd_values_are_rejected_with_a_reason(con, tmp_path):
    lines = [good(1), good(2, requestTime="22/Nov/99999:05:00:01 +0000"),
             good(3, requestTime="22/Nov/2026:05:00:01 +2500"), good(4, requestTime="22/Nov/2026:05:00:01 -2400"),
             good(5, responseLatency="inf"), good(6, responseLatency="NaN"), good(7, responseLatency="1e308"),
             good(8, requestTime="22/Nov/2126:05:00:01 +0000"), good(9, responseLength="9000000000000000000"),
             good(10, requestTime="22/Nov/2026:05:00:01 +0530"), good(11, requestTime="01/Jan/1900:00:00:00 +0000")]
    p = tmp_path / "f.log"
    p.write_text("".join(lines))
    sr = ingest(con, [str(p)]).by_source[0]
    assert (sr.rows_loaded, sr.rows_rejected) == (2, 9)          # today: 10 loaded (all but year 99999)
    got = dict(reasons(con))
    assert got[2].startswith("bad timestamp")
    assert "UTC offset beyond ±14:00" in got[3] and "UTC offset beyond ±14:00" in got[4]
    assert all("expected a finite latency" in got[i] for i in (5, 6, 7))
    assert "ingest_ts_window_days" in got[8] and "ingest_ts_window_days" in got[11]
    assert "bytes_out: expected a byte count <=" in got[9]


def test_huge_counts_are_rejected(con, tmp_path):
    p = tmp_path / "c.csv"
    p.write_text("timestamp,route,requests\n2026-11-22T05:00:00Z,GET /a,9000000000000000000\n"
                 "2026-11-22T05:01:00Z,GET /a,7\n")
    sr = ingest(con, [str(p)]).by_source[0]
    assert (sr.rows_loaded, sr.rows_rejected, sr.requests_counted) == (1, 1, 7)
    assert "requests: expected a count <=" in reasons(con)[0][1]


def test_a_future_row_moves_no_window_and_retention_keeps_real_rows(con, tmp_path):
    p = tmp_path / "f.log"
    p.write_text(good(1) + good(2, requestTime="22/Nov/2999:05:00:01 +0000") + good(3))
    ingest(con, [str(p)])
    assert run(con, "SELECT max(ts) FROM traffic_1m")[0][0] < dt.datetime(2027, 1, 1)
    # a future row already in a file written before the bounds existed: retention measures from now
    run(con, "INSERT INTO requests (ts, api, api_type, stage, route, region, request_id, source_id, line_no) "
             "VALUES ('2999-01-01', 'a', 'web', 's', 'GET /', 'r', 'x', 99, 1)")
    apply_retention(con, Settings(retention_raw_days=3650))
    assert run(con, "SELECT count(*) FROM requests WHERE ts < '2027-01-01'")[0][0] == 2


def test_a_log_opening_with_600_fragments_is_still_detected(con, tmp_path):
    """Today: 'cannot tell the log format from its first lines' and the source is lost."""
    fragment = '"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36"\n'
    combined = ('203.0.113.{i} - - [22/Nov/2026:05:{m:02d}:{s:02d} +0000] "GET /shop/item/{i} HTTP/1.1" 200 {i} '
                '"-" "curl/8.0"\n')
    lines = [fragment] * 600 + [combined.format(i=i, m=i // 60 % 60, s=i % 60) for i in range(400)]
    p = tmp_path / "nginx.log"
    p.write_text("".join(lines))
    sr = ingest(con, [str(p)]).by_source[0]
    assert (sr.status, sr.format, sr.rows_loaded, sr.rows_rejected) == ("loaded", "combined", 400, 600)


def test_names_holding_the_key_separator_do_not_collide(con, tmp_path):
    """Today: api 'a' + stage 'b|c' and api 'a|b' + stage 'c' make the same series 'route:a|b|c|...'."""
    from forecaster.forecast.series import route_series_id

    p = tmp_path / "f.log"
    p.write_text(good(1, apiId="a", stage="b|c") + good(2, apiId="a|b", stage="c"))
    assert ingest(con, [str(p)]).rows_loaded == 2
    keys = {route_series_id(*r) for r in run(con, "SELECT api, stage, route, region FROM traffic_1m")}
    assert len(keys) == 2 and all(k.count("|") == 3 for k in keys)


def test_a_path_that_is_not_a_file_says_what_it_is(tmp_path):
    """A FIFO, a dangling link, a link loop and a missing path: each named for what it is, and none
    opened (a FIFO would block the read forever)."""
    import os

    os.mkfifo(tmp_path / "pipe.log")
    (tmp_path / "dangling.log").symlink_to(tmp_path / "gone.log")
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    said = {}
    for name in ("pipe.log", "dangling.log", "a", "missing.log"):
        res = CliRunner().invoke(app, ["ingest", str(tmp_path / name), "--db", str(tmp_path / "o.duckdb")],
                                 env={"COLUMNS": "300"})
        assert res.exit_code != 0, res.output   # (2 from the console script, which turns the error into one line)
        said[name] = " ".join((res.output + str(res.exception or "")).split())
    assert "pipe.log: a named pipe (FIFO), not a file: pipe it to stdin instead" in said["pipe.log"]
    assert "dangling.log: no such file or directory (a symbolic link to nothing)" in said["dangling.log"]
    assert "a: too many levels of symbolic links" in said["a"]
    assert "missing.log: no such file or directory" in said["missing.log"]
    assert not (tmp_path / "o.duckdb").exists()   # a typo makes no new, empty store
