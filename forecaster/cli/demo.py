"""``forecaster demo``: the main job on the embedded default — the pipeline (``forecaster.pipeline``) on the samples.

It is what the README's first command runs: a newcomer sees every stage work on the committed
samples, and the DuckDB file is left behind to explore (CLI, notebooks). The samples' "now" is
2026-11-25 05:00 UTC, two days before the Black Friday in them: the forecast sees it coming.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from ..pipeline import StepResult, run_pipeline
from ..store import forecasts as results
from ..store import open_store, traffic
from ..config import DEFAULT_CONFIG_FILE
from ..errors import ForecasterError
from .demo_llm import show_token_spenders
from ..sample_store import DEMO_AS_OF, DEMO_CONFIG, DEMO_LOGS, default_samples_dir
from .common import ConfigOption, DbOption, interruptible, keyed_table, load_settings
from .control import show_plan
from .decide import show_decisions
from .ingest import print_summary

DEMO_STEPS = ("ingest", "forecast", "price", "carbon")   # forecaster.pipeline's steps the demo shows


def demo_config(config: Optional[Path]) -> Optional[Path]:
    """The user's config when they have one (--config, $FORECASTER_CONFIG_FILE, ./forecaster.toml),
    else the packaged demo settings, so that the demo shows budgets and per-route Lambda sizes."""
    if config or os.environ.get("FORECASTER_CONFIG_FILE") or Path(DEFAULT_CONFIG_FILE).exists():
        return config
    return DEMO_CONFIG


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo_cmd(
        db: Optional[Path] = DbOption,
        samples: Optional[Path] = typer.Option(None, "--samples", help="directory of the sample data (default: data/samples)"),
        as_of: str = typer.Option(DEMO_AS_OF, "--as-of", help="the demo's 'now' (UTC)"),
        config: Optional[Path] = ConfigOption,
    ) -> None:
        """Run the pipeline on the sample data: ingest -> forecast -> spikes -> costs -> carbon -> decide."""
        if not sys.stdout.isatty():
            os.environ.setdefault("COLUMNS", "140")   # piped output: wide enough for the tables
        settings = load_settings(demo_config(config), db)
        samples_dir = samples or default_samples_dir()
        missing = [n for n in DEMO_LOGS if not (samples_dir / n).is_file()]
        if missing:
            raise typer.BadParameter(f"{samples_dir} lacks {', '.join(missing)}; see data/samples/README.md")
        events = samples_dir / "events.csv"
        now = dt.datetime.fromisoformat(as_of)
        console = Console()
        console.rule(f"[bold]forecaster demo[/] — {samples_dir} -> {settings.db}, as of {now:%Y-%m-%d %H:%M} UTC")
        from ..forecast.workers import models_of, prestart

        prestart(models_of(settings.forecast_model, settings.forecast_preset))  # workers get ready while logs load
        with interruptible(f"the demo stopped; {settings.db} keeps the steps finished so far"), \
                open_store(settings.db, settings) as con:
            console.rule("1. ingest")
            result = run_pipeline(settings, DEMO_STEPS, con=con, sources=[str(samples_dir / n) for n in DEMO_LOGS],
                                  as_of=now, events=str(events) if events.is_file() else None, force=True,
                                  progress=lambda sr: show_step(con, sr, settings, console), actor="demo")
            ingest = result.step("ingest")
            if ingest is None:
                raise ForecasterError(f"the demo's pipeline run has no ingest step; it ran {[s.step for s in result.steps]}")
            report = ingest.value
            console.rule("AI traffic: tokens per route and client, in dollars")
            show_token_spenders(con, settings, now, console)
            console.rule("4. decide: throttle limits, pre-warming, region weights, cache and WebSocket advice")
            show_decisions(con, settings, now, console, events_file=events if events.is_file() else None)
            console.rule("5. dashboards")
            from dashboards.demo import show_dashboards
            show_dashboards(con, settings, console)
            console.rule("6. plan: what forecaster would push to the gateways (a local moto server plays AWS)")
            show_plan(con, settings, now, console)
        console.rule()
        console.print(f"everything is in {settings.db}: try `forecaster spikes --db {settings.db}`, "
                      f"`forecaster costs --db {settings.db} --by api --forecast --as-of {as_of}`")
        if report.failed:
            raise typer.Exit(1)


def show_traffic(con, console: Console, limit: int = 8) -> None:
    """The busiest routes in the store, from the per-minute rollups."""
    rows = traffic.busiest_routes(con, limit)
    total = traffic.totals(con)
    t = Table(title=f"{total.requests:,} requests on {total.routes} routes, {total.first:%Y-%m-%d} .. "
                    f"{total.last:%Y-%m-%d} (busiest {limit})")
    for c in ("api", "route", "region", "requests", "5xx %", "p95 ms"):
        t.add_column(c, justify="right" if c in ("requests", "5xx %", "p95 ms") else "left")
    for r in rows:
        p95 = r["p95_ms"]
        t.add_row(r["api"], r["route"], r["region"], f"{r['requests']:,}", f"{r['pct_5xx']}",
                  "-" if p95 is None else f"{p95}")
    console.print(t)


def show_step(con, sr: StepResult, settings, console: Console) -> None:
    """Each pipeline step's section of the demo, as the step finishes."""
    if sr.step == "ingest":
        print_summary(sr.value, settings.db)
        show_traffic(con, console)
    elif sr.step == "forecast":
        console.rule("2. forecast the next 72 hours and find spikes")
        show_forecast(con, sr.value, console)
    elif sr.step == "price":
        console.rule("3. price it: dollars and grams of CO2e")
        show_costs(sr.value, console)
    elif sr.step == "carbon":
        show_carbon(sr.value, console)


def show_forecast(con, summary, console: Console) -> None:
    from .forecast import print_summary as print_run

    print_run(summary, limit=12)
    rows = results.top_spikes(con, summary.run_id, 10)
    t = keyed_table(f"spikes ahead (top {len(rows)} of {summary.spikes}, by ratio to expected traffic; "
                    f"lead h: hours until it starts)", "series", 16)
    t.add_column("peak at", no_wrap=True)
    for c in ("peak/h", "x exp", "P", "lead h"):
        t.add_column(c, justify="right", no_wrap=True)
    t.add_column("event", overflow="fold", max_width=12)
    for r in rows:
        t.add_row(r["series"], f"{r['peak_ts']:%a %H:%M}", f"{r['peak']:,.0f}",
                  f"{r['ratio']:.1f}x", f"{r['probability']:.0%}", f"{r['lead_time_hours']:.0f}", r["event"])
    console.print(t)


def show_costs(report, console: Console) -> None:
    out = report.to_dict("api")
    t = Table(title=f"cost by api, {out['from'][:16]} .. {out['to'][:16]} (month to date)")
    t.add_column("api")
    t.add_column("usd", justify="right")
    t.add_column("flags (README: Costs and carbon)", overflow="fold")
    for r in out["rows"]:
        t.add_row(str(r["key"]), f"${r['usd']:,.2f}", ", ".join(r.get("flags", [])))
    console.print(t)
    p = out.get("projection")
    if p:
        console.print(f"month to date ${out['total_usd']:,.2f}; next 72 h ${out['forecast']['total_usd']:,.2f} "
                      f"(forecast); month-end projection {p['month']}: [bold]${p['total_usd']:,.2f}[/]")
    for a in out.get("alerts", []):
        console.print(f"[red]budget alert[/red] {a['message']}")


def show_carbon(c, console: Console) -> None:
    cd = c.to_dict("region")
    console.print(f"carbon month to date: [bold]{cd['total_g_co2e'] / 1000:,.2f} kg CO2e[/]; by region: "
                  + ", ".join(f"{r['key']} {r['g_co2e'] / 1000:,.2f} kg" for r in cd["rows"][:6]))
