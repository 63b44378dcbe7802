"""The recommendations repository on a real DuckDB file."""

from __future__ import annotations

import datetime as dt

import pytest

from forecaster.errors import BadInput, NotFound
from forecaster.store import open_store
from forecaster.store import recommendations as recs
from forecaster.store.db import run

T0 = dt.datetime(2026, 11, 27, 4)


def rec(i, run_id, start_h, target="shop|prod", kind="throttle", status="proposed"):
    return recs.Recommendation(
        id=f"r{i}", run_id=run_id, kind=kind, target=target,
        params={"api": target.split("|")[0], "stage": "prod", "route": None, "rate_limit_rps": 10.0 + i,
                "burst_limit": 20},
        valid_from=T0 + dt.timedelta(hours=start_h), valid_to=T0 + dt.timedelta(hours=start_h + 1),
        rationale="r", expected_impact={"requests_shed": 0.0}, status=status)


def test_insert_get_by_run_in_force_supersede(tmp_path):
    with open_store(tmp_path / "r.duckdb") as con:
        for rid, h in (("run-a", 1), ("run-b", 2)):
            run(con, "INSERT INTO runs (run_id, kind, started, status) VALUES (?, 'decide', ?, 'ok')",
                [rid, T0 + dt.timedelta(hours=h)])
        recs.insert(con, [rec(1, "run-a", 0), rec(2, "run-a", 1), rec(3, "run-a", 0, target="pets|prod")])
        assert recs.get(con, "r1").params["rate_limit_rps"] == 11.0
        assert [r.id for r in recs.by_run(con, "run-a")] == ["r3", "r1", "r2"]
        recs.insert(con, [rec(4, "run-b", 1)])
        # both runs cover 05:00 for shop|prod: the newer one wins
        now = recs.in_force(con, T0 + dt.timedelta(hours=1, minutes=30), api="shop")
        assert [r.id for r in now] == ["r4"]
        assert recs.supersede(con, "run-b", ["throttle"]) == 1          # r2 overlaps r4's window; r1 is over
        assert recs.get(con, "r2").status == "superseded"
        assert [r.id for r in recs.in_force(con, kind="throttle", api="pets")] == ["r3"]
        assert recs.set_status(con, ["r4"], "applied") == 1
        assert recs.get(con, "r4").to_dict()["valid_from"] == "2026-11-27T05:00:00"
        with pytest.raises(NotFound):
            recs.set_status(con, ["nope"], "applied")
        with pytest.raises(BadInput):
            recs.set_status(con, ["r4"], "done")
        with pytest.raises(NotFound):
            recs.get(con, "nope")
        with pytest.raises(BadInput):
            recs.insert(con, [rec(9, "run-b", 3, kind="scale")])


def test_in_force_fingerprint_follows_exactly_the_records_in_force(tmp_path):
    """The digest the API checks before rebuilding a response: equal while in_force returns the same
    records, different as soon as any column of one of them, or the set, changes."""
    at = T0 + dt.timedelta(minutes=30)
    with open_store(tmp_path / "r.duckdb") as con:
        run(con, "INSERT INTO runs (run_id, kind, started, status) VALUES ('run-a', 'decide', ?, 'ok')", [T0])
        empty = recs.in_force_fingerprint(con, at)
        recs.insert(con, [rec(1, "run-a", 0), rec(2, "run-a", 0, target="pets|prod"), rec(3, "run-a", 5)])
        first = recs.in_force_fingerprint(con, at)
        assert first != empty and first.startswith("2:")
        assert recs.in_force_fingerprint(con, at) == first
        assert recs.in_force_fingerprint(con, at, api="pets") not in (first, empty)
        recs.insert(con, [rec(4, "run-a", 6)])                      # not in force at 04:30: same records
        assert recs.in_force_fingerprint(con, at) == first
        recs.set_status(con, ["r1"], "applied")                     # a column of one: another digest
        applied = recs.in_force_fingerprint(con, at)
        assert applied != first and [r.status for r in recs.in_force(con, at, api="shop")] == ["applied"]
        run(con, "UPDATE recommendations SET params = ? WHERE id = 'r2'", ['{"api": "pets", "rate_limit_rps": 1}'])
        assert recs.in_force_fingerprint(con, at) not in (first, applied)
        recs.set_status(con, ["r2"], "rolled_back")                 # out of the set
        assert recs.in_force_fingerprint(con, at).startswith("1:")
