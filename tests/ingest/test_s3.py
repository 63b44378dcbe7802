"""s3://bucket/prefix through a real moto server: streamed, gzip by magic, incremental by key + ETag."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys

import pytest

from forecaster.errors import SourceError
from forecaster.ingest import ingest
from forecaster.ingest.sources import expand
from forecaster.store import connect
from forecaster.store.db import run

T0 = 1_795_000_000_000  # 2026-11-18T09:46:40Z, in ms


def rest_line(i: int, ts_ms: int, status: int = 200) -> str:
    return json.dumps({
        "requestId": f"req-{i}", "ip": "192.0.2.1", "requestTimeEpoch": str(ts_ms),
        "httpMethod": "GET", "resourcePath": "/pets/{petId}", "path": f"/pets/{i}",
        "status": str(status), "responseLength": "100", "responseLatency": "30",
        "integrationLatency": "25", "apiId": "api1", "stage": "prod",
    })


def body(ids) -> bytes:
    return "".join(rest_line(i, T0 + i * 1000) + "\n" for i in ids).encode()


@pytest.fixture
def con(tmp_path):
    c = connect(tmp_path / "s3.duckdb")
    yield c
    c.close()


@pytest.fixture
def bucket(aws_client, aws_name):
    s3 = aws_client("s3")
    s3.create_bucket(Bucket=aws_name)
    return aws_name


def test_plain_and_gzip_objects_load_then_a_rerun_skips_all(con, aws_client, aws_settings, bucket):
    s3 = aws_client("s3")
    s3.put_object(Bucket=bucket, Key="logs/a.log", Body=body(range(0, 30)))
    s3.put_object(Bucket=bucket, Key="logs/b.log.whatever", Body=gzip.compress(body(range(30, 70))))  # gzip, no .gz
    s3.put_object(Bucket=bucket, Key="logs/sub/", Body=b"")           # console folder marker
    s3.put_object(Bucket=bucket, Key="logs/_SUCCESS", Body=b"")       # zero-byte job marker
    s3.put_object(Bucket=bucket, Key="other/c.log", Body=body(range(100, 110)))  # outside the prefix

    r1 = ingest(con, [f"s3://{bucket}/logs/"], aws_settings)
    assert [s.uri for s in r1.by_source] == [f"s3://{bucket}/logs/a.log", f"s3://{bucket}/logs/b.log.whatever"]
    assert [s.status for s in r1.by_source] == ["loaded", "loaded"]
    assert (r1.rows_loaded, r1.rows_rejected) == (70, 0)

    r2 = ingest(con, [f"s3://{bucket}/logs/"], aws_settings)
    assert [s.status for s in r2.by_source] == ["skipped", "skipped"]
    assert r2.rows_loaded == 0
    assert run(con, "SELECT count(*) FROM requests")[0][0] == 70
    etags = run(con, "SELECT uri, etag, size_bytes FROM sources ORDER BY uri")
    listed = {f"s3://{bucket}/{o['Key']}": (o["ETag"].strip('"'), o["Size"])
              for o in s3.list_objects_v2(Bucket=bucket, Prefix="logs/")["Contents"]}
    assert [(u, e, n) for u, e, n in etags] == [(u, *listed[u]) for u, _, _ in etags]


def test_an_overwritten_object_that_grew_loads_only_its_new_bytes(con, aws_client, aws_settings, bucket):
    s3 = aws_client("s3")
    s3.put_object(Bucket=bucket, Key="a.log", Body=body(range(0, 50)))
    r1 = ingest(con, [f"s3://{bucket}"], aws_settings)
    s3.put_object(Bucket=bucket, Key="a.log", Body=body(range(0, 80)))   # appended to: new ETag
    r2 = ingest(con, [f"s3://{bucket}"], aws_settings)
    assert r1.rows_loaded == 50
    assert (r2.by_source[0].status, r2.rows_loaded, r2.rows_duplicate) == ("loaded", 30, 0)
    assert r2.by_source[0].note.startswith(f"continues source {r1.by_source[0].source_id}")
    assert run(con, "SELECT count(*), count(DISTINCT request_id) FROM requests") == [(80, 80)]
    assert run(con, "SELECT sum(requests) FROM traffic_1m")[0][0] == 80
    rows = run(con, "SELECT uri, etag FROM sources ORDER BY source_id")
    assert len(rows) == 2 and rows[0][0] == rows[1][0] and rows[0][1] != rows[1][1]
    assert ingest(con, [f"s3://{bucket}"], aws_settings).rows_loaded == 0


def test_objects_are_streamed_in_reads_of_bounded_size(aws_client, aws_settings, bucket, monkeypatch):
    import botocore.response

    sizes: list[int | None] = []
    orig = botocore.response.StreamingBody.read

    def spy(self, amt=None):
        sizes.append(amt)
        return orig(self, amt)

    monkeypatch.setattr(botocore.response.StreamingBody, "read", spy)
    payload = body(range(2000))
    aws_client("s3").put_object(Bucket=bucket, Key="big.log", Body=payload)
    [src] = expand([f"s3://{bucket}/big.log"], aws_settings)
    with src.open() as f:
        assert f.read() == payload
    assert sizes and None not in sizes and max(sizes) <= 8 << 20


def test_missing_bucket_and_empty_prefix_are_source_errors(con, aws_client, aws_settings, bucket):
    with pytest.raises(SourceError) as e:
        ingest(con, [f"s3://{bucket}-missing/x", f"s3://{bucket}/nothing-here/"], aws_settings)
    msg = str(e.value)
    assert f"no such bucket '{bucket}-missing'" in msg
    assert f"s3://{bucket}/nothing-here/: no object under the prefix" in msg


@pytest.mark.slow   # a fresh interpreter imports everything: ~4 s
def test_cli_ingest_s3_json(aws_client, bucket, moto_endpoint, tmp_path):
    aws_client("s3").put_object(Bucket=bucket, Key="cli/a.log.gz", Body=gzip.compress(body(range(25))))
    env = {**os.environ, "FORECASTER_S3_ENDPOINT_URL": moto_endpoint, "FORECASTER_LOGS_ENDPOINT_URL": moto_endpoint,
           "FORECASTER_AWS_REGION": "us-east-1", "FORECASTER_DB": str(tmp_path / "cli.duckdb")}
    cmd = [sys.executable, "-m", "forecaster.cli", "ingest", f"s3://{bucket}/cli/", "--json"]
    out = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    rep = json.loads(out.stdout)
    assert (rep["sources"], rep["rows_loaded"]) == (1, 25)
    assert rep["by_source"][0]["uri"] == f"s3://{bucket}/cli/a.log.gz"
    assert rep["by_source"][0]["status"] == "loaded"
    assert "testing" not in out.stderr   # credentials never logged


def test_a_read_that_breaks_off_fails_the_object_and_the_next_run_reads_it(con, aws_client, aws_settings, bucket,
                                                                           monkeypatch):
    import botocore.response
    from botocore.exceptions import ResponseStreamingError

    s3 = aws_client("s3")
    s3.put_object(Bucket=bucket, Key="a.log", Body=body(range(40)))
    orig = botocore.response.StreamingBody.read
    calls = {"n": 0}

    def flaky(self, amt=None):
        calls["n"] += 1
        if calls["n"] > 1:
            raise ResponseStreamingError(error="Connection broken: IncompleteRead")
        return orig(self, 100)    # a little, then the connection drops

    monkeypatch.setattr(botocore.response.StreamingBody, "read", flaky)
    r1 = ingest(con, [f"s3://{bucket}"], aws_settings)
    assert r1.by_source[0].status == "failed" and "read broke off after 100 of" in r1.by_source[0].note
    assert run(con, "SELECT count(*) FROM sources")[0][0] == 0          # rolled back: no etag recorded
    monkeypatch.setattr(botocore.response.StreamingBody, "read", orig)
    r2 = ingest(con, [f"s3://{bucket}"], aws_settings)
    assert (r2.by_source[0].status, r2.rows_loaded) == ("loaded", 40)


def test_an_object_changed_after_listing_is_not_half_read(con, aws_client, aws_settings, bucket):
    s3 = aws_client("s3")
    s3.put_object(Bucket=bucket, Key="a.log", Body=body(range(10)))
    [src] = expand([f"s3://{bucket}/a.log"], aws_settings)
    s3.put_object(Bucket=bucket, Key="a.log", Body=body(range(20)))
    from forecaster.ingest.loader import load_source

    sr = load_source(con, src, aws_settings)
    assert sr.status == "failed" and "changed since it was listed" in sr.note
