"""CloudWatch Logs subscription records (Firehose output) from local disk and from S3 (moto server)."""

from __future__ import annotations

import gzip
import io
import json
import logging

import pytest

from forecaster.ingest import ingest
from forecaster.ingest.cwrecords import RecordStreamError, event_line, iter_records
from forecaster.ingest.sources import expand
from forecaster.store import connect
from forecaster.store.db import run

T0 = 1_795_000_000_000


def rest_line(rid: str, ts_ms: int) -> str:
    return json.dumps({
        "requestId": rid, "ip": "192.0.2.1", "requestTimeEpoch": str(ts_ms), "httpMethod": "GET",
        "resourcePath": "/pets/{petId}", "path": "/pets/1", "status": "200", "responseLength": "100",
        "responseLatency": "30", "integrationLatency": "25", "apiId": "api1", "stage": "prod",
    })


def data_message(rids: list[str], stream: str = "web-1") -> dict:
    return {
        "messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "API-Gateway-Execution-Logs",
        "logStream": stream, "subscriptionFilters": ["to-firehose"],
        "logEvents": [{"id": f"3{i:055d}", "timestamp": T0 + i, "message": rest_line(r, T0 + i * 1000)}
                      for i, r in enumerate(rids)],
    }


CONTROL = {"messageType": "CONTROL_MESSAGE", "owner": "CloudwatchLogs", "logGroup": "", "logStream": "",
           "subscriptionFilters": [], "logEvents": [
               {"id": "", "timestamp": T0, "message": "CWL CONTROL MESSAGE: Checking health of destination Firehose."}]}


def firehose_bytes() -> tuple[bytes, list[str]]:
    """Three DATA_MESSAGE records and a CONTROL_MESSAGE, each gzip'd, concatenated with no separator."""
    recs = [data_message([f"a{i}" for i in range(5)]), CONTROL,
            data_message([f"b{i}" for i in range(3)], stream="web-2"), data_message([f"c{i}" for i in range(4)])]
    rids = [e["message"] for r in recs if r["messageType"] == "DATA_MESSAGE" for e in r["logEvents"]]
    return b"".join(gzip.compress(json.dumps(r).encode()) for r in recs), [json.loads(m)["requestId"] for m in rids]


@pytest.fixture
def con(tmp_path):
    c = connect(tmp_path / "fh.duckdb")
    yield c
    c.close()


def test_firehose_file_from_disk_unpacks_every_event_and_counts_control_messages(con, tmp_path, caplog):
    data, rids = firehose_bytes()
    f = tmp_path / "firehose-1-2026-11-18-09-46-40-abc"     # Firehose object names carry no .gz
    f.write_bytes(data)
    with caplog.at_level(logging.INFO, logger="forecaster.ingest.cwrecords"):
        r = ingest(con, [str(f)])
    assert (r.rows_loaded, r.rows_rejected, r.by_source[0].format) == (12, 0, "apigw_rest_json")
    assert sorted(x[0] for x in run(con, "SELECT request_id FROM requests")) == sorted(rids)
    assert "3 DATA_MESSAGE record(s) unpacked to 12 log event line(s); skipped 1 CONTROL_MESSAGE" in caplog.text
    [src] = expand([str(f)])
    with src.open() as s:
        lines = s.read().splitlines()
    assert len(lines) == 12 and src.extra["cwrecords"] == {"records": 3, "events": 12, "control_messages": 1,
                                                            "other_records": 0}


def test_firehose_gzip_over_gzip_and_a_damaged_tail(con, tmp_path):
    data, _ = firehose_bytes()
    (tmp_path / "double.gz").write_bytes(gzip.compress(data))   # the delivery stream compresses again
    r = ingest(con, [str(tmp_path / "double.gz")])
    assert (r.rows_loaded, r.rows_rejected) == (12, 0)
    bad = gzip.compress(json.dumps(data_message(["d0", "d1"])).encode()) + gzip.compress(b'{"messageType": "DATA_M')
    (tmp_path / "bad").write_bytes(bad)
    [src] = expand([str(tmp_path / "bad")])
    with src.open() as s:                      # the events before the damage come first, then the error
        assert s.readline().startswith(b'{"requestId": "d0"') and s.readline().startswith(b'{"requestId": "d1"')
        with pytest.raises(RecordStreamError, match="not valid JSON"):
            s.read()
        with pytest.raises(RecordStreamError):
            s.read()
    r = ingest(con, [str(tmp_path / "bad")])
    assert r.rows_rejected == 1   # the damage is one reject; the rows before it: see chunks._fill
    [(reason,)] = run(con, "SELECT reason FROM rejects")
    assert "subscription record at character" in reason and "not valid JSON" in reason


def test_firehose_object_from_s3(con, aws_client, aws_settings, aws_name):
    s3 = aws_client("s3")
    s3.create_bucket(Bucket=aws_name)
    data, rids = firehose_bytes()
    s3.put_object(Bucket=aws_name, Key="firehose/2026/11/18/09/stream-1-2026-11-18-09-46-40-abc", Body=data)
    r = ingest(con, [f"s3://{aws_name}/firehose/"], aws_settings)
    assert (r.rows_loaded, r.rows_rejected) == (12, 0)
    assert sorted(x[0] for x in run(con, "SELECT request_id FROM requests")) == sorted(rids)
    assert ingest(con, [f"s3://{aws_name}/firehose/"], aws_settings).by_source[0].status == "skipped"


def test_record_reader_uses_a_rolling_buffer(monkeypatch):
    import forecaster.ingest.cwrecords as cw

    monkeypatch.setattr(cw, "READ_BYTES", 7)   # records cut anywhere, even inside a UTF-8 character
    recs = [{"messageType": "DATA_MESSAGE", "logEvents": [{"message": "é" * n}]} for n in range(1, 20)]
    stream = io.BytesIO(b"\n".join(json.dumps(r, ensure_ascii=False).encode() for r in recs))
    assert list(iter_records(stream)) == recs
    with pytest.raises(RecordStreamError, match="is a JSON list"):
        list(iter_records(io.BytesIO(b'{"a": 1} [1]')))
    with pytest.raises(RecordStreamError, match="not valid JSON"):
        list(iter_records(io.BytesIO(b'{"a": 1} {"b": '), max_record_bytes=4))


def test_event_line_keeps_one_event_on_one_line():
    assert event_line('{\n  "a": 1\r\n}\n') == b'{   "a": 1 }\n'
    assert event_line("plain") == b"plain\n"


def test_firehose_records_on_stdin(con):
    data, _ = firehose_bytes()
    r = ingest(con, ["-"], stdin=io.BytesIO(data))
    assert (r.rows_loaded, r.rows_rejected) == (12, 0)


def test_a_gzip_cut_short_still_yields_the_records_before_the_cut(tmp_path):
    recs = [data_message([f"e{i}{j}" for j in range(3)]) for i in range(3)]
    raw = "".join(json.dumps(r) for r in recs).encode()
    (tmp_path / "cut").write_bytes(gzip.compress(raw)[:-12])     # the gzip trailer and some data are gone
    [src] = expand([str(tmp_path / "cut")])
    got: list[bytes] = []
    with src.open() as s, pytest.raises((EOFError, OSError)):
        while True:
            line = s.readline()
            if not line:
                break
            got.append(line)
    assert len(got) >= 6 and all(b'"requestId": "e' in ln for ln in got)
