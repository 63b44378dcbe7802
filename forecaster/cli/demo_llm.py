"""The demo's AI-traffic section: the top token spenders, their month-end projection, the token spikes."""

from __future__ import annotations

import datetime as dt

from rich.console import Console

from .common import keyed_table


def show_token_spenders(con, settings, now: dt.datetime, console: Console, limit: int = 6) -> None:
    """Model spend by route and by client (API key / identity) as of ``now``: month to date, month-end
    projection, flags (unknown models stand out, never priced at zero), then the week's token spikes."""
    from ..pricing.model_spend import token_spikes
    from ..pricing.model_store import has_tokens, model_catalog_for, model_spend_from_db
    from ..store import llm as store_llm

    if not has_tokens(con):
        console.print("no model-call logs loaded")
        return
    spend = model_spend_from_db(con, settings, project=True, as_of=now).to_dict()
    proj = spend["projection"]
    for by in ("route", "client"):
        month_end = {r["key"]: r for r in proj[f"by_{by}"]}
        t = keyed_table(f"top token spenders by {by}, {proj['month']} (as of {now:%Y-%m-%d %H:%M})", by, 14)
        for col in ("calls", "in tok", "out tok", "to date", "month-end"):
            t.add_column(col, justify="right", no_wrap=True)
        t.add_column("flags", overflow="fold", max_width=16)
        for r in spend[f"by_{by}"][:limit]:
            p = month_end.get(r["key"], {})
            t.add_row(r["key"], f"{r['requests']:,}", f"{r['input_tokens']:,}", f"{r['output_tokens']:,}",
                      f"${r['usd']:,.2f}", f"${p.get('usd', 0.0):,.2f}", ", ".join(r["flags"]))
        console.print(t)
    console.print(f"model spend {proj['month']}: ${spend['total_usd']:,.2f} to date, "
                  f"${proj['total_usd']:,.2f} projected at month end (catalog {spend['catalog']})")
    for u in spend["unpriced_models"]:
        console.print(f"[red]unknown model[/red] {u['provider']}/{u['model']} ({u['region']}): "
                      f"{u['input_tokens'] + u['output_tokens']:,} tokens not priced — add a \\[\\[model_price]] row")
    for a in spend.get("alerts", []):
        console.print(f"[red]budget alert[/red] {a['message']}")
    m0 = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    hourly = store_llm.hourly(con, m0 - dt.timedelta(days=14), now)
    for s in token_spikes(hourly, model_catalog_for(settings), top=1):
        console.print(f"token spike: {s.message}")
    show_model_routing(con, settings, now, console)


def show_model_routing(con, settings, now: dt.datetime, console: Console) -> None:
    """The best model-routing recommendation decide would make as of ``now`` (the what-if of moving a
    share of a route's calls to a cheaper model), or why there is none."""
    from ..carbon.coefficients import load_coefficients
    from ..carbon.intensity import load_static
    from ..decide.models import describe, model_route_options, pays
    from ..decide.service import llm_inputs

    coef = load_coefficients(settings.carbon_coefficients_file)
    llm = llm_inputs(con, settings, now, coef.pue, coef.unknown_region_g_per_kwh)
    if llm is None:
        return
    opts = model_route_options(llm.calls, llm.latency, settings, llm.catalog, llm.energy, llm.pue, load_static(),
                               llm.unknown_g_per_kwh, now)
    paying = sorted((o for o in opts if pays(o, settings)), key=lambda o: (-o.usd_saved_month, -o.g_co2e_saved_month))
    if not paying:
        console.print(f"model routing: no cheaper model or region saves ${settings.decide_model_route_min_usd_month:,.2f}"
                      f" or {settings.decide_model_route_min_g_co2e_month:,.0f} gCO2e a month on any route")
        return
    console.print(f"[bold]model routing[/bold] (a route recommendation of decide): {describe(paying[0])}")
