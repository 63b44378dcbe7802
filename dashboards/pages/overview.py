"""Overview: traffic and its forecast, spikes ahead, the costliest routes, budget burn, last run."""

from __future__ import annotations

import datetime as dt

from forecaster import plots
from forecaster.plots import style
from forecaster.store import reports
from forecaster.store.db import utcnow

from forecaster.plots import Window

from ..context import Context, new_page
from ..html import Page, grid, kpis, notice


def render(ctx: Context) -> Page:
    page = new_page(ctx, "overview", "Overview")
    if ctx.problem or ctx.window is None:
        page.add(notice(*(ctx.problem or ("No data yet", "nothing to show"))))
        return page
    w = ctx.window
    page.add(kpis(headline(ctx, w)))
    if not w.run_id:
        page.add(notice("No forecast yet", "Traffic is shown as recorded; run `forecaster forecast` "
                                           "(or `./run demo`) to see the next 72 hours and the spikes coming."))
    page.add(grid(page.chart(lambda: plots.traffic_total(ctx.con, w, title="All traffic: requests per hour")),
                  page.chart(lambda: plots.traffic_by_api(ctx.con, w))))
    page.add(grid(page.chart(lambda: plots.spike_timeline(ctx.con, w))))
    page.add(grid(page.chart(lambda: plots.top_routes(ctx.con, "usd")),
                  page.chart(lambda: plots.top_routes(ctx.con, "g_co2e"))))
    page.add(grid(page.chart(lambda: plots.budget_burn(ctx.con, ctx.settings))))
    return page


def headline(ctx: Context, w: Window) -> list[tuple[str, str, str, bool]]:
    con = ctx.con
    out = []
    week = reports.traffic(con, w.as_of - dt.timedelta(days=7), w.as_of)
    out.append(("requests, last 7 days", style.count(week["requests"].sum()), "recorded", False))
    if w.run_id:
        fc = reports.forecast(con, w.run_id, series=["total"])
        out.append(("requests, next 72 h", style.count(fc["yhat"].sum()) if len(fc) else "–", "forecast", False))
        sp = reports.spikes(con, w.run_id)
        likely = sp[sp["probability"] >= 0.5]
        out.append(("spikes ahead", f"{len(sp)}", f"{len(likely)} with P ≥ 50%" +
                    (f"; first in {style.hours(sp['lead_time_hours'].min())}" if len(sp) else ""), len(likely) > 0))
    mtd = reports.costs(con, ["projection:actual"], "kind")
    if mtd.empty:
        mtd = reports.costs(con, ["actual"], "kind")
    proj = reports.costs(con, ["projection:actual", "projection:forecast", "projection:run_rate"], "kind")
    if len(mtd):
        out.append(("cost, month to date", style.usd(mtd["usd"].sum()), "recorded", False))
    if len(proj):
        total = proj["usd"].sum()
        budget = plots.budgets(con, ctx.settings).get("*")
        small = f"{style.percent(total / budget)} of {style.usd(budget)} budget" if budget else "no account budget set"
        out.append(("month-end projection", style.usd(total), small, bool(budget and total > budget)))
    g = reports.carbon(con, ["actual"], "kind")
    if len(g):
        out.append(("carbon, recorded", style.grams(g["g_co2e"].sum()), "this month's priced traffic", False))
    last = reports.runs(con, 1)
    if len(last):
        r = last.iloc[0]
        age = (utcnow() - r["started"]).total_seconds()
        out.append(("last run", f"{r['status']}", f"{r['kind']}, {style.age(age)} ago", r["status"] != "ok"))
    else:
        out.append(("last run", "none", "no run recorded", True))
    return out
