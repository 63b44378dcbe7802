"""``forecaster decide | replay``: recommendations from a forecast run; throttle policies proven on
recorded traffic."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table

from ..errors import BadInput
from ..store import open_store
from .common import ConfigOption, DbOption, JsonOption, interruptible, load_settings, print_json, require_db


def register(app: typer.Typer) -> None:
    @app.command("decide")
    def decide_cmd(
        db: Optional[Path] = DbOption,
        run_id: Optional[str] = typer.Option(None, "--run", help="forecast run id (default: the latest)"),
        kinds: Optional[str] = typer.Option(None, "--kinds", help="throttle,prewarm,route,cache,websocket (default: all)"),
        as_of: Optional[dt.datetime] = typer.Option(None, "--as-of", help="first window (UTC; default: the forecast's start)"),
        limit: int = typer.Option(15, "--limit", help="recommendations shown (the summary counts all)"),
        as_json: bool = JsonOption, config: Optional[Path] = ConfigOption,
    ) -> None:
        """Turn a forecast run into throttle, prewarm, route, cache and WebSocket recommendations."""
        from ..decide import decide

        settings = load_settings(config, db)
        require_db(settings.db)
        with interruptible("the decide run stopped before it wrote anything"), \
                open_store(settings.db, settings) as con:
            result = decide(con, settings, run_id=run_id, kinds=kinds, as_of=as_of)
        if as_json:
            print_json(result.to_dict())
            return
        print_decisions(result, Console(), limit)

    @app.command("replay")
    def replay_cmd(
        db: Optional[Path] = DbOption,
        series: str = typer.Option("total", "--series", help="route:API|STAGE|ROUTE|REGION, api:API, stage:API|STAGE, region:R or total"),
        start: Optional[dt.datetime] = typer.Option(None, "--from", help="replay from (UTC; default: 7 days before the end)"),
        end: Optional[dt.datetime] = typer.Option(None, "--to", help="replay until (UTC, exclusive; default: the end of the data)"),
        policy: str = typer.Option("static,daily_peak,reactive,predictive", "--policy", help="policies, comma-separated"),
        every: str = typer.Option("1h", "--decide-every", help="time between decisions (e.g. 1h, 30m)"),
        history_days: float = typer.Option(28.0, "--history-days", help="history before --from the policies learn from"),
        events: Optional[Path] = typer.Option(None, "--events", help="events calendar whose uplifts the predictive policy knows ahead (default: settings.events_file)"),
        limits_out: Optional[Path] = typer.Option(None, "--limits-out", help="CSV policy,series,minute,limit_rps"),
        as_json: bool = JsonOption, config: Optional[Path] = ConfigOption,
    ) -> None:
        """Replay recorded traffic through a token-bucket gateway under each throttle policy."""
        import pandas as pd

        from ..decide.replay import load_traffic, replay

        settings = load_settings(config, db)
        try:
            every_s = pd.Timedelta(every).total_seconds()
        except ValueError:
            raise BadInput(f"--decide-every must be a duration like 1h or 30m, got {every!r}") from None
        if every_s <= 0:
            raise BadInput(f"--decide-every must be positive, got {every!r}")
        names = [p.strip() for p in policy.split(",") if p.strip()]
        require_db(settings.db)
        with interruptible("the replay stopped; it writes nothing"), open_store(settings.db, settings) as con:
            tr = load_traffic(con, series, pd.Timestamp(start) if start else None, pd.Timestamp(end) if end else None,
                              history_days=history_days, events_file=events or settings.events_file, settings=settings)
        limits: dict = {}
        out = replay(tr, settings, names, every_s=every_s, limits=limits)
        if limits_out:
            write_limits(limits_out, tr, limits)
        if as_json:
            print_json(out)
            return
        print_replay(out, Console())


def write_limits(path: Path, tr, limits: dict) -> None:
    """CSV ``policy,series,minute,limit_rps``: each minute of the replay and the limit in force."""
    import numpy as np

    ts = tr.ts[tr.start:]
    per = max(1, int(round(tr.step_s / 60)))
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["policy", "series", "minute", "limit_rps"])
        for name, lim in limits.items():
            for i, t in enumerate(ts):
                for k in range(per):
                    w.writerow([name, tr.series, (t + np.timedelta64(k, "m")).strftime("%Y-%m-%dT%H:%M:%S"),
                                repr(float(lim[i]))])


def print_replay(out: dict, console: Console) -> None:
    t = Table(title=f"replay of {out['series']}, {out['from'][:16]} .. {out['to'][:16]} (step {out['step_s'] / 60:g} min)",
              show_edge=False)
    priced = "usd" in out["policies"][0]
    rows = []
    for p in out["policies"]:
        rows.append([p["policy"], f"{p['requests']:,}", f"{p['throttled']:,.0f}", f"{p['throttled_share']:.3%}",
                     f"{p['capacity_ratio']:.2f}", f"{p['overload_minutes']:,}", f"{p['mean_limit_rps']:,.1f}"])
    # headers on two lines so that the table fits 80 columns with every number whole
    cols = ["policy", "requests", "throttled", "share", "capacity\nratio", "minutes\nover", "mean\nrps"]
    for i, c in enumerate(cols):
        t.add_column(c, justify="left" if i == 0 else "right", no_wrap=True,
                     min_width=max(len(r[i]) for r in rows) if rows else None)
    for r in rows:
        t.add_row(*r)
    console.print(t)
    if priced:   # a line each, so that the table above stays within 80 columns
        console.print("admitted requests cost: " + "; ".join(
            f"{p['policy']} ${p['usd']:,.2f}, {p['g_co2e']:,.0f} gCO2e" for p in out["policies"]))


def print_decisions(result, console: Console, limit: int = 15) -> None:
    counts = ", ".join(f"{k} {sum(v.values()):,} ({', '.join(f'{n:,} {s}' for s, n in sorted(v.items()))})"
                       for k, v in result.counts().items())
    console.print(f"decide run [bold]{result.run_id}[/] from forecast run {result.forecast_run_id}: "
                  f"{len(result.records):,} recommendations — {counts}; {result.superseded:,} earlier ones superseded")
    console.print(f"[bold]top {limit} recommendations[/] (one per target; spike windows and non-throttle advice first):")
    for r in top(result.records, limit):   # a list, not a table: the rationale is the point and needs the width
        when = f"{r.valid_from:%a %d %b %H:%M}" if r.valid_from else "now"
        console.print(f"[bold]{r.kind}[/] {escape(r.target)} from {when} ({r.status})", highlight=False)
        console.print(Padding(r.rationale, (0, 0, 0, 4)), highlight=False, markup=False)


def top(records: list, limit: int) -> list:
    """The records worth reading first: one of each kind, then throttle windows with a forecast
    spike (highest forecast peak first), then the rest — one record per target before any target
    shows twice (the hourly windows of one limit say the same thing)."""
    thr = sorted((r for r in records if r.kind == "throttle"),
                 key=lambda r: (-("spike" in r.rationale), -r.expected_impact.get("forecast_peak_rps", 0.0)))
    first, seen = [], set()
    for r in [*thr[:1], *(r for r in records if r.kind != "throttle")]:
        if r.kind not in seen:
            first.append(r)
            seen.add(r.kind)
    ordered = [*first, *thr, *records]
    out: list = []
    targets: set = set()
    for distinct in (True, False):     # first pass: a target once; second: fill up if targets run out
        for r in ordered:
            if len(out) >= limit:
                return out
            if r in out or (distinct and (r.kind, r.target) in targets):
                continue
            out.append(r)
            targets.add((r.kind, r.target))
    return out



def show_decisions(con, settings, now: dt.datetime, console: Console, limit: int = 10, events_file=None) -> None:
    """The demo's decide section: recommendations from the run just made, then the throttle policies
    replayed on the busiest api's recorded traffic up to the demo's now."""
    import pandas as pd

    from ..decide import decide
    from ..decide.replay import load_traffic, replay

    result = decide(con, settings, as_of=now)
    print_decisions(result, console, limit)
    busiest = con.execute("SELECT api FROM traffic_1m WHERE ts < ? GROUP BY api ORDER BY sum(requests) DESC LIMIT 1",
                          [now]).fetchone()
    if busiest:
        end = pd.Timestamp(now)
        tr = load_traffic(con, f"api:{busiest[0]}", end - pd.Timedelta(days=14), end, history_days=14,
                          events_file=events_file or settings.events_file, settings=settings)
        print_replay(replay(tr, settings, ["static", "daily_peak", "reactive", "predictive"]), console)
