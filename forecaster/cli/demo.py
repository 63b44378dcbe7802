"""``forecaster demo``: the main job on the embedded default — sample logs -> DuckDB -> forecast -> price.

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

from ..ingest import ingest
from ..store import open_store
from ..store.db import run
from ..config import DEFAULT_CONFIG_FILE
from .common import ConfigOption, DbOption, load_settings
from .ingest import print_summary

# One file per simulated API (the other sample files are other views of the same requests), plus
# six weeks of hourly counts: see data/samples/README.md.
DEMO_LOGS = ("apigw_rest_json.log", "apigw_http.log", "apigw_websocket.log", "combined.log", "alb.log",
             "kong.log", "envoy.log", "counts_hourly.csv")
DEMO_AS_OF = "2026-11-25T05:00:00"
DEMO_CONFIG = Path(__file__).resolve().parents[1] / "data" / "demo.toml"   # budgets, Lambda sizes


def default_samples_dir() -> Path:
    """data/samples of the checkout this package runs from, else of the current directory."""
    here = Path(__file__).resolve().parents[2] / "data" / "samples"
    return here if here.is_dir() else Path("data/samples")


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
        """Run the pipeline on the sample data: ingest -> forecast -> spikes -> costs -> carbon."""
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
        with open_store(settings.db, settings) as con:
            console.rule("1. ingest")
            report = ingest(con, [str(samples_dir / n) for n in DEMO_LOGS], settings)
            print_summary(report, settings.db)
            show_traffic(con, console)
            console.rule("2. forecast the next 72 hours and find spikes")
            show_forecast(con, settings, now, events, console)
            console.rule("3. price it: dollars and grams of CO2e")
            show_costs(con, settings, now, console)
        console.rule()
        console.print(f"everything is in {settings.db}: try `forecaster spikes --db {settings.db}`, "
                      f"`forecaster costs --db {settings.db} --by api --forecast --as-of {as_of}`")
        if report.failed:
            raise typer.Exit(1)


def show_traffic(con, console: Console, limit: int = 8) -> None:
    """The busiest routes in the store, from the per-minute rollups."""
    rows = run(con, f"""
        SELECT api, route, region, sum(requests) AS requests,
               round(100.0 * sum(status_5xx) / sum(requests), 2) AS pct_5xx,
               round(sum(latency_p95_ms * latency_n) / nullif(sum(latency_n), 0), 1) AS p95_ms
        FROM traffic_1m GROUP BY ALL ORDER BY requests DESC LIMIT {int(limit)}
    """)
    total = run(con, "SELECT count(DISTINCT (api, stage, route, region)), coalesce(sum(requests), 0), "
                     "min(ts), max(ts) FROM traffic_1m")[0]
    t = Table(title=f"{total[1]:,} requests on {total[0]} routes, {total[2]:%Y-%m-%d} .. {total[3]:%Y-%m-%d} "
                    f"(busiest {limit})")
    for c in ("api", "route", "region", "requests", "5xx %", "p95 ms"):
        t.add_column(c, justify="right" if c in ("requests", "5xx %", "p95 ms") else "left")
    for api, route, region, req, p5, p95 in rows:
        t.add_row(api, route, region, f"{req:,}", f"{p5}", "-" if p95 is None else f"{p95}")
    console.print(t)


def show_forecast(con, settings, now: dt.datetime, events: Path, console: Console) -> None:
    from ..forecast.run import run_forecast
    from .forecast import print_summary as print_run

    summary = run_forecast(con, settings, as_of=now, events=str(events) if events.is_file() else None)
    print_run(summary, limit=12)
    rows = run(con, """
        SELECT series, start_ts, peak_ts, peak, ratio, probability, lead_time_hours, coalesce(event, '')
        FROM spikes WHERE run_id = ? ORDER BY ratio DESC LIMIT 10""", [summary.run_id])
    t = Table(title=f"spikes ahead (top {len(rows)} of {summary.spikes}, by ratio to expected traffic)")
    for c in ("series", "starts", "peak at", "peak/h", "x expected", "P(exceed)", "lead h", "event"):
        t.add_column(c, justify="right" if c in ("peak/h", "x expected", "P(exceed)", "lead h") else "left")
    for s, start, peak_ts, peak, ratio, p, lead, ev in rows:
        t.add_row(s, f"{start:%a %d %H:%M}", f"{peak_ts:%a %d %H:%M}", f"{peak:,.0f}", f"{ratio:.1f}x",
                  f"{p:.0%}", f"{lead:.0f}", ev)
    console.print(t)


def show_costs(con, settings, now: dt.datetime, console: Console) -> None:
    from ..carbon.store import report_from_db as carbon_report
    from ..carbon.store import write_report as write_carbon
    from ..pricing.store import report_from_db as cost_report
    from ..pricing.store import write_report as write_costs

    report, fc_run = cost_report(con, settings, forecast=True, as_of=now)
    write_costs(con, report, {"as_of": now.isoformat(), "forecast": True}, fc_run)
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
    c = carbon_report(con, settings, forecast=True, as_of=now)
    write_carbon(con, c)
    cd = c.to_dict("region")
    console.print(f"carbon month to date: [bold]{cd['total_g_co2e'] / 1000:,.2f} kg CO2e[/]; by region: "
                  + ", ".join(f"{r['key']} {r['g_co2e'] / 1000:,.2f} kg" for r in cd["rows"][:6]))
