"""The connection policy: one writer, readers beside it, and a held file waited for, then named."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from forecaster.config import Settings
from forecaster.errors import SourceError, StoreLocked
from forecaster.store import connect, cursor, open_store, runs
from forecaster.store.db import frame, insert_frame, many, records, run, scalar, transaction

HOLD = textwrap.dedent("""
    import sys, duckdb
    con = duckdb.connect(sys.argv[1])
    print("held", flush=True)
    sys.stdin.readline()          # hold the file until the test writes a line
    con.close()
    print("released", flush=True)
""")


@pytest.fixture
def holder(tmp_path: Path):
    """Another process holding the DuckDB file for writing; ``.release()`` lets it go."""
    db = tmp_path / "held.duckdb"
    connect(db, Settings(db=db)).close()
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(db)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline().strip() == "held"

    def release() -> None:
        p.stdin.write("go\n")
        p.stdin.flush()

    p.db, p.release = db, release
    yield p
    if p.poll() is None:
        release()
    p.wait(timeout=30)


def test_a_held_file_raises_store_locked_naming_the_file_and_the_holder(holder):
    for read_only in (False, True):
        with pytest.raises(StoreLocked) as e:
            connect(holder.db, Settings(db=holder.db, db_lock_timeout_s=0.2), read_only=read_only)
        msg = str(e.value)
        assert msg.startswith(f"DuckDB file {holder.db} is locked by ")
        assert f"(PID {holder.pid})" in msg and "db_lock_timeout_s" in msg
        assert e.value.status == 503


def test_a_held_file_names_the_service_that_holds_it(holder):
    """`forecaster serve` leaves a note beside the file; a command that finds the file held names the
    service and points at its API (not "python3.11"); a stale note of another PID is ignored."""
    from forecaster.store.db import clear_holder_note, holder_note_path

    note = holder_note_path(holder.db)
    note.write_text(json.dumps({"pid": holder.pid, "what": "forecaster serve at http://127.0.0.1:8123"}))
    with pytest.raises(StoreLocked) as e:
        connect(holder.db, Settings(db=holder.db, db_lock_timeout_s=0.1), read_only=True)
    assert f"is held by forecaster serve at http://127.0.0.1:8123 (PID {holder.pid})" in str(e.value)
    assert "REST API" in str(e.value)
    clear_holder_note(holder.db)          # not this process's note: left alone
    assert note.exists()
    note.write_text(json.dumps({"pid": holder.pid + 1, "what": "forecaster serve at http://127.0.0.1:1"}))
    with pytest.raises(StoreLocked, match="is locked by .*(PID " + str(holder.pid) + ")"):
        connect(holder.db, Settings(db=holder.db, db_lock_timeout_s=0.1), read_only=True)
    note.write_text("{not json")
    with pytest.raises(StoreLocked, match="is locked by "):
        connect(holder.db, Settings(db=holder.db, db_lock_timeout_s=0.1), read_only=True)


def test_opening_waits_for_the_holder_to_let_go(holder):
    # The holder lets go while we wait (it reads its line as soon as it is written; the wait is 60 s).
    holder.release()
    with open_store(holder.db, Settings(db=holder.db, db_lock_timeout_s=60)) as con:
        assert scalar(con, "SELECT count(*) FROM runs") == 0
    assert holder.stdout.readline().strip() == "released"


def test_a_missing_file_cannot_be_opened_read_only(tmp_path):
    db = tmp_path / "absent.duckdb"
    with pytest.raises(SourceError, match=f"cannot open DuckDB file {db} read-only"):
        connect(db, Settings(db=db), read_only=True)
    assert not db.exists()


def test_readers_beside_the_writer_and_typed_helpers(tmp_path):
    db = tmp_path / "s.duckdb"
    with open_store(db, Settings(db=db)) as con:
        runs.start(con, "r1", "forecast", {"model": "auto"})
        reader = cursor(con)
        assert runs.get(reader, "r1").params == {"model": "auto"}
        assert runs.get(reader, "nope") is None
        runs.finish(con, "r1", {"series": 3})
        r = runs.get(reader, "r1")
        assert (r.status, r.summary) == ("ok", {"series": 3}) and r.finished is not None
        assert runs.latest_ok(reader) == "r1"
        reader.close()
        with pytest.raises(RuntimeError):
            with transaction(con):
                runs.fail(con, "r1", "boom")
                raise RuntimeError("rolled back")
        assert runs.get(con, "r1").status == "ok"
        run(con, "CREATE TEMP TABLE t (a INTEGER, b VARCHAR)")
        many(con, "INSERT INTO t (a, b) VALUES (?, ?)", [(1, "x"), (2, "y")])
        import pandas as pd
        insert_frame(con, "t", pd.DataFrame({"b": ["z"]}), ["b"], {"a": 3})
        assert records(con, "SELECT a, b FROM t ORDER BY a") == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"},
                                                                 {"a": 3, "b": "z"}]
        assert frame(con, "SELECT a FROM t ORDER BY a")["a"].tolist() == [1, 2, 3]


def test_open_reader_is_read_only_on_an_existing_file_and_creates_a_new_one(tmp_path):
    from forecaster.store import open_reader
    from forecaster.store.db import DatabaseError

    db = tmp_path / "r.duckdb"
    with open_reader(db, Settings(db=db)) as con:            # new path: created, as before
        assert scalar(con, "SELECT count(*) FROM runs") == 0
    with open_reader(db, Settings(db=db)) as con:
        with pytest.raises(DatabaseError, match="read-only"):
            runs.start(con, "r1", "forecast", {})


def test_reopening_leaves_no_unfinished_result(tmp_path):
    # DuckDB refuses other work on a connection while a result is unfinished: opening an existing
    # file (nothing to migrate) must drain every result it read.
    import pandas as pd

    db = tmp_path / "again.duckdb"
    connect(db, Settings(db=db)).close()
    for read_only in (False, True):
        with open_store(db, Settings(db=db), read_only=read_only) as con:
            con.register("_x", pd.DataFrame({"a": [1]}))
            assert scalar(con, "SELECT a FROM _x") == 1
