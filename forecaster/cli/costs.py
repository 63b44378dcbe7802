"""``forecaster costs``, ``forecaster carbon`` and ``forecaster whatif``: thin fronts over
:mod:`forecaster.pricing` and :mod:`forecaster.carbon`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Callable, Optional

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from ..errors import BadInput
from ..store import open_reader, open_store
from .common import (ConfigOption, DbOption, JsonOption, keyed_table, load_settings, money, parse_hours, print_json,
                     require_db)

FromOption = typer.Option(None, "--from", help="window start, ISO date/time (UTC; default: month of the latest data)")
ToOption = typer.Option(None, "--to", help="window end, exclusive (default: end of the latest data)")
ByOption = typer.Option("route", "--by", help="group rows by route | api | region | component | kind")
ForecastOption = typer.Option(False, "--forecast", help="add the next --horizon hours from the latest forecast run")
HorizonOption = typer.Option("72h", "--horizon", help="forecast time to price: hours (72), or a duration (72h, 3d), up to 31d")
SaveOption = typer.Option(True, "--save/--no-save", help="store the lines in DuckDB (tables costs / carbon)")


AsOfOption = typer.Option(None, "--as-of", help="price as if now were this time (UTC): later traffic is ignored")


def parse_ts(value: Optional[str], name: str) -> Optional[dt.datetime]:
    """ISO date/time -> naive UTC datetime (tz-aware values are converted)."""
    if value is None:
        return None
    import pandas as pd   # here, not at import: every command's start-up would pay for it

    try:
        ts = pd.Timestamp(value)
    except ValueError as e:
        raise BadInput(f"{name}: expected an ISO date or time like 2026-11-01T00:00, got {value!r}") from e
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.to_pydatetime()


def register(app: typer.Typer) -> None:
    @app.command("costs")
    def costs_cmd(
        start: Optional[str] = FromOption, end: Optional[str] = ToOption, forecast: bool = ForecastOption,
        by: str = ByOption, horizon: str = HorizonOption, save: bool = SaveOption, as_json: bool = JsonOption,
        db: Optional[Path] = DbOption, config: Optional[Path] = ConfigOption, as_of: Optional[str] = AsOfOption,
    ) -> None:
        """Every route in dollars: history, and with --forecast the next hours, month-end projection and budget alerts."""
        from ..pricing.store import report_from_db, write_report
        settings = load_settings(config, db)
        require_db(settings.db)
        with open_store(settings.db, settings) as con:
            report, fc_run = report_from_db(con, settings, parse_ts(start, "--from"), parse_ts(end, "--to"),
                                            forecast, parse_hours(horizon, "--horizon"), parse_ts(as_of, "--as-of"))
            out = report.to_dict(by)
            if save:
                out["run_id"] = write_report(con, report, {"from": start, "to": end, "forecast": forecast}, fc_run)
            models = _model_spend(con, settings, start, end, forecast, as_of)
        out["forecast_run_id"] = fc_run
        if models is not None:
            out["models"] = models
        if as_json:
            print_json(out)
            return
        _table(f"costs {out['from']} .. {out['to']} by {by}", out["rows"], "usd", money)
        Console().print(f"total: {money(out['total_usd'])}")
        if "forecast" in out:
            _table(f"forecast {out['forecast']['from']} .. {out['forecast']['to']}", out["forecast"]["rows"],
                   "usd", money)
            p = out["projection"]
            Console().print(f"month-end projection {p['month']}: ${p['total_usd']:,.2f} (actual ${p['actual_usd']:,.2f}"
                            f" + forecast ${p['forecast_usd']:,.2f} + run-rate ${p['run_rate_usd']:,.2f})")
            for a in out["alerts"]:
                Console().print(f"[red]budget alert[/red] {a['message']}")
        if models is not None:
            print_model_spend(models)

    @app.command("carbon")
    def carbon_cmd(
        start: Optional[str] = FromOption, end: Optional[str] = ToOption, forecast: bool = ForecastOption,
        by: str = ByOption, horizon: str = HorizonOption, save: bool = SaveOption, as_json: bool = JsonOption,
        db: Optional[Path] = DbOption, config: Optional[Path] = ConfigOption, as_of: Optional[str] = AsOfOption,
    ) -> None:
        """Every route in grams of CO2e (CCF methodology) and SCI per request; --forecast for the next hours."""
        from ..carbon.store import report_from_db, write_report
        settings = load_settings(config, db)
        require_db(settings.db)
        with open_store(settings.db, settings) as con:
            report = report_from_db(con, settings, parse_ts(start, "--from"), parse_ts(end, "--to"), forecast, parse_hours(horizon, "--horizon"),
                                    parse_ts(as_of, "--as-of"))
            out = report.to_dict(by)
            if save:
                out["run_id"] = write_report(con, report)
        if as_json:
            print_json(out)
            return
        _table(f"carbon {out['from']} .. {out['to']} by {by}", out["rows"], "g_co2e", "{:,.3f} g")
        Console().print(f"total: {out['total_g_co2e']:,.3f} gCO2e")
        if out.get("models"):
            t = Table(title="model calls (energy per token: estimates, see forecaster/data/carbon/model_energy.toml)")
            for col in ("route / model", "tier", "calls", "tokens", "gCO2e", "g / call"):
                t.add_column(col, justify="left" if col in ("route / model", "tier") else "right")
            for r in out["models"]:
                per = r["g_co2e_per_call"]
                t.add_row(r["key"], r["model_tier"], f"{r['calls']:,}", f"{r['input_tokens'] + r['output_tokens']:,}",
                          f"{r['g_co2e']:,.3f}", "-" if per is None else f"{per:,.4f}")
            Console().print(t)
            Console().print(f"model calls: {out['models_total_g_co2e']:,.3f} gCO2e (included in the total above)")
        if "forecast" in out:
            _table(f"forecast {out['forecast']['from']} .. {out['forecast']['to']}", out["forecast"]["rows"],
                   "g_co2e", "{:,.3f} g")

    whatif = typer.Typer(no_args_is_help=True, help="What-if: carbon and money saved by moving or shifting traffic.")
    app.add_typer(whatif, name="whatif")

    @whatif.command("move")
    def whatif_move(
        route: str = typer.Argument(..., help="'api|stage|route' or 'api|stage|route|region'"),
        to_region: str = typer.Option(..., "--to-region", help="region the share moves to"),
        share: float = typer.Option(..., "--share", help="share of the route's traffic to move, 0..1"),
        start: Optional[str] = FromOption, end: Optional[str] = ToOption, as_json: bool = JsonOption,
        db: Optional[Path] = DbOption, config: Optional[Path] = ConfigOption,
    ) -> None:
        """Move a share of a route's traffic to another region."""
        from ..carbon.whatif import move_region
        traffic, inputs = _whatif_inputs(config, db, start, end)
        _print_whatif(move_region(traffic, route, to_region, share, inputs), as_json)

    @whatif.command("shift")
    def whatif_shift(
        route: str = typer.Argument(..., help="'api|stage|route' or 'api|stage|route|region'"),
        share: float = typer.Option(..., "--share", help="deferrable share of the route's traffic, 0..1"),
        window: str = typer.Option("1D", "--window", help="shift within windows of this length (pandas offset)"),
        start: Optional[str] = FromOption, end: Optional[str] = ToOption, as_json: bool = JsonOption,
        db: Optional[Path] = DbOption, config: Optional[Path] = ConfigOption,
    ) -> None:
        """Shift deferrable traffic to the lowest-intensity hour of each window."""
        from ..carbon.whatif import shift_to_clean_hours
        traffic, inputs = _whatif_inputs(config, db, start, end)
        _print_whatif(shift_to_clean_hours(traffic, route, share, inputs, window), as_json)


def _model_spend(con, settings, start, end, forecast: bool, as_of) -> dict | None:
    """Model (token) spend of the same window, when the store holds model calls."""
    from ..pricing.model_store import has_tokens, model_spend_from_db
    if not has_tokens(con):
        return None
    spend = model_spend_from_db(con, settings, parse_ts(start, "--from"), parse_ts(end, "--to"), forecast,
                                parse_ts(as_of, "--as-of"))
    return spend.to_dict()


def print_model_spend(m: dict, top: int = 10) -> None:
    """Model spend as tables (by route, model and client), unpriced models and budget alerts."""
    for by in ("route", "model", "client"):
        t = keyed_table(f"model spend {m['from']} .. {m['to']} by {by} (catalog {m['catalog']})", by, 12)
        for col in ("usd", "calls", "in tok", "out tok", "cached"):
            t.add_column(col, justify="right", no_wrap=True)
        t.add_column("flags", overflow="fold", max_width=16)
        for r in m[f"by_{by}"][:top]:
            usd = money(r["usd"]) + ("+?" if r["unpriced"] else "")   # +?: tokens of an unknown model on top
            t.add_row(r["key"], usd, f"{r['requests']:,}", f"{r['input_tokens']:,}", f"{r['output_tokens']:,}",
                      f"{r['cached_input_tokens']:,}", ", ".join(r["flags"]))
        Console().print(t)
    Console().print("usd +?: some tokens are of a model the catalog does not price (see below)")
    Console().print(f"model spend: {money(m['total_usd'])} for {m['input_tokens']:,} input + "
                    f"{m['output_tokens']:,} output tokens")
    for u in m["unpriced_models"]:
        Console().print(f"[red]unknown model[/red] {u['provider']}/{u['model']} in {u['region']}: "
                        f"{u['input_tokens']:,} input + {u['output_tokens']:,} output tokens NOT priced"
                        + (f" ({money(u['priced_from_log_usd'])} from the log's own cost)" if u["priced_from_log_usd"] else "")
                        + "; add a \\[\\[model_price]] row in price_overrides_file")
    if "projection" in m:
        p = m["projection"]
        Console().print(f"model spend month-end projection {p['month']}: ${p['total_usd']:,.2f} "
                        f"(actual ${p['actual_usd']:,.2f} + run-rate ${p['run_rate_usd']:,.2f})")
        for a in m["alerts"]:
            Console().print(f"[red]budget alert[/red] {a['message']}")


def _whatif_inputs(config, db, start, end):
    from ..carbon.store import inputs_for, window_for
    from ..carbon.whatif import Inputs
    from ..pricing.store import catalog_for, load_traffic
    settings = load_settings(config, db)
    require_db(settings.db)
    with open_reader(settings.db, settings) as con:
        s, e, _ = window_for(con, parse_ts(start, "--from"), parse_ts(end, "--to"))
        traffic = load_traffic(con, s, e)
    c, grid = inputs_for(settings)
    return traffic, Inputs(catalog_for(settings), c, grid, settings)


def _print_whatif(w, as_json: bool) -> None:
    d = w.to_dict()
    if as_json:
        print_json(d)
        return
    Console().print(f"{d['scenario']}: saves {d['saved_g_co2e']:,.3f} gCO2e "
                    f"({d['baseline_g_co2e']:,.3f} -> {d['scenario_g_co2e']:,.3f}) and {money(d['saved_usd'])} "
                    f"({money(d['baseline_usd'])} -> {money(d['scenario_usd'])})"
                    + (f"; flags: {', '.join(d['flags'])}" if d["flags"] else ""))


def _table(title: str, rows: list[dict], value: str, fmt: str | Callable[[float], str]) -> None:
    show = fmt if callable(fmt) else fmt.format
    t = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    t.add_column("key", overflow="fold", ratio=2)          # folded, not cut: its end tells rows apart
    t.add_column(value, justify="right", no_wrap=True)
    t.add_column("components", overflow="fold", ratio=2)
    t.add_column("flags", overflow="fold", ratio=2)         # whole flag names (README: Costs and carbon)
    for r in rows:
        comps = ", ".join(f"{k} {show(v)}" for k, v in r["components"].items() if v)
        t.add_row(r["key"], show(r[value]), comps, ", ".join(r["flags"]))
    Console().print(t)
