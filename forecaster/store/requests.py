"""The raw ``requests`` table (owner: ingest.loader): what is kept, and for how long."""

from __future__ import annotations

import datetime as dt

from .db import scalar


def drop_older_than(con, days: int, now: dt.datetime) -> int:
    """Delete raw requests more than ``days`` before the newest request, or before ``now`` when the
    newest is later than that (a row dated in the future never pushes real rows out); returns how many."""
    return scalar(con, "DELETE FROM requests WHERE ts < least((SELECT max(ts) FROM requests), ?::TIMESTAMP) - to_days(?)",
                  [now, days])
