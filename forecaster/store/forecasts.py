"""Repository of a forecast run's results: ``forecasts``, ``backtests`` and ``spikes``."""

from __future__ import annotations

from typing import Any

import pandas as pd

from .db import Connection, frame, insert_frame, records, run, scalar

RESULT_TABLES = ("forecasts", "backtests", "spikes")
SPIKE_COLUMNS = ["series", "start_ts", "end_ts", "peak_ts", "peak", "baseline", "ratio", "threshold", "probability",
                 "lead_time_hours", "reason", "event"]


def insert(con: Connection, table: str, run_id: str, data: pd.DataFrame) -> None:
    """Append a batch of a run's rows (``data``'s columns, by name) to forecasts, backtests or spikes."""
    if table not in RESULT_TABLES:
        raise ValueError(f"not a forecast result table: {table!r}; expected one of {', '.join(RESULT_TABLES)}")
    insert_frame(con, table, data, list(data.columns), {"run_id": run_id})


def latest_route_run(con: Connection) -> str | None:
    """The newest forecast run with route series; runs recorded as running or failed are skipped,
    forecasts with no run row still count."""
    return scalar(con, """
        SELECT f.run_id FROM forecasts f LEFT JOIN runs r USING (run_id)
        WHERE f.series LIKE 'route:%' AND (r.status IS NULL OR r.status = 'ok')
        GROUP BY f.run_id ORDER BY max(r.started) DESC NULLS LAST, max(f.ds) DESC, f.run_id DESC LIMIT 1
    """)


def route_forecasts(con: Connection, run_id: str) -> pd.DataFrame:
    """A run's route series: series, ds, yhat, sorted."""
    rows = run(con, "SELECT series, ds, yhat FROM forecasts WHERE run_id = ? AND series LIKE 'route:%' "
                    "ORDER BY series, ds", [run_id])
    return pd.DataFrame(rows, columns=["series", "ds", "yhat"])


def spikes(con: Connection, run_id: str, min_ratio: float | None = None) -> pd.DataFrame:
    """A run's spikes, soonest first (``min_ratio`` filters), columns :data:`SPIKE_COLUMNS`."""
    return frame(con, f"""
        SELECT {', '.join(SPIKE_COLUMNS)}
        FROM spikes WHERE run_id = ? AND (? IS NULL OR ratio >= ?) ORDER BY start_ts, series
    """, [run_id, min_ratio, min_ratio])


def top_spikes(con: Connection, run_id: str, limit: int = 10) -> list[dict[str, Any]]:
    """A run's spikes with the highest ratio to baseline first (event '' when none)."""
    return records(con, f"""
        SELECT series, start_ts, peak_ts, peak, ratio, probability, lead_time_hours, coalesce(event, '') AS event
        FROM spikes WHERE run_id = ? ORDER BY ratio DESC LIMIT {int(limit)}""", [run_id])
