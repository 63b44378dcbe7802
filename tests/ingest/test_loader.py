"""The loader's contracts: exactly once, rollups in step with requests, retention, stdin, sources."""

from __future__ import annotations

import gzip
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from forecaster.config import Settings
from forecaster.ingest import ingest
from forecaster.store import connect
from forecaster.store.db import run

REPO = Path(__file__).resolve().parents[2]
NASA = REPO / "data" / "realdata" / "NASA_access_log_Aug95_first100.log"


def rest_line(i: int, ts_ms: int, route: str = "/pets/{petId}", status: int = 200, latency: int = 30,
              integ: int = 25, rid: str | None = None) -> str:
    return json.dumps({
        "requestId": rid or f"req-{i}", "ip": "192.0.2.1", "requestTimeEpoch": str(ts_ms),
        "httpMethod": "GET", "resourcePath": route, "path": route.replace("{petId}", str(i)),
        "status": str(status), "responseLength": "100", "responseLatency": str(latency),
        "integrationLatency": str(integ), "apiId": "api1", "stage": "prod",
    })


T0 = 1_795_000_000_000  # 2026-11-18T09:46:40Z, in ms


@pytest.fixture
def con(tmp_path):
    c = connect(tmp_path / "t.duckdb")
    yield c
    c.close()


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(ln + "\n" for ln in lines))
    return path


def test_same_file_twice_is_a_noop(con, tmp_path):
    f = write(tmp_path / "a.log", [rest_line(i, T0 + i * 1000) for i in range(50)])
    r1 = ingest(con, [str(f)])
    r2 = ingest(con, [str(f)])
    assert (r1.rows_loaded, r2.rows_loaded) == (50, 0)
    assert r2.by_source[0].status == "skipped"
    assert run(con, "SELECT count(*) FROM requests")[0][0] == 50
    assert run(con, "SELECT sum(requests) FROM traffic_1m")[0][0] == 50


def test_same_bytes_under_another_name_are_skipped(con, tmp_path):
    lines = [rest_line(i, T0 + i * 1000) for i in range(20)]
    a, b = write(tmp_path / "a.log", lines), write(tmp_path / "b.log", lines)
    ingest(con, [str(a)])
    r = ingest(con, [str(b)])
    assert r.by_source[0].status == "skipped" and "same bytes" in r.by_source[0].note
    assert run(con, "SELECT count(*) FROM sources")[0][0] == 1


def test_overlapping_files_dedupe_by_request_id(con, tmp_path):
    a = write(tmp_path / "a.log", [rest_line(i, T0 + i * 1000) for i in range(0, 60)])
    b = write(tmp_path / "b.log", [rest_line(i, T0 + i * 1000) for i in range(40, 100)])
    r = ingest(con, [str(a), str(b)])
    assert r.rows_loaded == 100 and r.rows_duplicate == 20
    assert run(con, "SELECT sum(requests) FROM traffic_1m")[0][0] == 100


def test_duplicates_inside_one_file_keep_the_first(con, tmp_path):
    f = write(tmp_path / "a.log", [rest_line(1, T0, status=200), rest_line(1, T0, status=500), rest_line(2, T0)])
    r = ingest(con, [str(f)])
    assert (r.rows_loaded, r.rows_duplicate) == (2, 1)
    assert run(con, "SELECT status FROM requests WHERE request_id = 'req-1'") == [(200,)]


def test_rollups_match_requests(con, tmp_path):
    lines = [rest_line(i, T0 + i * 7000, route=("/pets/{petId}" if i % 3 else "/orders"),
                       status=(500 if i % 10 == 0 else 404 if i % 7 == 0 else 200), latency=10 + i % 50, integ=i % 40)
             for i in range(600)]
    ingest(con, [str(write(tmp_path / "a.log", lines))])
    got = run(con, """
        SELECT route, sum(requests), sum(status_4xx), sum(status_5xx), sum(bytes_out), sum(billed_ms_sum)
        FROM traffic_1m GROUP BY 1 ORDER BY 1""")
    want = run(con, """
        SELECT route, count(*), count(*) FILTER (WHERE status BETWEEN 400 AND 499), count(*) FILTER (WHERE status >= 500),
               sum(bytes_out), sum(ceil(integration_latency_ms)) FROM requests GROUP BY 1 ORDER BY 1""")
    assert got == want
    # percentiles are exact within one source
    p = run(con, """
        SELECT t.latency_p95_ms, (SELECT quantile_cont(latency_ms, 0.95) FROM requests r
                                  WHERE date_trunc('minute', r.ts) = t.ts AND r.route = t.route)
        FROM traffic_1m t""")
    assert all(abs(a - b) < 1e-9 for a, b in p)


def test_minute_shared_by_two_sources_adds_counts(con, tmp_path):
    a = write(tmp_path / "a.log", [rest_line(i, T0 + i, latency=10) for i in range(10)])
    b = write(tmp_path / "b.log", [rest_line(i, T0 + i, latency=30) for i in range(10, 40)])
    ingest(con, [str(a), str(b)], Settings(ingest_batch_files=0))   # each source in its own transaction
    (req, n, p50), = run(con, "SELECT requests, latency_n, latency_p50_ms FROM traffic_1m")
    assert (req, n) == (40, 40)
    assert p50 == pytest.approx((10 * 10 + 30 * 30) / 40)   # latency-count-weighted


def test_minute_shared_by_two_sources_of_one_batch_is_exact(con, tmp_path):
    a = write(tmp_path / "a.log", [rest_line(i, T0 + i, latency=10) for i in range(10)])
    b = write(tmp_path / "b.log", [rest_line(i, T0 + i, latency=30) for i in range(10, 40)])
    ingest(con, [str(a), str(b)])                                  # small files: one batch, one fold
    (req, n, p50), = run(con, "SELECT requests, latency_n, latency_p50_ms FROM traffic_1m")
    assert (req, n, p50) == (40, 40, 30.0)                         # the median of all 40 rows


def test_gzip_and_directory_and_glob(con, tmp_path):
    d = tmp_path / "logs"
    d.mkdir()
    write(d / "a.log", [rest_line(i, T0 + i) for i in range(10)])
    with gzip.open(d / "b.log.gz", "wt") as f:
        f.write("".join(rest_line(i, T0 + i) + "\n" for i in range(10, 30)))
    (d / ".hidden").write_text("not a log\n")
    r = ingest(con, [str(d)])
    assert r.sources == 2 and r.rows_loaded == 30 and r.rows_rejected == 0
    r = ingest(con, [str(d / "*.gz")])
    assert r.by_source[0].status == "skipped"


def test_stdin(con):
    data = "".join(rest_line(i, T0 + i) + "\n" for i in range(5)).encode()
    r = ingest(con, ["-"], stdin=io.BufferedReader(io.BytesIO(data)))
    assert r.rows_loaded == 5 and r.by_source[0].uri == "stdin:"


def test_missing_sources_are_named_together(con, tmp_path):
    from forecaster.errors import SourceError
    with pytest.raises(SourceError) as e:
        ingest(con, [str(tmp_path / "nope.log"), str(tmp_path / "*.none")])
    assert "nope.log" in str(e.value) and "matches no file" in str(e.value)


def test_retention_rollups_only(tmp_path):
    s = Settings(db=tmp_path / "r.duckdb", retention_raw_days=0)
    c = connect(s.db, s)
    f = write(tmp_path / "a.log", [rest_line(i, T0 + i * 1000) for i in range(30)])
    r = ingest(c, [str(f)], s)
    assert r.rows_loaded == 30
    assert run(c, "SELECT count(*) FROM requests")[0][0] == 0
    assert run(c, "SELECT sum(requests) FROM traffic_1m")[0][0] == 30


def test_retention_days_keeps_recent(tmp_path):
    s = Settings(db=tmp_path / "r.duckdb", retention_raw_days=1)
    c = connect(s.db, s)
    day = 86_400_000
    f = write(tmp_path / "a.log", [rest_line(i, T0 + i * day // 2) for i in range(8)])   # 3.5 days
    ingest(c, [str(f)], s)
    assert run(c, "SELECT count(*) FROM requests")[0][0] == 3          # the last day only
    assert run(c, "SELECT sum(requests) FROM traffic_1m")[0][0] == 8   # rollups keep all


def test_real_nasa_log(con):
    r = ingest(con, [str(NASA)], Settings(ingest_tail_wait_s=0))   # the excerpt has no final newline
    assert (r.rows_loaded, r.rows_rejected) == (100, 0)
    assert r.by_source[0].format == "clf"
    first = run(con, "SELECT ts, route, status, bytes_out FROM requests ORDER BY line_no LIMIT 1")[0]
    assert str(first[0]) == "1995-08-01 04:00:01"   # -0400 converted to UTC
    # a path seen once, in a log with more paths than route_max_per_api: its API's {other} bucket
    assert first[1:] == ("GET {other}", 200, 1839)
    assert ("GET /images/{name}.gif",) in run(con, "SELECT DISTINCT route FROM requests")


def test_cli_json_summary(tmp_path):
    f = write(tmp_path / "a.log", [rest_line(i, T0 + i) for i in range(7)] + ["{broken"])
    out = subprocess.run([sys.executable, "-m", "forecaster.cli", "ingest", str(f), "--db", str(tmp_path / "c.duckdb"),
                          "--json"], capture_output=True, text=True, check=True).stdout
    doc = json.loads(out)
    assert set(doc) >= {"sources", "rows_loaded", "rows_rejected", "rows_duplicate", "seconds", "by_source"}
    assert (doc["sources"], doc["rows_loaded"], doc["rows_rejected"]) == (1, 7, 1)
