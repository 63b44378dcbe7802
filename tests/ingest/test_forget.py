"""`forecaster sources list` / `forget`: a source's rows, rejects and rollup contributions go exactly."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from forecaster.cli import app
from forecaster.config import Settings
from forecaster.ingest import ingest
from forecaster.ingest.forget import forget
from forecaster.store import connect
from forecaster.store.db import run

ROLLUP = "SELECT * EXCLUDE (api_type) FROM traffic_1m ORDER BY ALL"


def rest(i: int, sec: int, latency: int) -> str:
    return json.dumps({"requestId": f"r{i}", "requestTime": f"22/Nov/2026:05:{sec // 60:02d}:{sec % 60:02d} +0000",
                       "httpMethod": "GET", "resourcePath": "/pets/{id}", "status": "200" if i % 5 else "503",
                       "responseLength": str(i), "responseLatency": str(latency)}) + "\n"


def write(tmp_path, name: str, text: str) -> str:
    p = tmp_path / name
    p.write_text(text)
    return str(p)


def test_forget_leaves_the_rollups_as_if_never_loaded(tmp_path):
    a = write(tmp_path, "a.log", "".join(rest(i, i, 10 + i) for i in range(0, 200)))
    b = write(tmp_path, "b.log", "".join(rest(i, i - 1000, i - 990) for i in range(1000, 1200)))   # same minutes as a
    c_csv = write(tmp_path, "c.csv", "timestamp,route,requests\n2026-11-22T05:00:00Z,GET /pets/{id},40\n")
    alone = connect(tmp_path / "alone.duckdb")
    ingest(alone, [a])
    want = run(alone, ROLLUP)
    alone.close()

    con = connect(tmp_path / "both.duckdb")
    ingest(con, [a, b, c_csv])
    ids = {r[1]: r[0] for r in run(con, "SELECT source_id, uri FROM sources")}
    rep = forget(con, b)
    assert rep.source_ids == [ids[str(tmp_path / "b.log")]] and rep.requests == 200
    rep = forget(con, str(ids[str(tmp_path / "c.csv")]))
    assert rep.count_rows == 1
    assert run(con, ROLLUP) == want
    assert run(con, "SELECT count(*) FROM requests")[0][0] == 200
    # loaded again, it counts once more
    assert ingest(con, [b]).rows_loaded == 200
    con.close()


def test_a_wrong_format_is_no_longer_a_lock_out(tmp_path):
    """Today: recorded as loaded with 0 rows, and no way back."""
    p = write(tmp_path, "a.log", "".join(rest(i, i, 10) for i in range(10)))
    db = str(tmp_path / "x.duckdb")
    runner = CliRunner()
    assert runner.invoke(app, ["ingest", p, "--db", db, "--format", "alb"]).exit_code == 0
    out = runner.invoke(app, ["sources", "list", "--db", db], env={"COLUMNS": "80"}).output
    assert "alb" in out and "a.log" in out
    res = runner.invoke(app, ["sources", "forget", p, "--db", db])
    assert res.exit_code == 0 and "10 rejects" in res.output
    assert runner.invoke(app, ["ingest", p, "--db", db, "--json"]).output.count('"rows_loaded": 10') == 2


def test_forget_takes_the_continuing_loads_with_it(tmp_path):
    p = tmp_path / "live.log"
    p.write_text("".join(rest(i, i, 10) for i in range(10)))
    con = connect(tmp_path / "x.duckdb")
    ingest(con, [str(p)])
    with open(p, "a") as f:
        f.write("".join(rest(i, i, 10) for i in range(10, 15)))
    ingest(con, [str(p)])
    rep = forget(con, "1")
    assert rep.source_ids == [1, 2] and rep.requests == 15
    assert run(con, "SELECT count(*) FROM traffic_1m")[0][0] == 0
    con.close()


def test_forget_unknown_and_after_retention(tmp_path):
    from forecaster.errors import BadInput, NotFound

    con = connect(tmp_path / "x.duckdb")
    with pytest.raises(NotFound, match="sources list"):
        forget(con, "42")
    p = write(tmp_path, "a.log", rest(1, 1, 10))
    ingest(con, [p], Settings(retention_raw_days=0))
    with pytest.raises(BadInput, match="retention"):
        forget(con, p)
    con.close()


@pytest.mark.parametrize("cmd", [["sources", "list"], ["sources", "forget", "1"]])
def test_read_commands_never_create_a_database(tmp_path, cmd):
    db = tmp_path / "typo.duckdb"
    res = CliRunner().invoke(app, [*cmd, "--db", str(db)])
    assert res.exit_code != 0 and not db.exists()
