"""Decisions: recommendations in force with reason and impact, limits vs traffic, the audit log."""

from __future__ import annotations

import datetime as dt
import functools
import math

from forecaster import plots
from forecaster.plots import style
from forecaster.store import reports

from ..context import Context, new_page
from ..html import Page, card, grid, h2, notice, records, table

IN_FORCE = ["proposed", "applied", "forecast_only"]


def _impact(d: dict) -> str:
    def fmt(v):
        if isinstance(v, float) and not math.isnan(v):
            return f"{v:,.2f}" if abs(v) < 100 else f"{v:,.0f}"
        return str(v)
    return "; ".join(f"{k.replace('_', ' ')} {fmt(v)}" for k, v in d.items())


def _window(r) -> str:
    a = f"{r.valid_from:%d %b %H:%M}" if r.valid_from is not None and str(r.valid_from) != "NaT" else "now"
    b = f"{r.valid_to:%d %b %H:%M}" if r.valid_to is not None and str(r.valid_to) != "NaT" else "open"
    return f"{a} – {b}"


def render(ctx: Context) -> Page:
    page = new_page(ctx, "decisions", "Decisions")
    if ctx.problem or ctx.window is None:
        page.add(notice(*(ctx.problem or ("No data yet", "nothing to show"))))
        return page
    con, w = ctx.con, ctx.window
    rec = reports.recommendations(con, statuses=IN_FORCE)
    page.add(h2("Recommendations in force"))
    if rec.empty:
        page.add(card(notice("No recommendations yet", "Run `forecaster decide` after a forecast: throttle limits, "
                                                       "pre-warm windows and region weights land here with their reasons.")))
    else:
        rows = [[r.kind, r.target, _window(r), r.status, r.rationale or "", _impact(r.expected_impact)]
                for r in records(rec)]
        page.add(card(table(["kind", "target", "valid (UTC)", "status", "why", "expected impact"], rows)))
        targets = plots.throttle_targets(con)[:3]
        if targets:
            page.add(h2("Throttle limits against traffic"))
            page.add(grid(*[page.chart(functools.partial(plots.limits_vs_traffic, con, w, t)) for t in targets]))
    page.add(replay_section(ctx, w, page))
    page.add(h2("Audit log: applied and rolled-back actions"))
    act = reports.actions(con)
    if act.empty:
        page.add(card(notice("No actions yet", "Nothing has been planned or applied: `forecaster plan`, then "
                                               "`forecaster apply` records every call here, dry runs included.")))
    else:
        rows = [[f"{a.at_ts:%Y-%m-%d %H:%M:%S}", a.actor or "", a.adapter, "dry run" if a.dry_run else "live",
                 a.outcome or "", a.kind or "", a.target or a.recommendation_id or "", a.error or ""]
                for a in act.itertuples()]
        page.add(card(table(["at (UTC)", "actor", "adapter", "mode", "outcome", "kind", "target", "error"], rows)))
    return page


def replay_section(ctx: Context, w: plots.Window, page: Page) -> str:
    """Static vs predictive throttling replayed on the week before 'now' for the page's route (default:
    the busiest): the table and the limits-vs-traffic chart."""
    from ..pages.route import default_route

    series = ctx.route or default_route(ctx.con)
    head = h2(f"Replay: static vs predictive throttling, the week before {w.as_of:%Y-%m-%d %H:%M}")
    if series is None:
        return head + card(notice("Nothing to replay", "No traffic has been loaded yet."))
    try:
        rp = plots.run_replay(ctx.con, ctx.settings, series, w.as_of - dt.timedelta(days=7), w.as_of)
    except plots.NoData as e:
        return head + card(notice("Nothing to replay", str(e)))
    rows = [[r.policy, style.count(r.requests, ""), style.count(r.throttled, ""), style.percent(r.throttled_share, 2),
             f"{r.capacity_ratio:.2f}", f"{r.overload_minutes:,}", f"{r.mean_limit_rps:,.1f}"]
            for r in records(rp.table())]
    tbl = table(["policy", "requests", "throttled", "throttled share", "capacity ratio", "minutes over capacity",
                 "mean limit rps"], rows, numeric=(1, 2, 3, 4, 5, 6))
    note = ("<p class=muted>capacity ratio: what the limits provision (Σ limit × seconds ÷ requests). The predictive "
            "policy re-forecasts from data before each hourly decision only.</p>")
    return head + grid(card(tbl + note), page.chart(lambda: plots.replay_limits(rp)))
