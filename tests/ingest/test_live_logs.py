"""Live and rotated logs: a grown file loads only its new bytes, rotation loads nothing twice,
a copy is recognised without parsing, stdin is keyed by content. Real DuckDB file throughout."""

from __future__ import annotations

import gzip
import io
import os
import shutil

import pytest

from forecaster.config import Settings
from forecaster.ingest import ingest, loader
from forecaster.store import connect
from forecaster.store.db import run


@pytest.fixture
def con(tmp_path):
    c = connect(tmp_path / "live.duckdb")
    yield c
    c.close()


def clf(i: int) -> str:
    """A Common Log Format line (no request id: keyed by its place in the stream)."""
    return f'192.0.2.{i % 250} - - [22/Nov/2026:05:{i // 60 % 60:02d}:{i % 60:02d} +0000] "GET /items/{i} HTTP/1.1" 200 {i}\n'


def counts_rows(start: int, n: int) -> str:
    return "".join(f"2026-11-22T{(start + i) // 60 % 24:02d}:{(start + i) % 60:02d}:00Z,GET /a,{start + i + 1}\n"
                   for i in range(n))


def write(path, text: str, mode: str = "w") -> str:
    with open(path, mode) as f:
        f.write(text)
    return str(path)


def total_requests(con) -> int:
    return run(con, "SELECT coalesce(sum(requests), 0) FROM traffic_1m")[0][0]


def test_grown_clf_file_loads_only_the_appended_lines(con, tmp_path):
    p = write(tmp_path / "access.log", "".join(clf(i) for i in range(60)))
    first = ingest(con, [p]).by_source[0]
    write(p, "".join(clf(i) for i in range(60, 114)), "a")
    second = ingest(con, [p]).by_source[0]
    assert (first.rows_loaded, second.rows_loaded, second.rows_duplicate) == (60, 54, 0)   # today: 60 + 114
    assert run(con, "SELECT count(*), count(DISTINCT line_no), min(line_no), max(line_no) FROM requests") == [
        (114, 114, 1, 114)]
    assert total_requests(con) == 114
    assert second.note.startswith(f"continues source {first.source_id} after its")
    assert ingest(con, [p]).by_source[0].status == "skipped"


def test_grown_counts_csv_adds_only_the_new_rows(con, tmp_path):
    p = write(tmp_path / "counts.csv", "timestamp,route,requests\n" + counts_rows(0, 101))
    ingest(con, [p])
    before = total_requests(con)
    write(p, counts_rows(101, 101), "a")
    second = ingest(con, [p]).by_source[0]
    assert (second.format, second.rows_loaded, second.rows_rejected) == ("counts", 101, 0)
    assert total_requests(con) == sum(range(1, 203)) and before == sum(range(1, 102))


def test_rotation_renamed_then_gzipped_loads_nothing_twice(con, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    live = logs / "access.log"
    write(live, "".join(clf(i) for i in range(40)))
    assert ingest(con, [str(logs)]).rows_loaded == 40
    write(live, "".join(clf(i) for i in range(40, 50)), "a")     # written after the load, before rotation
    os.rename(live, logs / "access.log.1")
    write(live, "".join(clf(i) for i in range(1000, 1030)))       # the new live file
    r = ingest(con, [str(logs)])
    by = {os.path.basename(s.uri): s for s in r.by_source}
    assert (by["access.log"].rows_loaded, by["access.log.1"].rows_loaded) == (30, 10)
    with open(logs / "access.log.1", "rb") as f, gzip.open(logs / "access.log.1.gz", "wb") as g:
        shutil.copyfileobj(f, g)
    os.remove(logs / "access.log.1")
    r = ingest(con, [str(logs)])
    assert r.rows_loaded == 0 and [s.status for s in r.by_source] == ["skipped", "skipped"]
    assert run(con, "SELECT count(*) FROM requests")[0][0] == 80 and total_requests(con) == 80


def test_a_changed_prefix_is_a_new_file(con, tmp_path):
    p = write(tmp_path / "access.log", "".join(clf(i) for i in range(20)))
    ingest(con, [p])
    write(p, "".join(clf(i) for i in range(500, 530)))            # truncated and rewritten (copytruncate)
    r = ingest(con, [p]).by_source[0]
    assert (r.rows_loaded, r.note) == (30, None)
    assert run(con, "SELECT count(*) FROM requests")[0][0] == 50


def test_same_bytes_under_another_name_are_not_parsed(con, tmp_path, monkeypatch):
    p = write(tmp_path / "a.log", "".join(clf(i) for i in range(25)))
    first = ingest(con, [p]).by_source[0]
    shutil.copy(p, tmp_path / "b.log")

    def no_parse(*a, **k):
        raise AssertionError("a known copy was parsed")

    monkeypatch.setattr(loader, "_load_chunk", no_parse)
    copy = ingest(con, [str(tmp_path / "b.log")]).by_source[0]
    assert copy.status == "skipped" and str(first.source_id) in copy.note


def test_stdin_is_keyed_by_content(con):
    lines = [clf(i) for i in range(30)]
    lines[7] = lines[6]                      # two identical lines are two requests
    one = ingest(con, ["-"], stdin=io.BytesIO("".join(lines[:20]).encode())).by_source[0]
    assert (one.rows_loaded, one.rows_duplicate) == (20, 0)
    # an overlapping window of the same log: only the lines not seen before are added
    two = ingest(con, ["-"], stdin=io.BytesIO("".join(lines[10:30]).encode())).by_source[0]
    assert (two.rows_loaded, two.rows_duplicate) == (10, 10)
    assert run(con, "SELECT count(*) FROM requests")[0][0] == 30 and total_requests(con) == 30


def test_stdin_help_says_it_has_no_identity():
    from typer.testing import CliRunner

    from forecaster.cli import app

    out = CliRunner().invoke(app, ["ingest", "--help"], env={"COLUMNS": "200"}).output
    assert "stdin" in out and "content" in out


def test_a_version_1_file_migrates_and_keeps_loading(tmp_path):
    """A database written before migration 2: its sources stay loaded, new loads use byte ranges."""
    import duckdb

    from forecaster.store import migrations

    path = tmp_path / "v1.duckdb"
    raw = duckdb.connect(str(path))
    steps = migrations.STEPS
    try:
        migrations.STEPS = steps[:1]
        migrations.migrate(raw, lambda: "2026-12-01 00:00:00")
    finally:
        migrations.STEPS = steps
    raw.close()
    p = write(tmp_path / "a.log", "".join(clf(i) for i in range(5)))
    c = connect(path)
    try:
        assert ingest(c, [p]).rows_loaded == 5
        assert run(c, "SELECT max(version) FROM schema_version")[0][0] == migrations.latest_version()
    finally:
        c.close()
