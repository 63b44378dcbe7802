"""Many small sources per transaction: the same rows, rejects and per-source counts as loading them
one by one, all or nothing per batch, copies recognised without a parse. Real DuckDB files; the
reference is the same sources loaded each in its own transaction (``ingest_batch_files=0``)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from forecaster.config import Settings
from forecaster.ingest import batchload, ingest
from forecaster.ingest.forget import forget
from forecaster.store import connect
from forecaster.store.db import run

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "data" / "samples"
KINDS = ("alb.log", "apigw_http.log", "apigw_rest_clf.log", "apigw_rest_json.log", "apigw_websocket.log",
         "clf.log", "combined.log", "envoy.log", "kong.log", "kong_ai.log", "bedrock.log")
BAD = (b"garbage that is no log line\n", b"\xff\xfe not UTF-8\n", b"\n", b"   \n", b"x" * 3000 + b"\n",
       b'{"requestId": "r-bad", "status": "abc"}\n', b"[]\n")
# lines longer than 2 KB are rejected; sample rows dated after today are not (the samples reach past it)
SETTINGS = dict(ingest_max_line_kb=2, ingest_ts_future_days=3650)


def clf_line(i: int) -> bytes:
    return (f'192.0.2.{i % 250} - - [22/Nov/2026:{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d} +0000] '
            f'"GET /items/{i} HTTP/1.1" 200 {i}\n').encode()


def _pools() -> dict[str, list[bytes]]:
    return {k: (SAMPLES / k).read_bytes().splitlines(keepends=True) for k in KINDS}


def _later(line: bytes, days: int) -> bytes:
    """An API Gateway JSON line moved ``days`` later (same request id)."""
    o = json.loads(line)
    t = dt.datetime.strptime(o["requestTime"], "%d/%b/%Y:%H:%M:%S %z") + dt.timedelta(days=days)
    o["requestTime"] = t.strftime("%d/%b/%Y:%H:%M:%S %z")
    o["requestTimeEpoch"] = str(int(o["requestTimeEpoch"]) + days * 86_400_000)
    return json.dumps(o).encode() + b"\n"


def small_files(root: Path, n: int, seed: int) -> list[Path]:
    """``n`` seeded small logs of every line format, pieces of the samples (so request ids repeat
    across files), with bad lines, blanks, repeats and gzip, plus the awkward cases."""
    rng = random.Random(seed)
    pools = _pools()
    root.mkdir(parents=True, exist_ok=True)
    made: list[Path] = []

    def put(name: str, data: bytes) -> Path:
        p = root / name
        p.write_bytes(data)
        made.append(p)
        return p

    for k in range(n):
        kind = rng.choice(KINDS)
        pool = pools[kind]
        a = rng.randrange(len(pool))
        lines = list(pool[a:a + rng.randint(1, 25)])
        for _ in range(rng.choice((0, 0, 1, 2))):
            lines.insert(rng.randrange(len(lines) + 1), rng.choice(BAD))
        if rng.random() < 0.1:
            lines.append(rng.choice(lines))                 # a line twice in one file
        if kind == "clf.log" and rng.random() < 0.3:
            lines = [ln.replace(b'" 200 ', b'" 999 ') for ln in lines]   # parses, but no HTTP status
        data = b"".join(lines)
        if rng.random() < 0.15:
            put(f"{k:04d}-{kind}.gz", gzip.compress(data, mtime=0))
        else:
            put(f"{k:04d}-{kind}", data)
    clf = pools["clf.log"]
    rest = pools["apigw_rest_json.log"]
    base = put("0003-base.log", b"".join(clf[50:65])).read_bytes()
    put("0003a-copy", base)                                      # a copy in the same batch
    put("0005-grown.log", b"".join(clf[:12]))
    put("0005a-grown.log", b"".join(clf[:20]))                   # the same 12 lines and 8 more: continues it
    put("0007-ids.json", b"".join(rest[:5]))
    put("0007a-ids-later.json", _later(rest[0], 2) + _later(rest[10], 2))   # a known id, outside its time span
    put("0007b-ids-again.json", rest[1][:-1] + b" \n" + rest[11])          # a known id, inside it
    put("zz-copy-of-0003", base)                                 # a copy in a later batch
    put("zz-gz-copy.gz", gzip.compress(base, mtime=0))           # the same lines, gzipped
    put("zz-empty.log", b"")
    put("zz-blank.log", b"\n  \n\n")
    put("zz-only-bad.log", b"".join(ln.replace(b'" 200 ', b'" 999 ') for ln in clf[30:35]) + BAD[0] + BAD[1])
    many = gzip.compress(b"".join(clf_line(i) for i in range(3000)), mtime=0)
    put("zz-truncated.log.gz", many[: len(many) * 2 // 3])      # whole lines before the damage load
    put("zz-cut-header.gz", many[:6])
    put("zz-unfinished.log", b"".join(clf[80:90]) + clf[90].rstrip(b"\n"))   # a line still being written
    put("zz-counts.csv", b"".join((SAMPLES / "counts.csv").read_bytes().splitlines(keepends=True)[:30]))
    put("zz-hello.txt", b"hello world\n" * 5)                    # no format: fails alone
    return made


def snapshot(con, report) -> dict:
    """Everything a load leaves behind, keyed so two loads of the same sources compare equal."""
    return {
        "report": [(s.uri, s.status, s.source_id, s.format, s.rows_loaded, s.rows_rejected, s.rows_duplicate,
                    s.lines_blank, s.requests_counted, s.bytes, s.note) for s in report.by_source],
        "sources": run(con, """SELECT source_id, uri, size_bytes, mtime, checksum, format, rows_loaded, rows_rejected,
                                      rows_duplicate, lines_blank, requests_counted, offset_bytes, loaded_bytes,
                                      lines_total, head_sha256, parent_id, tail_bytes FROM sources ORDER BY source_id"""),
        "requests": run(con, "SELECT * FROM requests ORDER BY source_id, line_no"),
        "rejects": run(con, "SELECT * FROM rejects ORDER BY source_id, line_no, reason"),
        "source_counts": run(con, "SELECT * FROM source_counts ORDER BY ALL"),
        "route_paths": run(con, "SELECT api, path, route FROM route_paths ORDER BY ALL"),
        "route_path_counts": run(con, "SELECT source_id, api, path, requests, not_found FROM route_path_counts ORDER BY ALL"),
        "rollups": rollup_counts(con),
    }


def rollup_counts(con) -> list[tuple]:
    """The rollups' counts and sums (percentiles of a minute two sources share are merged one by
    one, computed at once in a batch)."""
    return run(con, """SELECT ts, api, stage, route, region, api_type, requests, status_4xx, status_5xx, bytes_out,
                              latency_n, round(latency_ms_sum, 6), integration_n, round(integration_ms_sum, 6),
                              round(billed_ms_sum, 6) FROM traffic_1m ORDER BY ALL""")


def load(db: Path, uris: list[str], **kw):
    con = connect(db)
    try:
        report = ingest(con, uris, Settings(**{**SETTINGS, **kw}))
        return snapshot(con, report), report
    finally:
        con.close()


@pytest.fixture
def batches(monkeypatch):
    """The size of every batch loaded (so a test knows the batched path ran)."""
    sizes: list[int] = []
    real = batchload.load_batch

    def spy(con, loads, *a, **k):
        sizes.append(len(loads))
        return real(con, loads, *a, **k)

    monkeypatch.setattr(batchload, "load_batch", spy)
    monkeypatch.setattr("forecaster.ingest.batch.load_batch", spy)
    return sizes


@pytest.mark.slow
def test_a_batch_loads_what_one_by_one_loads(tmp_path, batches):
    files = small_files(tmp_path / "logs", 220, seed=11)
    uris = [str(tmp_path / "logs")]
    one, one_report = load(tmp_path / "one.duckdb", uris, ingest_batch_files=0)
    assert not batches
    many, many_report = load(tmp_path / "many.duckdb", uris, ingest_batch_files=64)
    assert len(batches) >= 4 and sum(batches) > 150   # batched (model-call logs stream: a batch ends before each)
    for key in one:
        assert many[key] == one[key], key
    # the awkward cases came out as they should (and equal, above)
    by = {Path(s.uri).name: s for s in many_report.by_source}
    assert len(by) == len(files)
    assert by["0003a-copy"].status == by["zz-copy-of-0003"].status == by["zz-gz-copy.gz"].status == "skipped"
    assert by["0005a-grown.log"].rows_loaded == 8 and "continues source" in by["0005a-grown.log"].note
    assert (by["0007a-ids-later.json"].rows_loaded, by["0007a-ids-later.json"].rows_duplicate) == (2, 0)
    assert (by["0007b-ids-again.json"].rows_loaded, by["0007b-ids-again.json"].rows_duplicate) == (1, 1)
    assert (by["zz-empty.log"].status, by["zz-empty.log"].rows_loaded) == ("loaded", 0)
    assert by["zz-blank.log"].lines_blank == 3
    assert (by["zz-only-bad.log"].format, by["zz-only-bad.log"].rows_loaded, by["zz-only-bad.log"].rows_rejected) \
        == ("clf", 0, 7)
    assert by["zz-truncated.log.gz"].rows_loaded > 0 and by["zz-truncated.log.gz"].rows_rejected >= 1
    assert by["zz-cut-header.gz"].status == "failed" and by["zz-hello.txt"].status == "failed"
    assert by["zz-unfinished.log"].rows_loaded == 10 and "unfinished last line" in by["zz-unfinished.log"].note
    assert by["zz-counts.csv"].format == "counts" and by["zz-counts.csv"].requests_counted > 0
    assert sum(s.rows_duplicate for s in many_report.by_source) > 5   # ids repeat across the pieces
    assert sum(s.rows_rejected for s in many_report.by_source) > 50

    # a second run adds nothing, and never parses
    batches.clear()
    again, again_report = load(tmp_path / "many.duckdb", uris, ingest_batch_files=64)
    assert not batches and again_report.rows_loaded == 0
    assert {s.status for s in again_report.by_source} <= {"skipped", "failed"}
    for key in ("sources", "requests", "rejects", "rollups"):
        assert again[key] == many[key], key


def _clf_files(root: Path, n: int) -> list[str]:
    clf = _pools()["clf.log"]
    root.mkdir(parents=True, exist_ok=True)
    for k in range(n):
        lines = [clf[(k * 7 + i) % len(clf)] for i in range(3 + k % 5)] + ([b"broken line\n"] if k % 4 == 0 else [])
        (root / f"{k:03d}.log").write_bytes(b"".join(lines))
    return [str(root)]


@pytest.mark.parametrize("error", [RuntimeError("power cut"), KeyboardInterrupt()])
def test_a_failure_mid_batch_rolls_the_batch_back_and_the_rerun_is_exact(tmp_path, monkeypatch, batches, error):
    uris = _clf_files(tmp_path / "logs", 60)
    reference, _ = load(tmp_path / "ref.duckdb", uris, ingest_batch_files=0)
    real, calls = batchload.rollups.fold_table, []

    def failing(*a, **k):
        calls.append(1)
        real(*a, **k)
        if len(calls) == 3:
            raise error

    monkeypatch.setattr(batchload.rollups, "fold_table", failing)
    db = tmp_path / "t.duckdb"
    with pytest.raises(type(error)):
        load(db, uris, ingest_batch_files=16)
    con = connect(db)
    try:   # two whole batches committed, nothing of the third
        assert run(con, "SELECT count(*), min(source_id), max(source_id) FROM sources")[0] == (32, 1, 32)
        for table in ("requests", "rejects"):
            assert run(con, f"SELECT count(*) FROM {table} WHERE source_id > 32")[0][0] == 0
        assert run(con, "SELECT sum(requests) FROM traffic_1m")[0][0] == run(con, "SELECT count(*) FROM requests")[0][0]
    finally:
        con.close()
    monkeypatch.setattr(batchload.rollups, "fold_table", real)
    again, report = load(db, uris, ingest_batch_files=16)
    assert [s.status for s in report.by_source].count("loaded") == 28
    for key in ("sources", "requests", "rejects", "rollups"):
        assert again[key] == reference[key], key


def test_a_batch_whose_sql_fails_loads_its_sources_one_by_one(tmp_path, monkeypatch, batches):
    uris = _clf_files(tmp_path / "logs", 30)
    reference, ref_report = load(tmp_path / "ref.duckdb", uris, ingest_batch_files=0)

    def broken(*a, **k):
        raise duckdb.IOException("disk full")

    monkeypatch.setattr(batchload.store_sources, "insert_many", broken)
    got, report = load(tmp_path / "t.duckdb", uris, ingest_batch_files=8)
    assert batches and all(s.status == "loaded" for s in report.by_source)
    for key in reference:
        assert got[key] == reference[key], key


def test_a_copy_is_skipped_without_a_parse_in_its_batch_and_after(tmp_path, monkeypatch):
    uris = _clf_files(tmp_path / "logs", 6)
    shutil.copy(tmp_path / "logs" / "002.log", tmp_path / "logs" / "002a-copy.log")
    parsed: list[list[int]] = []
    real = batchload._parse

    def spy(con, groups, *a, **k):
        parsed.append(sorted(ld.sr.source_id for g in groups.values() for ld in g))
        return real(con, groups, *a, **k)

    monkeypatch.setattr(batchload, "_parse", spy)
    _, report = load(tmp_path / "t.duckdb", uris)
    by = {Path(s.uri).name: s for s in report.by_source}
    assert by["002a-copy.log"].status == "skipped" and by["002a-copy.log"].source_id == by["002.log"].source_id
    assert parsed == [[1, 2, 3, 4, 5, 6]]                       # one parse, six sources, not the copy
    shutil.copy(tmp_path / "logs" / "004.log", tmp_path / "logs" / "zz-later-copy.log")
    parsed.clear()
    _, report = load(tmp_path / "t.duckdb", uris)
    assert parsed == [] and {s.status for s in report.by_source} == {"skipped"}


def test_forget_removes_one_source_of_a_batch_exactly(tmp_path):
    uris = _clf_files(tmp_path / "logs", 20)
    con = connect(tmp_path / "t.duckdb")
    try:
        ingest(con, uris, Settings(**SETTINGS))
        rep = forget(con, str(tmp_path / "logs" / "004.log"))
        assert rep.requests > 0 and rep.rejects == 1
        (tmp_path / "logs" / "004.log").unlink()
        after = (run(con, "SELECT * FROM requests ORDER BY source_id, line_no"),
                 run(con, "SELECT * FROM rejects ORDER BY source_id, line_no"), rollup_counts(con))
    finally:
        con.close()
    ref = connect(tmp_path / "ref.duckdb")
    try:   # the 19 others, loaded one by one with the same source ids (004.log's id left out)
        ingest(ref, [str(p) for p in sorted((tmp_path / "logs").iterdir()) if p.name < "004"], Settings(**SETTINGS))
        run(ref, "INSERT INTO sources (source_id, uri, loaded_at) VALUES (5, 'gap', now())")
        ingest(ref, [str(p) for p in sorted((tmp_path / "logs").iterdir()) if p.name > "004"],
               Settings(**SETTINGS, ingest_batch_files=0))
        want = (run(ref, "SELECT * FROM requests ORDER BY source_id, line_no"),
                run(ref, "SELECT * FROM rejects ORDER BY source_id, line_no"), rollup_counts(ref))
    finally:
        ref.close()
    assert after == want


_KILL_SCRIPT = """
import sys, time
from forecaster.config import Settings
from forecaster.ingest import batchload, ingest
from forecaster.store import connect

real, calls = batchload.rollups.fold_table, []

def slow(*a, **k):
    real(*a, **k)
    calls.append(1)
    if len(calls) == 3:
        print("mid-batch", flush=True)
        time.sleep(120)

batchload.rollups.fold_table = slow
ingest(connect(sys.argv[1]), [sys.argv[2]],
       Settings(ingest_batch_files=10, ingest_max_line_kb=2, ingest_ts_future_days=3650))
"""


@pytest.mark.slow
def test_kill_9_mid_batch_leaves_no_partial_source_and_a_rerun_loads_the_rest(tmp_path):
    uris = _clf_files(tmp_path / "logs", 40)
    reference, _ = load(tmp_path / "ref.duckdb", uris, ingest_batch_files=0)
    db = tmp_path / "t.duckdb"
    proc = subprocess.Popen([sys.executable, "-c", _KILL_SCRIPT, str(db), uris[0]], stdout=subprocess.PIPE,
                            text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "mid-batch"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    con = connect(db)
    try:   # the third batch's rows were written but never committed: none of it is there
        assert run(con, "SELECT count(*), max(source_id) FROM sources")[0] == (20, 20)
        assert run(con, "SELECT count(*) FROM requests WHERE source_id > 20")[0][0] == 0
        assert run(con, "SELECT count(*) FROM rejects WHERE source_id > 20")[0][0] == 0
        assert run(con, "SELECT sum(requests) FROM traffic_1m")[0][0] == run(con, "SELECT count(*) FROM requests")[0][0]
        report = ingest(con, uris, Settings(**SETTINGS, ingest_batch_files=10))
        assert [s.status for s in report.by_source].count("loaded") == 20
        got = snapshot(con, report)
    finally:
        con.close()
    for key in ("sources", "requests", "rejects", "rollups"):
        assert got[key] == reference[key], key


def test_small_s3_objects_load_in_batches_as_one_by_one(tmp_path, aws_client, aws_settings, aws_name, batches):
    s3 = aws_client("s3")
    s3.create_bucket(Bucket=aws_name)
    rng, pools = random.Random(5), _pools()
    for k in range(40):
        pool = pools[rng.choice(("apigw_rest_json.log", "alb.log", "clf.log"))]
        a = k * 13 % len(pool)         # pieces overlap (ids repeat) but never start alike (no resumes)
        data = b"".join(pool[a:a + rng.randint(1, 20)]) + (BAD[0] if k % 5 == 0 else b"")
        s3.put_object(Bucket=aws_name, Key=f"exports/{k:03d}.log", Body=gzip.compress(data, mtime=0) if k % 3 else data)
    uri = f"s3://{aws_name}/exports/"

    def load_s3(db: Path, **kw):
        con = connect(db)
        try:
            report = ingest(con, [uri], aws_settings.model_copy(update={**SETTINGS, **kw}))
            return snapshot(con, report), report
        finally:
            con.close()

    one, _ = load_s3(tmp_path / "one.duckdb", ingest_batch_files=0)
    assert not batches
    many, report = load_s3(tmp_path / "many.duckdb")
    assert batches == [39] and report.rows_duplicate > 0 and report.rows_rejected >= 7   # one fails: no format
    for key in one:
        assert many[key] == one[key], key
    batches.clear()
    _, again = load_s3(tmp_path / "many.duckdb")             # every object known by key + ETag
    assert not batches and [s.status for s in again.by_source].count("skipped") == 39


def test_routes_mined_over_a_batch_are_those_mined_one_by_one(tmp_path, batches):
    from forecaster.samples.data_api import data_api_log

    lines = data_api_log(seed=3, lines=3000, datasets=600)
    root = tmp_path / "logs"
    root.mkdir()
    for k in range(0, len(lines), 50):   # 60 objects of 50 lines, as a delivery stream would cut them
        (root / f"{k // 50:03d}.log").write_text("".join(lines[k:k + 50]))
    one, _ = load(tmp_path / "one.duckdb", [str(root)], ingest_batch_files=0)
    many, _ = load(tmp_path / "many.duckdb", [str(root)], ingest_batch_files=20)
    assert batches == [20, 20, 20]
    for key in one:
        assert many[key] == one[key], key
    routes = {r[3] for r in one["rollups"]}
    assert any("{name}" in r for r in routes) and len(routes) < 60   # mined into templates, not 1,000 keys
