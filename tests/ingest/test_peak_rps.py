"""traffic_1m.peak_rps: the busiest second's count of each minute, from request-level logs."""

from __future__ import annotations

import json

from forecaster.config import Settings
from forecaster.ingest import ingest
from forecaster.store import open_store
from forecaster.store.db import run


def test_peak_rps_is_the_busiest_second(tmp_path):
    lines = []
    # minute 10:00: 3 requests in second 5, 1 in second 7; minute 10:01: 2 in second 0
    for i, sec in enumerate(["10:00:05", "10:00:05", "10:00:05", "10:00:07", "10:01:00", "10:01:00"]):
        lines.append(json.dumps({"requestId": f"r{i}", "requestTime": f"02/Nov/2026:{sec} +0000", "httpMethod": "GET",
                                 "resourcePath": "/pets", "status": "200", "responseLatency": "5",
                                 "apiId": "pets", "stage": "prod"}))
    log = tmp_path / "a.log"
    log.write_text("\n".join(lines) + "\n")
    s = Settings(db=tmp_path / "p.duckdb")
    with open_store(s.db, s) as con:
        r = ingest(con, [str(log)], s, fmt="apigw_rest_json")
        assert r.rows_loaded == 6, r
        rows = run(con, "SELECT strftime(ts, '%H:%M'), requests, peak_rps FROM traffic_1m ORDER BY ts")
        assert rows == [("10:00", 4, 3), ("10:01", 2, 2)]
        assert run(con, "SELECT peak_rps FROM traffic_1h") == [(3,)]


def test_counts_leave_peak_rps_unknown(tmp_path):
    f = tmp_path / "c.csv"
    f.write_text("timestamp,route,requests\n2026-11-02T10:00:00Z,GET /x,50\n")
    s = Settings(db=tmp_path / "c.duckdb")
    with open_store(s.db, s) as con:
        ingest(con, [str(f)], s, fmt="counts")
        assert run(con, "SELECT requests, peak_rps FROM traffic_1m") == [(50, None)]
