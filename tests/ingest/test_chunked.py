"""Loading chunk by chunk gives what one pass over the whole source would.

Rollups folded per chunk (with the minutes two chunks shared refolded at the end) equal a
whole-source fold; duplicates are caught across chunks (first line kept) and a hash hit alone
never drops a row; requests are appended in whole row groups.
"""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from forecaster.config import Settings
from forecaster.ingest import dedupe, ingest, rollups
from forecaster.ingest.appender import ROW_GROUP_ROWS, Appender
from forecaster.store.db import connect, run

T0 = 1_795_000_000_000   # epoch ms; 2026-11-18T09:46:40Z
ROUTES = ("/pets/{petId}", "/orders", "/orders/{id}", "/cart")
SMALL_CHUNKS = Settings(ingest_chunk_mb=1)
ONE_CHUNK = Settings(ingest_chunk_mb=64)

EXACT = ("requests", "status_4xx", "status_5xx", "bytes_out", "latency_n", "integration_n",
         "latency_p50_ms", "latency_p95_ms", "latency_p99_ms", "api_type")
SUMS = ("latency_ms_sum", "integration_ms_sum", "billed_ms_sum")


def line(i: int, ms: int, rid: str | None = None) -> str:
    rng = random.Random(i)
    d = {"requestId": rid if rid is not None else f"req-{i}", "requestTimeEpoch": str(ms), "httpMethod": "GET",
         "resourcePath": ROUTES[i % len(ROUTES)], "status": str(rng.choice((200, 200, 200, 404, 503))),
         "responseLength": str(rng.randint(10, 5000)), "responseLatency": str(rng.randint(1, 900)),
         "integrationLatency": f"{rng.uniform(0.5, 800):.3f}", "apiId": "api1", "stage": "prod",
         "pad": "x" * 150}   # ~2.5 MB for 8000 lines: several 1 MB chunks
    return json.dumps(d) + "\n"


def log_lines(n: int, start_ms: int = T0, per_minute: int = 700, shuffle: bool = False) -> list[str]:
    """``n`` lines, ``per_minute`` a minute (so a minute spans a chunk boundary), optionally shuffled."""
    out = [line(i, start_ms + i * 60_000 // per_minute) for i in range(n)]
    if shuffle:
        random.Random(7).shuffle(out)
    return out


def rollup_rows(con) -> dict:
    rows = con.execute(f"SELECT api, stage, route, region, ts, {', '.join(EXACT + SUMS)} FROM traffic_1m").fetchall()
    return {r[:5]: r[5:] for r in rows}


def assert_same_rollups(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        exact_a, exact_b = a[k][:len(EXACT)], b[k][:len(EXACT)]
        assert exact_a == exact_b, k
        assert a[k][len(EXACT):] == pytest.approx(b[k][len(EXACT):], rel=1e-12), k


def load(tmp_path, name: str, files: list[list[str]], settings: Settings):
    con = connect(tmp_path / f"{name}.duckdb")
    reports = []
    for j, lines in enumerate(files):
        p = tmp_path / f"{name}-{j}.log"
        p.write_text("".join(lines))
        reports.append(ingest(con, [str(p)], settings).by_source[0])
    return con, reports


@pytest.mark.parametrize("shuffle", [False, True], ids=["time-ordered", "shuffled"])
def test_chunked_rollups_equal_a_whole_source_fold(tmp_path, shuffle):
    lines = log_lines(8000, shuffle=shuffle)
    chunked, (sr,) = load(tmp_path, "chunked", [lines], SMALL_CHUNKS)
    assert sr.status == "loaded" and sr.rows_loaded == 8000
    whole, (sr1,) = load(tmp_path, "whole", [lines], ONE_CHUNK)
    assert sr1.rows_loaded == 8000
    assert_same_rollups(rollup_rows(chunked), rollup_rows(whole))
    # ... and both equal the reference: every stored row of the source folded at once.
    got = rollup_rows(chunked)
    chunked.execute("DELETE FROM traffic_1m")
    assert rollups.fold_source(chunked, sr.source_id) == 8000
    assert_same_rollups(got, rollup_rows(chunked))


def test_chunk_boundary_minute_is_exact(tmp_path):
    # Two minutes, each split over the 1 MB chunk boundaries: percentiles must be those of all its rows.
    lines = log_lines(8000, per_minute=4000)
    con, (sr,) = load(tmp_path, "b", [lines], SMALL_CHUNKS)
    got = con.execute("""SELECT ts, route, latency_p50_ms, latency_p95_ms, latency_p99_ms FROM traffic_1m ORDER BY ALL""").fetchall()
    want = con.execute("""SELECT date_trunc('minute', ts), route, quantile_cont(latency_ms, 0.5),
                                 quantile_cont(latency_ms, 0.95), quantile_cont(latency_ms, 0.99)
                          FROM requests GROUP BY ALL ORDER BY ALL""").fetchall()
    assert got == want and len(got) == 3 * len(ROUTES)   # T0 is mid-minute: 8000 lines touch three


def test_chunked_rollups_merge_with_an_earlier_source_as_one_fold_would(tmp_path):
    # The second source shares minutes with the first, some of them split over its own chunks.
    first = log_lines(3000)
    second = [line(10_000 + i, T0 + 2 * 60_000 + i * 60_000 // 900) for i in range(8000)]
    chunked, reports = load(tmp_path, "chunked", [first, second], SMALL_CHUNKS)
    whole, reports1 = load(tmp_path, "whole", [first, second], ONE_CHUNK)
    assert [r.rows_loaded for r in reports] == [r.rows_loaded for r in reports1] == [3000, 8000]
    assert_same_rollups(rollup_rows(chunked), rollup_rows(whole))


def test_repeat_far_apart_keeps_the_first_line(tmp_path):
    lines = log_lines(8000)
    lines[7990] = line(7990, T0 + 1, rid="req-3")       # the id of line 4, in the last chunk
    lines[7991] = line(7991, T0 + 2, rid="req-7990b")
    lines[7992] = line(7992, T0 + 3, rid="req-7990b")   # a repeat inside one chunk too
    con, (sr,) = load(tmp_path, "r", [lines], SMALL_CHUNKS)
    assert (sr.rows_loaded, sr.rows_duplicate) == (7998, 2)
    assert con.execute("SELECT line_no FROM requests WHERE request_id IN ('req-3', 'req-7990b') ORDER BY 1"
                       ).fetchall() == [(4,), (7992,)]
    assert con.execute("SELECT sum(requests) FROM traffic_1m").fetchall() == [(7998,)]


def test_logged_id_equal_to_an_earlier_line_number_id_is_a_repeat(tmp_path):
    # The first chunks carry no request ids (ids from source and line number); a later line logs
    # '1:5' — the id line 5 got — so it repeats it.
    lines = [line(i, T0 + i, rid="") for i in range(8000)]
    lines[7000] = line(7000, T0 + 7000, rid="1:5")
    con, (sr,) = load(tmp_path, "g", [lines], SMALL_CHUNKS)
    assert sr.source_id == 1 and (sr.rows_loaded, sr.rows_duplicate) == (7999, 1)
    assert con.execute("SELECT line_no FROM requests WHERE request_id = '1:5'").fetchall() == [(5,)]


def test_a_hash_hit_alone_never_drops_a_row(tmp_path, monkeypatch):
    # Every id "seen" by its hash: only the exact check on the ids decides, and these are all new.
    monkeypatch.setattr(dedupe.SeenIds, "contains", lambda self, h: np.ones(len(h), dtype=bool))
    lines = log_lines(3000)
    con, (sr,) = load(tmp_path, "h", [lines], SMALL_CHUNKS)
    assert (sr.rows_loaded, sr.rows_duplicate) == (3000, 0)


def test_seen_ids():
    s = dedupe.SeenIds()
    s.add(np.array([5, 3, 3, 9], dtype=np.uint64))
    assert len(s) == 3
    assert s.contains(np.array([1, 3, 5, 9, 10], dtype=np.uint64)).tolist() == [False, True, True, True, False]
    s.add_sorted_new(np.array([4, 11], dtype=np.uint64))
    assert s.contains(np.array([4, 11, 12], dtype=np.uint64)).tolist() == [True, True, False]


def test_minute_ledger_marks_minutes_two_chunks_share():
    m = rollups.MinuteLedger()
    m.add(np.array([60, 120, 120]))
    m.add(np.array([120, 180]))
    m.add(np.array([600, 60]))
    assert m.split == {60, 120}


@pytest.mark.parametrize("sizes", [[100_000, 50_000, 200_000, 30_000, 10], [5_000] * 30, [300_000]])
def test_appends_are_whole_row_groups(tmp_path, sizes):
    con = connect(tmp_path / "a.duckdb")
    app = Appender(con, 1, "ts, api, api_type, stage, route, method, status, latency_ms, "
                           "integration_latency_ms, bytes_out, region, client, request_id")
    run(con, "BEGIN")
    first = 1
    for n in sizes:
        rel = con.sql(f"""SELECT range AS line_no, NULL::VARCHAR AS reason, TIMESTAMP '2026-11-22' AS ts, 'a' AS api,
                                 'rest' AS api_type, 'p' AS stage, 'GET /x' AS route, 'GET' AS method, 200::SMALLINT AS status,
                                 1.0 AS latency_ms, NULL::DOUBLE AS integration_latency_ms, 1::BIGINT AS bytes_out,
                                 'r' AS region, NULL::VARCHAR AS client, 'id-' || range AS request_id
                          FROM range({first}, {first + n})""").materialize()
        app.append(rel, "reason IS NULL AND line_no % 7 <> 0", n - len([x for x in range(first, first + n) if x % 7 == 0]))
        assert app.pending_rows < ROW_GROUP_ROWS
        first += n
    app.flush()
    app.drop_table()
    run(con, "COMMIT")
    total = sum(sizes)
    want = total - len([x for x in range(1, total + 1) if x % 7 == 0])
    assert con.execute("SELECT count(*), count(DISTINCT line_no) FROM requests").fetchall() == [(want, want)]
    groups = [r[0] for r in con.execute(
        "SELECT sum(count) FROM pragma_storage_info('requests') WHERE column_name = 'line_no' AND column_path = '[14]' "
        "GROUP BY row_group_id ORDER BY row_group_id"
    ).fetchall()]
    assert sum(groups) == want and all(g == ROW_GROUP_ROWS for g in groups[:-1])
    con.close()


def test_chunks_end_after_a_multiple_of_the_aligned_line_count():
    import io

    from forecaster.ingest.chunks import StreamStats, iter_chunks
    data = b"".join(b"line %d\n" % i for i in range(1000)) + b"tail without newline"
    chunks = list(iter_chunks(io.BytesIO(data), 700, StreamStats(), align_lines=7))
    sizes = [len(c) for c in chunks]
    assert len(chunks) > 3 and all(n % 7 == 0 for n in sizes[:-1])
    assert b"".join(b"".join(c.lines.to_pylist()) for c in chunks) == data
    assert [c.first_line_no for c in chunks] == [1 + sum(sizes[:i]) for i in range(len(sizes))]



def test_a_smaller_first_chunk_changes_only_where_the_first_cut_falls():
    import hashlib
    import io

    from forecaster.ingest.chunks import StreamStats, iter_chunks
    data = b"".join(b"line %d\n" % i for i in range(1000)) + b"tail without newline"
    whole, first = StreamStats(), StreamStats()
    plain = list(iter_chunks(io.BytesIO(data), 1400, whole, align_lines=7))
    early = list(iter_chunks(io.BytesIO(data), 1400, first, align_lines=7, first_chunk_bytes=350))
    sizes = [len(c) for c in early]
    assert sizes[0] < len(plain[0]) and all(n % 7 == 0 for n in sizes[:-1])
    assert b"".join(b"".join(c.lines.to_pylist()) for c in early) == data
    assert [c.first_line_no for c in early] == [1 + sum(sizes[:i]) for i in range(len(sizes))]
    assert first.lines == whole.lines == 1001 and first.checksum == whole.checksum == hashlib.sha256(data).hexdigest()

def test_line_ends_and_ascii_across_scan_blocks(monkeypatch):
    from forecaster.ingest import chunks
    monkeypatch.setattr(chunks, "_SCAN_BLOCK", 16)
    rng = random.Random(3)
    data = bytes(rng.choice(b"ab\n") for _ in range(1000))
    want = [i + 1 for i, b in enumerate(data) if b == 10]
    assert chunks.line_ends(data).tolist() == want
    assert chunks.is_ascii(data) and not chunks.is_ascii(data[:500] + "é".encode() + data[500:])
    assert chunks.line_ends(b"").tolist() == []


def test_read_buffers_are_reused_only_once_no_chunk_refers_to_them():
    import io

    from forecaster.ingest.chunks import StreamStats, iter_chunks
    data = b"".join(b"line %d\n" % i for i in range(5000))
    # Chunks kept by the caller keep their bytes: nothing is read into a buffer they use.
    kept = list(iter_chunks(io.BytesIO(data), 1000, StreamStats()))
    assert b"".join(b"".join(c.lines.to_pylist()) for c in kept) == data
    # Chunks dropped as they come: their buffers are read into again (a handful in all).
    owners, seen = set(), b""
    for c in iter_chunks(io.BytesIO(data), 1000, StreamStats()):
        seen += b"".join(c.lines.to_pylist())
        owners.add(c.lines.buffers()[2].address)
        del c
    assert seen == data and len(owners) <= 3


def test_an_oversize_line_head_is_only_its_own_bytes_in_a_reused_buffer():
    import io

    from forecaster.ingest.chunks import StreamStats, iter_chunks
    # Short lines first fill (and free) the read buffers with 'x'; then a line longer than the
    # limit but shorter than a head's 4 KiB comes in a read that ends before the buffer does.
    data = b"".join(b"x" * 99 + b"\n" for _ in range(200)) + b"y" * 1500
    stats = StreamStats()
    lines = [ln for c in iter_chunks(io.BytesIO(data), 2000, stats, max_line_bytes=1000) for ln in c.lines.to_pylist()]
    assert lines == [b"x" * 99 + b"\n"] * 200
    assert stats.oversize == [(201, b"y" * 1500, 1500)]


def _stored(con) -> dict:
    """The rows and rejects a load writes, row for row (sorted: the comparison is of sets of rows)."""
    return {t: con.execute(f"SELECT * EXCLUDE (source_id) FROM {t} ORDER BY ALL").fetchall()
            for t in ("requests", "rejects")}


def test_repeat_check_fast_path_equals_the_general_pass_row_for_row(tmp_path, monkeypatch):
    # Chunks with no repeated or known id hash skip the line-ordered pass (mark_repeats' fast path).
    # The same file, with and without it (every hash "seen" forces the general pass on every chunk),
    # must give the same rows, rejects and rollups: good lines, hostile lines and repeats mixed.
    lines = log_lines(8000)
    lines[10] = "{not json\n"
    lines[20] = line(20, T0 + 20, rid="req-5")                      # a repeat of an earlier line
    lines[3000] = '{"requestId": "bad-ts", "requestTimeEpoch": "99999999999999999999", "httpMethod": "GET"}\n'
    lines[3001] = line(3001, T0 + 3001, rid="req-2999")             # a repeat in a later chunk
    lines[5000] = json.dumps({"requestId": "lat", "requestTimeEpoch": str(T0), "httpMethod": "GET",
                              "resourcePath": "/cart", "responseLatency": "inf"}) + "\n"
    lines[7000] = json.dumps({"requestId": "st", "requestTimeEpoch": str(T0), "httpMethod": "GET",
                              "resourcePath": "/cart", "status": "abc"}) + "\n"
    lines[7999] = line(7999, T0 + 7999, rid="req-1")               # the last line repeats the first
    fast, (sr,) = load(tmp_path, "fast", [lines], SMALL_CHUNKS)
    monkeypatch.setattr(dedupe.SeenIds, "contains", lambda self, h: np.ones(len(h), dtype=bool))
    general, (sr1,) = load(tmp_path, "general", [lines], SMALL_CHUNKS)
    assert (sr.rows_loaded, sr.rows_rejected, sr.rows_duplicate) == (sr1.rows_loaded, sr1.rows_rejected,
                                                                     sr1.rows_duplicate) == (7993, 4, 3)
    assert _stored(fast) == _stored(general)
    assert_same_rollups(rollup_rows(fast), rollup_rows(general))   # sums of doubles up to their order
    peaks = "SELECT api, stage, route, region, ts, peak_rps FROM traffic_1m ORDER BY ALL"
    assert fast.execute(peaks).fetchall() == general.execute(peaks).fetchall()
