"""Cache and WebSocket advice from request-level logs (a real DuckDB file), numbers checked by hand."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd

from forecaster.config import Settings
from forecaster.decide.advice import cache, websocket
from forecaster.decide.guardrails import check_change
from forecaster.decide.inputs import DecideInputs
from forecaster.ingest import ingest
from forecaster.pricing.catalog import load_catalog
from forecaster.store import decide_reads as reads
from forecaster.store import open_store

NOW = dt.datetime(2026, 11, 2, 12)


def rest_line(i, t, client, method="GET", path="/pets", status=200):
    return json.dumps({"requestId": f"r{i}", "requestTime": t.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                       "httpMethod": method, "resourcePath": path, "status": str(status), "responseLatency": "5",
                       "responseLength": "1000", "apiId": "pets", "stage": "prod", "apiKeyId": client})


def ws_line(i, t, conn):
    return json.dumps({"requestId": f"w{i}", "requestTime": t.strftime("%d/%b/%Y:%H:%M:%S +0000"),
                       "eventType": "MESSAGE", "routeKey": "sendMessage", "connectionId": conn, "status": "200",
                       "apiId": "chat", "stage": "prod", "integrationLatency": "5", "responseLength": "10"})


def empty_inputs(s):
    return DecideInputs(run_id="x", as_of=NOW, step_s=3600.0, forecasts=pd.DataFrame(), stats=pd.DataFrame(),
                        accuracy=pd.DataFrame(columns=["series", "rel_mae", "coverage_80"]),
                        spikes=pd.DataFrame(), observed=pd.DataFrame(), settings=s, in_force={})


def test_cache_and_websocket(tmp_path):
    t0 = NOW - dt.timedelta(hours=2)
    # client a: 10 GETs a minute apart (9 repeats within 300 s); client b: 10 GETs 10 minutes apart (none)
    rest = [rest_line(i, t0 + dt.timedelta(minutes=i), "a") for i in range(10)]
    rest += [rest_line(100 + i, t0 + dt.timedelta(minutes=10 * i, seconds=30), "b") for i in range(10)]
    rest.append(rest_line(200, t0, "a", method="POST", path="/orders"))
    # connection c1: messages 10 s apart x 9 gaps, then one 900 s gap
    ws = [ws_line(i, t0 + dt.timedelta(seconds=10 * i), "c1") for i in range(10)]
    ws.append(ws_line(10, t0 + dt.timedelta(seconds=90 + 900), "c1"))
    (tmp_path / "rest.log").write_text("\n".join(rest) + "\n")
    (tmp_path / "ws.log").write_text("\n".join(ws) + "\n")
    s = Settings(db=tmp_path / "a.duckdb", decide_cache_ttl_s=300, decide_ws_idle_quantile=0.9)
    with open_store(s.db, s) as con:
        ingest(con, [str(tmp_path / "rest.log")], s, fmt="apigw_rest_json")
        ingest(con, [str(tmp_path / "ws.log")], s, fmt="apigw_websocket")
        start = NOW - dt.timedelta(days=7)
        cands = reads.cache_candidates(con, start, NOW, 300)
        cands.attrs["start"] = start
        stages = reads.stage_requests(con, start, NOW)
        gaps = reads.websocket_gaps(con, start, NOW)
    cat = load_catalog()
    recs = cache(empty_inputs(s), s, cat, cands, stages)
    assert len(recs) == 1
    r = recs[0]
    assert r.expected_impact["hit_ratio"] == round(9 / 20, 4)            # 9 repeats of 20 GETs
    assert r.params == {"api": "pets", "stage": "prod", "route": None, "cache_enabled": True,
                        "cache_size_gb": 0.5, "ttl_s": 300}
    assert "45% repeat" in r.rationale and "95% of requests are GETs" in r.rationale
    assert check_change("cache", None, r.params, s) == []
    (w,) = websocket(empty_inputs(s), s, cat, gaps)
    assert w.params["idle_timeout_s"] == 99                              # 90 % quantile of nine 10 s gaps and one 900 s
    assert w.expected_impact["connection_minutes_saved"] == round((900 - 99) / 60, 2)
    assert check_change("websocket", None, w.params, s) == []
    # a stage that is not read-heavy gets no cache advice
    assert cache(empty_inputs(s), s, cat, cands, stages.assign(requests=stages["requests"] * 10)) == []
