"""The ops pages: overview, route, cost & carbon, decisions.

``render_page(name, con, settings, **params)`` gives one page as a self-contained HTML document;
``export(out_dir, con, settings)`` writes them all to files that open from disk; ``web.router``
serves them under ``/dashboards/``. The figures come from :mod:`forecaster.plots`.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from forecaster.config import Settings
from forecaster.errors import UnknownName

from .context import context
from .html import FILES, Links
from .pages import costs, decisions, overview, route

log = logging.getLogger(__name__)

PAGES = {"overview": overview.render, "route": route.render, "costs": costs.render, "decisions": decisions.render}
EXPORT_ROUTES = 5   # route pages written by export: the busiest routes


def render_page(name: str, con, settings: Settings, links: Links | None = None, **params) -> str:
    """One page as HTML. ``params``: ``start``, ``end`` (ISO, UTC) and, for the route page, ``route``
    (a series id such as ``route:shop|prod|GET /products|us-east-1``)."""
    if name not in PAGES:
        raise UnknownName("dashboard page", name, list(PAGES))
    links = links or Links()
    ctx = context(con, settings, links, params.get("start"), params.get("end"), params.get("route"))
    page = PAGES[name](ctx)
    return page.render(links, ctx.params)


def _slug(series: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", series.removeprefix("route:").lower()).strip("-")[:80]


def export(out_dir: Path | str, con, settings: Settings, routes: int = EXPORT_ROUTES) -> list[Path]:
    """Write every page (and a route page for each of the busiest ``routes``) to ``out_dir``;
    the paths written, the overview first."""
    from forecaster.store import reports

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    busiest = list(reports.routes(con)["series"].head(routes))
    route_files = {s: ("route.html" if i == 0 else f"route-{_slug(s)}.html") for i, s in enumerate(busiest)}
    links = Links(served=False, route_files=route_files)
    written = []
    for name in PAGES:
        if name == "route":
            continue
        path = out / FILES[name]
        path.write_text(render_page(name, con, settings, links), encoding="utf-8")
        written.append(path)
    for series, fname in (route_files.items() or [(None, "route.html")]):
        path = out / fname
        path.write_text(render_page("route", con, settings, links, route=series), encoding="utf-8")
        written.append(path)
    log.info("dashboards written to %s: %d pages", out, len(written))
    return written
