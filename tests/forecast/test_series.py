"""series: gaps vs zeros, as-of never reads the future, aggregates sum to the routes, filters."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from forecaster.errors import BadInput, UnknownName
from forecaster.forecast.series import load_series, matches, steps_in
from forecaster.store.db import connect, run

T0 = dt.datetime(2026, 11, 2, 0, 0)


def insert(con, rows):
    """rows: (ts, api, stage, route, region, requests)"""
    con.executemany(
        "INSERT INTO traffic_1m VALUES (?, ?, ?, ?, ?, 'rest', ?, 0, 0, 0, 0, 0, NULL, NULL, NULL, 0, 0, 0)",
        [list(r) for r in rows])


@pytest.fixture
def con(tmp_path):
    c = connect(tmp_path / "t.duckdb")
    # hours 0..5; hour 3 has no logs at all; route B only at hours 0 and 4
    rows = []
    for h in (0, 1, 2, 4, 5):
        for m in (0, 30):
            rows.append((T0 + dt.timedelta(hours=h, minutes=m), "shop", "prod", "GET /products", "us-east-1", 10))
    rows.append((T0 + dt.timedelta(hours=0, minutes=5), "shop", "prod", "POST /orders", "eu-west-1", 7))
    rows.append((T0 + dt.timedelta(hours=4, minutes=5), "shop", "prod", "POST /orders", "eu-west-1", 3))
    rows.append((T0 + dt.timedelta(hours=2, minutes=5), "pay", "v1", "POST /charge", "us-east-1", 1))
    insert(c, rows)
    yield c
    c.close()


def test_gaps_are_nan_and_quiet_routes_are_zero(con):
    # without as-of the partial last hour (logs end 05:30) is left out
    assert load_series(con, "1h").cutoff == pd.Timestamp(T0) + pd.Timedelta(hours=5)
    s = load_series(con, "1h", as_of=T0 + dt.timedelta(hours=6))
    a = s.get("route:shop|prod|GET /products|us-east-1")
    assert list(a["ds"]) == [pd.Timestamp(T0) + pd.Timedelta(hours=h) for h in range(6)]
    assert a["y"].tolist()[:3] == [20, 20, 20] and np.isnan(a["y"][3]) and a["y"].tolist()[4:] == [20, 20]
    b = s.get("route:shop|prod|POST /orders|eu-west-1")
    assert b["y"].tolist()[:3] == [7, 0, 0] and np.isnan(b["y"][3]) and b["y"].tolist()[4:] == [3, 0]
    # a route starts at its first request
    c = s.get("route:pay|v1|POST /charge|us-east-1")
    assert c["ds"].iloc[0] == pd.Timestamp(T0) + pd.Timedelta(hours=2)
    assert s.cutoff == pd.Timestamp(T0) + pd.Timedelta(hours=6)


def test_aggregates_sum_to_routes(con):
    s = load_series(con, "1h", as_of=T0 + dt.timedelta(hours=6))
    d = s.data
    routes = d[d.series.str.startswith("route:")]
    total = s.get("total").set_index("ds")["y"]
    by_ds = routes.groupby("ds")["y"].sum(min_count=1)
    pd.testing.assert_series_equal(total, by_ds.reindex(total.index), check_names=False)
    assert s.get("api:shop")["y"].tolist()[:2] == [27, 20]
    pay = s.get("stage:pay|v1")["y"]
    assert pay[0] == 1 and np.isnan(pay[1]) and pay.tolist()[2:] == [0, 0]
    assert s.get("region:eu-west-1")["y"].tolist()[0] == 7
    assert set(s.ids) >= {"total", "api:shop", "api:pay", "stage:shop|prod", "region:us-east-1", "region:eu-west-1"}


def test_as_of_never_reads_the_future(con):
    # absurd values after the as-of point; none may leak into the series
    insert(con, [(T0 + dt.timedelta(hours=3, minutes=1), "shop", "prod", "GET /products", "us-east-1", 10**9),
                 (T0 + dt.timedelta(hours=2, minutes=59), "evil", "prod", "GET /future", "us-east-1", 10**9)])
    s = load_series(con, "1h", as_of=T0 + dt.timedelta(hours=2, minutes=59))
    # cut at the last complete bucket (02:00 excluded: as_of 02:59 floors to 02:00)
    assert s.cutoff == pd.Timestamp(T0) + pd.Timedelta(hours=2)
    assert s.data["y"].max() < 1000
    assert s.data["ds"].max() == pd.Timestamp(T0) + pd.Timedelta(hours=1)
    assert not any("evil" in i for i in s.ids)


def test_step_5m_and_15m(con):
    s = load_series(con, "15m", routes="GET /products")
    a = s.get("route:shop|prod|GET /products|us-east-1")
    # a quarter-hour without any log at all is missing, not zero
    assert a["y"].tolist()[0] == 10 and np.isnan(a["y"][1]) and a["y"].tolist()[2] == 10
    assert len(load_series(con, "5m", as_of=T0 + dt.timedelta(hours=6)).get("total")) == 6 * 12


def test_route_glob_filters_by_route_or_series_id(con):
    s = load_series(con, "1h", routes=["POST *"])
    assert set(s.ids) == {"route:shop|prod|POST /orders|eu-west-1", "route:pay|v1|POST /charge|us-east-1"}
    s = load_series(con, "1h", routes="api:*")
    assert set(s.ids) == {"api:shop", "api:pay"}
    assert matches("route:a|b|GET /x|r", ["route:a|*"]) and not matches("total", ["route:*"])


def test_history_days_and_empty(tmp_path, con):
    s = load_series(con, "1h", as_of=T0 + dt.timedelta(hours=6), history_days=2 / 24)
    assert s.data["ds"].min() == pd.Timestamp(T0) + pd.Timedelta(hours=4)
    empty = load_series(connect(tmp_path / "e.duckdb"), "1h")
    assert len(empty) == 0 and empty.cutoff is None


def test_steps_and_horizon_errors():
    assert steps_in("72h", "1h") == 72 and steps_in("3d", "15m") == 288
    with pytest.raises(UnknownName, match="known: 15m, 1h, 5m"):
        steps_in("72h", "2m")
    with pytest.raises(BadInput, match="whole number"):
        steps_in("90m", "1h")


def test_thousand_routes(tmp_path):
    """Every route and aggregate of 1,000 routes (the speed is bench/bench_deadlines.py's)."""
    c = connect(tmp_path / "big.duckdb")
    run(c, """
        INSERT INTO traffic_1m
        SELECT TIMESTAMP '2026-10-01' + to_minutes(m * 30), 'api' || (r % 5), 'prod', 'GET /r' || r, 'us-east-1', 'rest',
               1 + (r + m) % 7, 0, 0, 0, 0, 0, NULL, NULL, NULL, 0, 0, 0
        FROM range(1000) t(r), range(7 * 24 * 2) u(m)
    """)
    s = load_series(c, "1h", as_of=dt.datetime(2026, 10, 8))
    assert len(s) == 1000 + 5 + 5 + 1 + 1
    assert len(s.get("total")) == 7 * 24


def test_series_come_sorted_by_id_then_time_as_array_views(con):
    s = load_series(con, "1h", as_of=T0 + dt.timedelta(hours=6))
    assert s.ids == sorted(s.ids) and len(s) == len(s.ids) and s.bounds[-1] == len(s.ds) == len(s.data)
    rebuilt = []
    for (sid, ds, y), (sid2, frame) in zip(s.arrays(), s.items()):
        assert sid == sid2 and (np.diff(ds) > np.timedelta64(0)).all()
        np.testing.assert_array_equal(frame["y"].to_numpy(), y)
        pd.testing.assert_frame_equal(s.get(sid), frame)
        rebuilt.append(pd.DataFrame({"series": sid, "ds": ds, "y": y}))
    pd.testing.assert_frame_equal(pd.concat(rebuilt, ignore_index=True), s.data, check_dtype=False)
    assert s.first_ds == pd.Timestamp(T0)
