"""decide(): records from a forecast run, consistent and within the guardrails; bad input writes nothing."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pandas as pd
import pytest

from forecaster.config import Settings
from forecaster.decide import decide
from forecaster.decide.guardrails import burst_for, check_change
from forecaster.errors import BadInput, ConfigError, NotFound, UnknownName
from forecaster.store import open_store
from forecaster.store import recommendations as recstore
from forecaster.store.db import one, run

AS_OF = "2026-11-25T05:00:00"


def counts(con) -> tuple[int, int]:
    return (one(con, "SELECT count(*) FROM recommendations")[0],
            one(con, "SELECT count(*) FROM runs WHERE kind = 'decide'")[0])


def _num(text: str) -> list[float]:
    return [float(x.replace(",", "")) for x in re.findall(r"[0-9][0-9,]*\.?[0-9]*", text)]


def test_records_are_consistent_and_within_guardrails(fresh_db):
    s = Settings(db=fresh_db)
    with open_store(fresh_db, s) as con:
        res = decide(con, s)
        stored = recstore.by_run(con, res.run_id)
        assert len(stored) == len(res.records) > 0
        kinds = {r.kind for r in stored}
        assert {"throttle", "prewarm"} <= kinds, res.counts()
        prev: dict[str, float] = {}
        for r in sorted(stored, key=lambda r: (r.kind, r.target, r.valid_from)):
            assert r.rationale and r.expected_impact and all(isinstance(v, float) for v in r.expected_impact.values())
            assert {"api", "stage", "route"} <= set(r.params)
            before = {**r.params, "rate_limit_rps": prev[r.target]} if r.kind == "throttle" and r.target in prev else None
            assert check_change(r.kind, before, r.params, s) == [], r
            if r.kind == "throttle":
                rate = r.params["rate_limit_rps"]
                assert r.params["burst_limit"] == burst_for(rate, s)
                assert r.expected_impact["limit_rps"] == pytest.approx(rate, rel=1e-3)
                assert f"{rate:,.1f} rps" in r.rationale
                if not r.target.startswith("usage_plan:"):
                    share = r.expected_impact["requests_admitted_share"]
                    assert f"admits {share:.1%}" in r.rationale
                    assert r.expected_impact["requests_shed"] == pytest.approx(
                        r.expected_impact["forecast_requests"] * (1 - share), abs=0.2)
                    assert r.valid_to - r.valid_from == pd.Timedelta(minutes=s.decide_window_minutes)
                    prev[r.target] = rate
                else:
                    assert r.params["quota_per_day"] is None or r.params["quota_per_day"] > 0
            if r.kind == "prewarm":
                pc = r.params["provisioned_concurrency"]
                assert f"= {pc} concurrent environments" in r.rationale
                assert r.expected_impact["cold_starts_avoided"] == pc
        # a second run supersedes the first one's overlapping records
        res2 = decide(con, s, kinds="throttle")
        assert res2.superseded > 0
        assert {r.status for r in recstore.by_run(con, res.run_id, kind="throttle")} == {"superseded"}
        now = recstore.in_force(con, pd.Timestamp(AS_OF).to_pydatetime(), api="shop", stage="prod", kind="throttle")
        assert now and {r.run_id for r in now} == {res2.run_id}


def test_poor_accuracy_is_forecast_only(fresh_db):
    s = Settings(db=fresh_db, decide_max_rel_mae=1e-6)
    with open_store(fresh_db, s) as con:
        res = decide(con, s, kinds=["throttle"])
    assert {r.status for r in res.records} == {"forecast_only"}


def test_bad_inputs_write_nothing(fresh_db):
    s = Settings(db=fresh_db)
    with open_store(fresh_db, s) as con:
        before = counts(con)
        with pytest.raises(NotFound, match="no run with id 'nope'"):
            decide(con, s, run_id="nope")
        with pytest.raises(UnknownName, match="known: cache, prewarm, route, throttle, websocket"):
            decide(con, s, kinds="throttle,scale")
        with pytest.raises(BadInput, match="no forecast at or after"):
            decide(con, s, as_of=pd.Timestamp("2030-01-01").to_pydatetime())
        for bad in ({"decide_max_rps_by_target": {"shop|*": -5.0}},
                    {"decide_min_rps_by_target": {"shop|prod": 50.0}, "decide_max_rps_by_target": {"shop|prod": 10.0}}):
            with pytest.raises(ConfigError):
                decide(con, Settings(db=fresh_db, **bad), kinds="throttle")
        with pytest.raises(Exception):
            Settings(decide_headroom=-1)
        run(con, "DELETE FROM traffic_1m")         # a forecast with no history left to size limits from
        with pytest.raises(BadInput, match="no history"):
            decide(con, s)
        assert counts(con) == before


def test_no_forecast_run(tmp_path):
    s = Settings(db=tmp_path / "empty.duckdb")
    with open_store(s.db, s) as con:
        with pytest.raises(NotFound, match="run `forecaster forecast` first"):
            decide(con, s)
        assert counts(con) == (0, 0)


def test_cli_decide_json(fresh_db):
    p = subprocess.run([sys.executable, "-m", "forecaster", "decide", "--db", str(fresh_db), "--kinds", "throttle",
                        "--json"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["counts"]["throttle"] and out["recommendations"][0]["kind"] == "throttle"
    p = subprocess.run([sys.executable, "-m", "forecaster", "decide", "--db", str(fresh_db), "--run", "nope"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and "no run with id 'nope'" in p.stderr
