"""Repository of ``costs`` (owner: pricing): the priced lines of a cost run."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from .db import Connection, insert_frame, run

COLUMNS = ["run_id", "kind", "ts", "api", "stage", "route", "region", "component", "quantity", "unit", "usd",
           "flags", "usd_micros", "price_key", "catalog"]


def delete_actual(con: Connection, start: dt.datetime, end: dt.datetime) -> None:
    """Drop the actual (history) lines of [start, end): a new run replaces them."""
    run(con, "DELETE FROM costs WHERE kind = 'actual' AND ts >= ? AND ts < ?", [start, end])


def delete_forecast(con: Connection) -> None:
    """Drop every forecast and month-end projection line: a new forecast run replaces them."""
    run(con, "DELETE FROM costs WHERE kind = 'forecast' OR kind LIKE 'projection:%'")


def insert(con: Connection, lines: pd.DataFrame) -> None:
    """Append priced lines (a frame with :data:`COLUMNS`)."""
    insert_frame(con, "costs", lines, COLUMNS)
