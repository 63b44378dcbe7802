"""Repository of ``carbon`` (owner: carbon): the gCO2e lines of a carbon run."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from .db import Connection, insert_frame, run

COLUMNS = ["run_id", "kind", "ts", "api", "stage", "route", "region", "component", "kwh", "g_co2e", "flags",
           "requests", "g_co2e_per_kwh"]


def delete_actual(con: Connection, start: dt.datetime, end: dt.datetime) -> None:
    """Drop the actual (history) lines of [start, end): a new run replaces them."""
    run(con, "DELETE FROM carbon WHERE kind = 'actual' AND ts >= ? AND ts < ?", [start, end])


def delete_forecast(con: Connection) -> None:
    """Drop every forecast line: a new forecast run replaces them."""
    run(con, "DELETE FROM carbon WHERE kind = 'forecast'")


def insert(con: Connection, lines: pd.DataFrame) -> None:
    """Append carbon lines (a frame with :data:`COLUMNS`)."""
    insert_frame(con, "carbon", lines, COLUMNS)
