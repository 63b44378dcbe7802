"""Query-parameter parsing shared by the routers."""

from __future__ import annotations

import datetime as dt

from ..errors import BadInput


def parse_ts(value: str | None, name: str) -> dt.datetime | None:
    """ISO date/time -> naive UTC datetime (offsets converted); None stays None."""
    if value is None or value == "":
        return None
    text = value.strip().replace(" ", "+") if value.strip().count(" ") == 1 and "T" in value else value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        ts = dt.datetime.fromisoformat(text)
    except ValueError:
        raise BadInput(f"{name}: expected an ISO date or time like 2026-11-27T08:00:00Z, got {value!r}") from None
    if ts.tzinfo is not None:
        ts = ts.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return ts
