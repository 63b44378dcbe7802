"""``forecaster tokens``: model-call tokens per route and model — their forecast, spikes and dollars."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from ..store import open_store
from .common import ConfigOption, DbOption, JsonOption, load_settings, parse_hours, print_json, require_db
from .costs import AsOfOption, parse_ts


def register(app: typer.Typer) -> None:
    tokens = typer.Typer(no_args_is_help=True, help="Model-call tokens: forecast per route and model, spikes in dollars.")
    app.add_typer(tokens, name="tokens")

    @tokens.command("forecast")
    def forecast_cmd(
        horizon: str = typer.Option("72h", "--horizon", help="hours ahead: 72, 72h or 3d (up to 31d)"),
        model: Optional[str] = typer.Option(None, "--model", help="forecast model (default: settings.forecast_model)"),
        as_of: Optional[str] = AsOfOption, as_json: bool = JsonOption,
        db: Optional[Path] = DbOption, config: Optional[Path] = ConfigOption,
    ) -> None:
        """Forecast tokens per route and model (same models, backtests and intervals as requests), price
        them, project the month end with them, and list the token spikes with their dollars."""
        from ..pricing.model_store import token_forecast_from_db
        settings = load_settings(config, db)
        require_db(settings.db)
        with open_store(settings.db, settings) as con:
            out = token_forecast_from_db(con, settings, parse_hours(horizon, "--horizon"), parse_ts(as_of, "--as-of"),
                                         model)
        if as_json:
            print_json(out)
            return
        t = Table(title=f"tokens forecast {out['from']} .. {out['to']} (input + output tokens)")
        for col in ("series", "model", "tokens", "80% band", "usd", "flags"):
            t.add_column(col, justify="left" if col in ("series", "model", "flags") else "right")
        for r in out["series"]:
            t.add_row(r["series"], r["fitted_model"] + (" (fallback)" if r["fallback"] else ""), f"{r['tokens']:,.0f}",
                      f"{r['tokens_lo_80']:,.0f} .. {r['tokens_hi_80']:,.0f}", f"${r['usd']:,.2f}", ", ".join(r["flags"]))
        Console().print(t)
        p = out["projection"]
        Console().print(f"model spend month-end projection {p['month']}: ${p['total_usd']:,.2f} (actual "
                        f"${p['actual_usd']:,.2f} + forecast ${p['forecast_usd']:,.2f} + run-rate ${p['run_rate_usd']:,.2f})")
        for a in out["alerts"]:
            Console().print(f"[red]budget alert[/red] {a['message']}")
        for s in out["spikes"]:
            Console().print(f"token spike ahead: {s['message']}")
