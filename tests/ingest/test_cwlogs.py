"""cwlogs://GROUP through a real moto server: incremental by event time, exact at the boundary ms."""

from __future__ import annotations

import json
import time

import pytest

from forecaster.errors import SourceError
from forecaster.ingest import ingest
from forecaster.ingest.cwlogs import parse_cwlogs_uri
from forecaster.store import connect
from forecaster.store.db import run

# CloudWatch Logs (and moto) refuse events older than 14 days: times are relative to now, whole minutes.
BASE_MS = (int(time.time() * 1000) // 60_000 - 120) * 60_000


def rest_line(rid: str, ts_ms: int) -> str:
    return json.dumps({
        "requestId": rid, "ip": "192.0.2.1", "requestTimeEpoch": str(ts_ms), "httpMethod": "GET",
        "resourcePath": "/pets/{petId}", "path": "/pets/1", "status": "200", "responseLength": "100",
        "responseLatency": "30", "integrationLatency": "25", "apiId": "api1", "stage": "prod",
    })


@pytest.fixture
def con(tmp_path):
    c = connect(tmp_path / "cw.duckdb")
    yield c
    c.close()


@pytest.fixture
def group(aws_client, aws_name):
    logs = aws_client("logs")
    name = f"/aws/apigateway/{aws_name}"
    logs.create_log_group(logGroupName=name)
    logs.create_log_stream(logGroupName=name, logStreamName="web-1")
    return name


def put(aws_client, group: str, events: list[tuple[str, int]], stream: str = "web-1") -> None:
    aws_client("logs").put_log_events(
        logGroupName=group, logStreamName=stream,
        logEvents=[{"timestamp": ts, "message": rest_line(rid, ts)} for rid, ts in events])


def request_ids(con) -> list[str]:
    return [r[0] for r in run(con, "SELECT request_id FROM requests ORDER BY request_id")]


def test_each_run_reads_only_new_events_and_the_boundary_ms_is_exact(con, aws_client, aws_settings, group):
    edge = BASE_MS + 10_000
    batch1 = [(f"a{i}", BASE_MS + i * 1000) for i in range(10)] + [("edge-1", edge), ("edge-2", edge)]
    put(aws_client, group, batch1)
    uri = f"cwlogs://{group}"
    r1 = ingest(con, [uri], aws_settings)
    assert (r1.sources, r1.rows_loaded, r1.rows_duplicate) == (1, 12, 0)
    assert r1.by_source[0].uri == f"{uri}#{BASE_MS}-{edge}"
    cursor = json.loads(run(con, "SELECT cursor FROM sources")[0][0])
    assert cursor["ts_ms"] == edge and len(cursor["ids"]) == 2

    # batch 2 starts AT the boundary millisecond: one more event there, then later ones
    batch2 = [("edge-3", edge)] + [(f"b{i}", edge + 1 + i * 1000) for i in range(5)]
    put(aws_client, group, batch2)
    r2 = ingest(con, [uri], aws_settings)
    assert (r2.sources, r2.rows_loaded, r2.rows_duplicate) == (1, 6, 0)   # nothing read twice
    assert r2.by_source[0].uri == f"{uri}#{edge}-{edge + 4001}"
    assert request_ids(con) == sorted([rid for rid, _ in batch1 + batch2])  # nothing lost

    r3 = ingest(con, [uri], aws_settings)
    assert (r3.sources, r3.rows_loaded) == (0, 0)
    assert run(con, "SELECT count(*) FROM sources")[0][0] == 2


def test_more_events_at_the_cursor_ms_only_extend_its_ids(con, aws_client, aws_settings, group):
    t = BASE_MS + 5000
    put(aws_client, group, [("x1", t)])
    ingest(con, [f"cwlogs://{group}"], aws_settings)
    put(aws_client, group, [("x2", t)])
    r = ingest(con, [f"cwlogs://{group}"], aws_settings)
    assert (r.rows_loaded, r.rows_duplicate) == (1, 0)
    last = json.loads(run(con, "SELECT cursor FROM sources ORDER BY source_id DESC LIMIT 1")[0][0])
    assert last["ts_ms"] == t and len(last["ids"]) == 2
    assert ingest(con, [f"cwlogs://{group}"], aws_settings).sources == 0


def test_stream_prefix_start_end_and_multiline_messages(con, aws_client, aws_settings, group):
    logs = aws_client("logs")
    logs.create_log_stream(logGroupName=group, logStreamName="batch-1")
    put(aws_client, group, [(f"w{i}", BASE_MS + i * 1000) for i in range(6)])
    put(aws_client, group, [("other", BASE_MS + 2000)], stream="batch-1")
    pretty = json.dumps(json.loads(rest_line("pretty", BASE_MS + 7000)), indent=2)   # a message over 9 lines
    logs.put_log_events(logGroupName=group, logStreamName="web-1",
                        logEvents=[{"timestamp": BASE_MS + 7000, "message": pretty + "\n"}])
    r = ingest(con, [f"cwlogs://{group}?stream=web&start={BASE_MS + 2000}&end={BASE_MS + 7000}"], aws_settings)
    assert (r.rows_loaded, r.rows_rejected) == (5, 0)
    assert request_ids(con) == ["pretty", "w2", "w3", "w4", "w5"]
    assert r.by_source[0].uri == f"cwlogs://{group}?stream=web#{BASE_MS + 2000}-{BASE_MS + 7000}"


def test_missing_log_group_and_bad_uris_are_source_errors(con, aws_settings, group):
    with pytest.raises(SourceError) as e:
        ingest(con, [f"cwlogs://{group}-missing", f"cwlogs://{group}?since=1"], aws_settings)
    assert f"no such log group '{group}-missing'" in str(e.value)
    assert "unknown parameter(s) since" in str(e.value)
    with pytest.raises(SourceError, match="neither an ISO 8601 time"):
        parse_cwlogs_uri("cwlogs://g?start=yesterday")
    assert parse_cwlogs_uri("cwlogs://g?start=2026-11-18T09:46:40Z").start_ms == 1_794_995_200_000
    q = parse_cwlogs_uri("cwlogs://g?start=2026-11-18T10:46:40+01:00&end=1794995200001")
    assert (q.start_ms, q.end_ms) == (1_794_995_200_000, 1_794_995_200_001)
