"""Cost & carbon: by route, region and component; month to date and projected; budgets; intensity."""

from __future__ import annotations

from forecaster import plots
from forecaster.plots import style
from forecaster.store import reports

from ..context import Context, new_page
from ..html import Page, card, grid, h2, kpis, notice, table


def render(ctx: Context) -> Page:
    page = new_page(ctx, "costs", "Cost & carbon")
    if ctx.problem or ctx.window is None:
        page.add(notice(*(ctx.problem or ("No data yet", "nothing to show"))))
        return page
    con = ctx.con
    mtd = reports.costs(con, ["projection:actual"], "kind")
    mtd = mtd if len(mtd) else reports.costs(con, ["actual"], "kind")
    proj = reports.costs(con, ["projection:actual", "projection:forecast", "projection:run_rate"], "kind")
    g = reports.carbon(con, ["actual"], "kind")
    per_req = reports.carbon_intensity(con)
    items = []
    if len(mtd):
        items.append(("cost, month to date", style.usd(mtd["usd"].sum()), "recorded traffic", False))
    if len(proj):
        items.append(("month-end projection", style.usd(proj["usd"].sum()), "recorded + forecast + run-rate", False))
    if len(g):
        items.append(("carbon, recorded", style.grams(g["g_co2e"].sum()), "gCO2e of priced traffic", False))
    if len(per_req) and per_req["requests"].sum() > 0:
        mg = 1000 * (per_req["g_per_request"] * per_req["requests"]).sum() / per_req["requests"].sum()
        items.append(("carbon per request", f"{mg:.3f} mg", "CO2e, all regions", False))
    if items:
        page.add(kpis(items))
    page.add(budgets(ctx))
    page.add(grid(page.chart(lambda: plots.costs_by(con, "route")), page.chart(lambda: plots.carbon_by(con, "route"))))
    page.add(grid(page.chart(lambda: plots.costs_by(con, "region")), page.chart(lambda: plots.carbon_by(con, "region"))))
    page.add(grid(page.chart(lambda: plots.costs_by(con, "component")),
                  page.chart(lambda: plots.carbon_by(con, "component"))))
    page.add(grid(page.chart(lambda: plots.budget_burn(con, ctx.settings)), page.chart(lambda: plots.carbon_intensity(con))))
    return page


def budgets(ctx: Context) -> str:
    """Each configured budget with the latest pricing run's projection and alert."""
    budgets = plots.budgets(ctx.con, ctx.settings)
    if not budgets:
        return card(notice("No budgets set", "Set `budgets` (USD per month per '*', api or route) to get alerts "
                                             "when the month-end projection crosses one."))
    run = reports.latest_run(ctx.con, "costs")
    alerts = {a["scope"]: a for a in (run or {}).get("summary", {}).get("alerts", [])}
    rows = []
    for scope, budget in sorted(budgets.items()):
        a = alerts.get(scope)
        rows.append([scope, style.usd(budget), style.usd(a["projected_usd"]) if a else "within budget",
                     style.percent(a["ratio"]) if a else "", f"{a['crosses_at'][:16].replace('T', ' ')} UTC" if a else ""])
    return h2("Budgets") + card(table(["scope", "budget / month", "projected", "of budget", "crosses at"], rows,
                                      numeric=(1, 2, 3)))
