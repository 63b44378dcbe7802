"""Fixtures: real series (NAB, samples) loaded as counts into real DuckDB files, and a forecast run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from forecaster.config import Settings
from forecaster.ingest import ingest
from forecaster.store import open_store

REPO = Path(__file__).resolve().parents[2]
NAB = REPO / "data" / "realdata" / "nab"
SAMPLES = REPO / "data" / "samples"
AS_OF = "2026-11-25T05:00:00"


def nab_counts(out: Path, api: str, name: str) -> Path:
    d = pd.read_csv(NAB / name)
    p = out / f"{api}.csv"
    pd.DataFrame({"timestamp": pd.to_datetime(d["timestamp"]).dt.strftime("%Y-%m-%dT%H:%M:%SZ"), "api": api,
                  "route": f"GET /{api}", "requests": d["value"].round().astype(int)}).to_csv(p, index=False)
    return p


@pytest.fixture(scope="session")
def nab_db(tmp_path_factory) -> Path:
    """NAB ELB request counts (5 min) and NYC taxi (30 min) as counts, one api each."""
    d = tmp_path_factory.mktemp("nab")
    db = d / "nab.duckdb"
    s = Settings(db=db)
    with open_store(db, s) as con:
        ingest(con, [str(nab_counts(d, "elb", "elb_request_count_8c0756.csv")),
                     str(nab_counts(d, "taxi", "nyc_taxi.csv"))], s, fmt="counts")
    return db


@pytest.fixture(scope="session")
def forecast_db(tmp_path_factory) -> Path:
    """The samples (request logs and six weeks of hourly counts) with one fast forecast run of a few routes."""
    from forecaster.forecast.run import run_forecast

    d = tmp_path_factory.mktemp("fc")
    db = d / "fc.duckdb"
    s = Settings(db=db, forecast_model="seasonal_naive_weekly", holiday_country=None)
    with open_store(db, s) as con:
        ingest(con, [str(SAMPLES / n) for n in ("apigw_rest_json.log", "apigw_websocket.log", "apigw_http.log",
                                                  "counts_hourly.csv")], s)
        run_forecast(con, s, as_of=pd.Timestamp(AS_OF).to_pydatetime(), routes=["route:shop|*", "route:pets|*"],
                     events=str(SAMPLES / "events.csv"))
    return db


@pytest.fixture
def fresh_db(forecast_db, tmp_path) -> Path:
    """A copy of the forecast store a test may write to."""
    p = tmp_path / "copy.duckdb"
    shutil.copy(forecast_db, p)
    return p
