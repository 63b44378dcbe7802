"""Replay: the token bucket by hand, no peeking, the CLI's JSON and limits CSV, bad inputs."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from forecaster.config import Settings
from forecaster.decide.bucket import replay_bucket
from forecaster.decide.replay import load_traffic, replay
from forecaster.errors import BadInput, UnknownName
from forecaster.store import open_store
from forecaster.store.db import run

POLICIES = ["static", "daily_peak", "reactive", "predictive"]


def test_token_bucket_by_hand():
    # 10 rps, burst 20, 60 s steps: capacity 20 + 600 then 600 a step (the bucket is emptied)
    r = replay_bucket(np.array([700.0, 500.0, 700.0]), np.full(3, 10.0), np.full(3, 20.0), 60.0)
    assert r.admitted.tolist() == [620.0, 500.0, 620.0]       # step 2 leaves 100 spare, the bucket keeps 20
    assert r.throttled.tolist() == [80.0, 0.0, 80.0]
    # the busiest second: 50 requests in one second against 10 rps + 20 tokens sheds 20
    r = replay_bucket(np.array([100.0]), np.array([10.0]), np.array([20.0]), 60.0, peak=np.array([50.0]))
    assert r.throttled.tolist() == [20.0]


@pytest.mark.parametrize("series,start,cut", [("api:elb", "2014-04-17", "2014-04-20 13:00"),
                                              ("api:taxi", "2014-11-01", "2014-11-20 07:00")])
def test_no_peeking(nab_db, tmp_path, series, start, cut):
    """Data after C removed: every limit before C is identical, for every policy."""
    cut_db = tmp_path / "cut.duckdb"
    shutil.copy(nab_db, cut_db)
    s = Settings()
    with open_store(cut_db, s) as con:
        run(con, "DELETE FROM traffic_1m WHERE ts >= ?", [pd.Timestamp(cut).to_pydatetime()])
        short = load_traffic(con, series, pd.Timestamp(start))
        lim_short: dict = {}
        replay(short, s, POLICIES, limits=lim_short)
    with open_store(nab_db, s) as con:
        full = load_traffic(con, series, pd.Timestamp(start), pd.Timestamp(start) + pd.Timedelta(days=42))
        lim_full: dict = {}
        replay(full, s, POLICIES, limits=lim_full)
    n = int(np.searchsorted(full.ts[full.start:].values, pd.Timestamp(cut).to_datetime64()))
    assert n > 100
    for p in POLICIES:
        assert np.array_equal(lim_full[p][:n], lim_short[p][:n]), p
        assert len(lim_short[p]) >= n


def test_predictive_beats_equal_capacity_static_on_taxi(nab_db):
    """The acceptance measure on the real taxi series (docs/benchmarks.md has the full table)."""
    s = Settings()
    with open_store(nab_db, s) as con:
        tr = load_traffic(con, "api:taxi", pd.Timestamp("2014-11-01"), pd.Timestamp("2014-12-13"))
    lim: dict = {}
    out = {p["policy"]: p for p in replay(tr, s, ["static", "predictive"], limits=lim)["policies"]}
    from forecaster.decide.replay import score

    k = out["predictive"]["capacity_ratio"] / out["static"]["capacity_ratio"]
    same = score("static", tr, lim["static"] * k, s)
    assert same["capacity_ratio"] == pytest.approx(out["predictive"]["capacity_ratio"])
    assert out["predictive"]["throttled"] <= 0.1 * same["throttled"]
    assert out["predictive"]["overload_minutes"] <= same["overload_minutes"]


def test_cli_json_and_limits_csv(nab_db, tmp_path):
    out_csv = tmp_path / "limits.csv"
    p = subprocess.run([sys.executable, "-m", "forecaster", "replay", "--db", str(nab_db), "--series", "api:elb",
                        "--from", "2014-04-20", "--to", "2014-04-22", "--json", "--limits-out", str(out_csv)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["series"] == "api:elb" and out["from"].startswith("2014-04-20")
    assert [x["policy"] for x in out["policies"]] == POLICIES
    for x in out["policies"]:
        assert {"requests", "throttled", "throttled_share", "capacity_ratio", "overload_minutes"} <= set(x)
    rows = list(csv.DictReader(out_csv.open()))
    assert rows[0].keys() == {"policy", "series", "minute", "limit_rps"}
    assert len(rows) == 4 * 2 * 24 * 60
    # the table can be recomputed from the CSV: capacity ratio = sum(limit x 60) / requests
    st = [float(r["limit_rps"]) * 60 for r in rows if r["policy"] == "static"]
    assert sum(st) / out["policies"][0]["requests"] == pytest.approx(out["policies"][0]["capacity_ratio"])


def test_bad_inputs(nab_db):
    s = Settings()
    with open_store(nab_db, s) as con:
        with pytest.raises(BadInput, match="no history before"):
            load_traffic(con, "api:elb", pd.Timestamp("2014-04-01"))
        with pytest.raises(BadInput, match="has no traffic"):
            load_traffic(con, "api:nope", pd.Timestamp("2014-04-17"))
        with pytest.raises(BadInput, match="no requests between"):
            load_traffic(con, "api:elb", pd.Timestamp("2014-05-01"), pd.Timestamp("2014-05-02"))
        with pytest.raises(BadInput, match="series must be"):
            load_traffic(con, "elb", None)
        tr = load_traffic(con, "api:elb", pd.Timestamp("2014-04-20"))
    with pytest.raises(UnknownName, match="known: daily_peak, predictive, reactive, static"):
        replay(tr, s, ["guess"])
    p = subprocess.run([sys.executable, "-m", "forecaster", "replay", "--db", str(nab_db), "--series", "api:elb",
                        "--decide-every", "soon"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 2 and "--decide-every must be a duration" in p.stderr
