"""The page shell and its parts: header, navigation, charts, tables, notices, headline numbers.

One self-contained HTML document per page: plotly.js is inlined once in the head, every chart is
a div plus a ``Plotly.newPlot`` call, and nothing is fetched from anywhere (no CDN, no fonts, no
MathJax), so a page opens from disk with the network off.
"""

from __future__ import annotations

import dataclasses
import functools
import html
import itertools
from typing import Any, Callable, Iterable

import plotly.graph_objects as go
import plotly.offline

from forecaster.errors import BadInput
from forecaster.plots import NoData

PLOTLY_CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["select2d", "lasso2d"],
                 "toImageButtonOptions": {"format": "png", "scale": 2}}

CSS = """
:root { --fg: #222; --muted: #5f6b7a; --line: #dde3ea; --bg: #f6f8fa; --accent: #0072B2; --warn: #D55E00; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
header { background: #fff; border-bottom: 1px solid var(--line); padding: 10px 24px; display: flex; flex-wrap: wrap;
         align-items: baseline; gap: 8px 24px; position: sticky; top: 0; z-index: 10; }
header h1 { font-size: 18px; margin: 0; }
header .meta { color: var(--muted); font-size: 13px; }
nav a { margin-right: 14px; color: var(--accent); text-decoration: none; font-weight: 500; }
nav a.here { color: var(--fg); border-bottom: 2px solid var(--accent); }
main { padding: 16px 24px 40px; max-width: 1500px; margin: 0 auto; }
.grid { display: grid; grid-template-columns: minmax(0, 1fr); gap: 16px; margin-bottom: 16px; }
.grid.c2 { grid-template-columns: repeat(2, minmax(0, 1fr)); }
.grid.c3 { grid-template-columns: repeat(3, minmax(0, 1fr)); }
@media (max-width: 1100px) { .grid.c2, .grid.c3 { grid-template-columns: minmax(0, 1fr); } }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 8px 12px; min-width: 0; overflow: hidden; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px; margin-bottom: 16px; }
.kpi { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.kpi .v { font-size: 22px; font-weight: 600; }
.kpi .l { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .03em; }
.kpi .s { color: var(--muted); font-size: 12px; }
.kpi.bad .v { color: var(--warn); }
.notice { background: #fff8e6; border: 1px solid #f0d48a; border-radius: 8px; padding: 14px 16px; margin: 8px 0; }
.notice b { display: block; margin-bottom: 4px; }
h2 { font-size: 16px; margin: 22px 0 8px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; background: #fff; }
th, td { text-align: left; padding: 6px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { color: var(--muted); font-weight: 600; background: #fafbfc; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
form.controls { display: flex; flex-wrap: wrap; gap: 10px; align-items: end; margin-bottom: 12px; }
form.controls label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); }
form.controls select, form.controls input { font: inherit; padding: 4px 6px; }
.muted { color: var(--muted); }
"""


@dataclasses.dataclass
class Links:
    """Where the pages live: files side by side (export) or URLs under a prefix (served)."""

    served: bool = False
    prefix: str = "/dashboards"
    route_files: dict[str, str] = dataclasses.field(default_factory=dict)   # export: series -> file

    def page(self, name: str, **params: str | None) -> str:
        if not self.served:
            route = params.get("route")
            if name == "route" and route is not None and route in self.route_files:
                return self.route_files[route]
            return FILES[name]
        from urllib.parse import urlencode

        q = urlencode({k: v for k, v in params.items() if v})
        return f"{self.prefix}/{name}" + (f"?{q}" if q else "")


FILES = {"overview": "overview.html", "route": "route.html", "costs": "cost-carbon.html", "decisions": "decisions.html"}
TITLES = {"overview": "Overview", "route": "Route", "costs": "Cost & carbon", "decisions": "Decisions"}


class Page:
    """Blocks of HTML and the charts they hold, rendered into one document."""

    def __init__(self, name: str, title: str, meta: str = ""):
        self.name, self.title, self.meta = name, title, meta
        self.blocks: list[str] = []
        self.charts = 0
        self.notices = 0
        self._ids = itertools.count(1)

    def add(self, block: str) -> None:
        self.blocks.append(block)

    def chart(self, build: Callable[[], go.Figure]) -> str:
        """A card with the figure, or with a notice saying why there is none."""
        try:
            fig = build()
        except (NoData, BadInput) as e:
            return card(notice("Nothing to show here yet" if isinstance(e, NoData) else "Cannot show this", str(e)))
        self.charts += 1
        div = fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"chart-{self.name}-{next(self._ids)}",
                          config=PLOTLY_CONFIG, default_width="100%")
        return card(div)

    def render(self, links: Links, params: dict[str, str | None] | None = None) -> str:
        nav = " ".join(
            f'<a href="{html.escape(links.page(n, **(params or {}) if n == "route" else {}))}"'
            f'{" class=here" if n == self.name else ""}>{t}</a>' for n, t in TITLES.items())
        return (f"<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
                f"<meta name=viewport content='width=device-width, initial-scale=1'>"
                f"<title>{html.escape(self.title)} — forecaster</title>"
                f"<link rel=icon href='data:,'><style>{CSS}</style>"
                f"<script>{plotly_js()}</script></head><body>"
                f"<header><h1>forecaster · {html.escape(self.title)}</h1><nav>{nav}</nav>"
                f"<span class=meta>{self.meta}</span></header><main>{''.join(self.blocks)}</main>"
                f"<script>{RESIZE_JS}</script></body></html>")


# Charts are drawn as the page parses; fit each to its card once the layout is final.
RESIZE_JS = ("window.addEventListener('load', () => document.querySelectorAll('.js-plotly-plot')"
             ".forEach(gd => Plotly.Plots.resize(gd)));")


@functools.lru_cache(maxsize=1)
def plotly_js() -> str:
    """plotly.min.js of the installed plotly, to inline once per page."""
    return plotly.offline.get_plotlyjs()


def esc(value) -> str:
    return html.escape("" if value is None else str(value))


def card(inner: str) -> str:
    return f"<div class=card>{inner}</div>"


def grid(*cards: str) -> str:
    """Cards side by side (one column on narrow screens); the column count is fixed up front so a
    chart drawn while the page is still loading keeps its width."""
    cls = {1: "grid", 2: "grid c2"}.get(len(cards), "grid c3")
    return f"<div class='{cls}'>{''.join(cards)}</div>"


def notice(title: str, message: str) -> str:
    return f"<div class=notice role=status><b>{esc(title)}</b>{esc(message)}</div>"


def h2(text: str) -> str:
    return f"<h2>{esc(text)}</h2>"


def kpis(items: Iterable[tuple[str, str, str, bool]]) -> str:
    """Headline numbers: (label, value, small print, is_bad)."""
    return "<div class=kpis>" + "".join(
        f"<div class='kpi{' bad' if bad else ''}'><div class=l>{esc(label)}</div><div class=v>{esc(value)}</div>"
        f"<div class=s>{esc(small)}</div></div>" for label, value, small, bad in items) + "</div>"


def table(columns: list[str], rows: Iterable[list], numeric: Iterable[int] = ()) -> str:
    numeric = set(numeric)
    head = "".join(f"<th>{esc(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td class=num>{esc(v)}</td>" if i in numeric else f"<td>{esc(v)}</td>"
                                    for i, v in enumerate(r)) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def records(frame: Any) -> list[Any]:
    """A frame's rows as named tuples, typed loosely: pandas-stubs type each field as any scalar
    (str | bytes | date | ... | None), which no formatter accepts."""
    return list(frame.itertuples())
