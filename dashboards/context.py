"""What a page is asked for (time range, route) and what every page shares (window, header)."""

from __future__ import annotations

import dataclasses
import datetime as dt

from forecaster.config import Settings
from forecaster.errors import BadInput
from forecaster.plots import NoData, Window, window
from forecaster.plots import style
from forecaster.store import reports
from forecaster.store.db import utcnow

from .html import Links, Page


def parse_time(value: str | dt.datetime | None, name: str) -> dt.datetime | None:
    """A page parameter as naive UTC; '' and None mean 'default'."""
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return value.replace(tzinfo=None)
    try:
        t = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise BadInput(f"{name} must be an ISO date or time such as 2026-11-25T05:00, not {value!r}") from None
    if t.tzinfo is not None:
        t = t.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return t


@dataclasses.dataclass
class Context:
    con: object
    settings: Settings
    links: Links
    start: dt.datetime | None = None
    end: dt.datetime | None = None
    route: str | None = None
    window: Window | None = None
    problem: tuple[str, str] | None = None   # (title, message) when there is no window to show

    @property
    def params(self) -> dict[str, str | None]:
        return {"route": self.route, "start": self.start.isoformat(timespec="minutes") if self.start else None,
                "end": self.end.isoformat(timespec="minutes") if self.end else None}


def context(con, settings: Settings, links: Links, start=None, end=None, route: str | None = None) -> Context:
    """Parse a page's parameters and find its window; a bad or empty range becomes ``problem``."""
    ctx = Context(con, settings, links, route=route or None)
    try:
        ctx.start, ctx.end = parse_time(start, "start"), parse_time(end, "end")
        ctx.window = window(con, ctx.start, ctx.end)
    except NoData as e:
        ctx.problem = ("No data yet", str(e))
    except BadInput as e:
        ctx.problem = ("Cannot show this time range", str(e))
    return ctx


def new_page(ctx: Context, name: str, title: str) -> Page:
    """A page whose header says what 'now' is, which forecast run it shows and how old the last run is."""
    parts = []
    w = ctx.window
    if w is not None:
        parts.append(f"as of {w.as_of:%Y-%m-%d %H:%M} UTC")
        parts.append(f"showing {w.label()}")
        parts.append(f"forecast run {w.run_id}" if w.run_id else "no forecast yet")
    last = reports.runs(ctx.con, 1)
    if len(last):
        r = last.iloc[0]
        when = r["finished"] if r["finished"] is not None and str(r["finished"]) != "NaT" else r["started"]
        parts.append(f"last run: {r['kind']} {r['status']}, {style.age((utcnow() - when).total_seconds())} ago")
    from .html import esc

    return Page(name, title, " · ".join(esc(p) for p in parts))
