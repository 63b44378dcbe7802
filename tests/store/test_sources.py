"""The sources repository: what ingest asks of the table, by name, and a CloudWatch cursor read back."""

from __future__ import annotations

import datetime as dt

import pytest

from forecaster.config import Settings
from forecaster.errors import SourceError
from forecaster.ingest.cwlogs import previous_cursor
from forecaster.store import open_store
from forecaster.store import sources
from forecaster.store.db import records


def test_sources_by_name_and_cursors(tmp_path):
    db = tmp_path / "s.duckdb"
    with open_store(db, Settings(db=db)) as con:
        assert sources.next_id(con) == 1
        now = dt.datetime(2026, 12, 1)
        sources.insert(con, {"source_id": 1, "uri": "/logs/a.log", "size_bytes": 10, "mtime": 1.5, "checksum": "abc",
                             "loaded_at": now})
        sources.insert(con, {"source_id": 2, "uri": "s3://b/k", "etag": "e1", "loaded_at": now})
        sources.insert(con, {"source_id": 3, "uri": "cwlogs://g#1", "cursor": '{"ts_ms": 5, "ids": ["x"]}',
                             "loaded_at": now})
        sources.insert(con, {"source_id": 4, "uri": "cwlogs://bad#1", "cursor": "not json", "loaded_at": now})
        assert sources.next_id(con) == 5
        assert sources.seen_file(con, "/logs/a.log", 10, 1.5) == 1 and sources.seen_file(con, "/logs/a.log", 11, 1.5) is None
        assert sources.seen_object(con, "s3://b/k", "e1") == 2 and sources.seen_object(con, "s3://b/k", "e2") is None
        assert sources.by_checksum(con, "abc") == 1 and sources.by_checksum(con, "zzz") is None
        sources.reject(con, 1, 7, None, "stream ended inside a gzip member")
        assert records(con, "SELECT * FROM rejects") == [
            {"source_id": 1, "line_no": 7, "raw": None, "reason": "stream ended inside a gzip member"}]
        assert sources.last_cursor(con, "cwlogs://g") == sources.SourceCursor(3, '{"ts_ms": 5, "ids": ["x"]}')
        c = previous_cursor(con, "cwlogs://g")
        assert (c.ts_ms, c.ids) == (5, frozenset({"x"}))
        assert previous_cursor(con, "cwlogs://none") is None
        with pytest.raises(SourceError, match=r"cwlogs://bad: the cursor of source 4 is unreadable .*'not json'"):
            previous_cursor(con, "cwlogs://bad")
