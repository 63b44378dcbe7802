"""Route: one route's actual vs forecast, its spikes and events, model accuracy, latency, errors."""

from __future__ import annotations

from forecaster import plots
from forecaster.plots import style
from forecaster.store import reports

from ..context import Context, new_page
from ..html import Page, card, esc, grid, h2, kpis, notice, records, table


def default_route(con) -> str | None:
    r = reports.routes(con)
    return r["series"].iloc[0] if len(r) else None


def render(ctx: Context) -> Page:
    page = new_page(ctx, "route", "Route")
    if ctx.problem or ctx.window is None:
        page.add(notice(*(ctx.problem or ("No data yet", "nothing to show"))))
        return page
    series = ctx.route or default_route(ctx.con)
    ctx.route = series
    page.add(selector(ctx, series))
    if series is None:
        page.add(notice("No routes yet", "No traffic has been loaded: run `forecaster ingest` (or `./run demo`)."))
        return page
    if not series.startswith("route:"):
        series = ctx.route = "route:" + series
    w = ctx.window
    known = set(reports.routes(ctx.con)["series"])
    if series not in known:
        page.add(notice("No data for this route", f"{series.removeprefix('route:')} has no traffic in this "
                        "database; pick one of the routes above."))
        return page
    bt = reports.backtest_accuracy(ctx.con, w.run_id, series) if w.run_id else None
    if bt is not None and len(bt):
        chosen = bt[bt["chosen"]].iloc[0] if bt["chosen"].any() else bt.iloc[0]
        page.add(kpis([
            ("model", str(chosen["model"]), "chosen by backtest", False),
            ("relMAE", f"{chosen['rel_mae']:.2f}", "backtest MAE ÷ the weekly naive's (1.00)",
             bool(chosen["rel_mae"] >= 1)),
            ("80% interval coverage", style.percent(chosen["coverage_80"]), "in backtest folds", False),
            ("95% interval coverage", style.percent(chosen["coverage_95"]), "in backtest folds", False),
        ]))
    page.add(grid(page.chart(lambda: plots.route_forecast(ctx.con, ctx.settings, w, series))))
    page.add(grid(page.chart(lambda: plots.backtest_accuracy(ctx.con, w, series)),
                  page.chart(lambda: plots.route_latency(ctx.con, w, series)),
                  page.chart(lambda: plots.route_errors(ctx.con, w, series))))
    if w.run_id:
        sp = reports.spikes(ctx.con, w.run_id, series=series)
        if len(sp):
            page.add(h2("Spikes ahead on this route"))
            page.add(card(table(
                ["starts", "peak at", "peak / h", "× baseline", "P(exceed)", "lead time", "event", "why"],
                [[f"{r.start_ts:%a %d %b %H:%M}", f"{r.peak_ts:%a %d %H:%M}", style.count(r.peak, ""), f"{r.ratio:.1f}×",
                  style.percent(r.probability), style.hours(r.lead_time_hours), r.event or "", r.reason]
                 for r in records(sp)], numeric=(2, 3, 4, 5))))
    return page


def selector(ctx: Context, series: str | None) -> str:
    """Served: a form (route, start, end). Exported: links to the routes exported beside this page."""
    links = ctx.links
    if not links.served:
        if not links.route_files:
            return ""
        items = " · ".join(
            f"<a href='{esc(f)}'>{'<b>' if s == series else ''}{esc(s.removeprefix('route:'))}{'</b>' if s == series else ''}</a>"
            for s, f in links.route_files.items())
        return card(f"<span class=muted>routes exported:</span> {items}")
    opts = "".join(f"<option value='{esc(s)}'{' selected' if s == series else ''}>{esc(s.removeprefix('route:'))} "
                   f"({style.count(n)})</option>" for s, n in reports.routes(ctx.con)[["series", "requests"]].itertuples(index=False))
    p = ctx.params
    return (f"<form class=controls method=get action='{esc(links.page('route'))}'>"
            f"<label>route<select name=route>{opts}</select></label>"
            f"<label>from (UTC)<input type=datetime-local name=start value='{esc(p['start'] or '')}'></label>"
            f"<label>to (UTC)<input type=datetime-local name=end value='{esc(p['end'] or '')}'></label>"
            f"<button type=submit>show</button></form>")
