"""``forecaster samples``: write seeded, realistic gateway traffic in every supported log format."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.console import Console
from rich.table import Table

from ..errors import BadInput
from .common import JsonOption, print_json


def register(app: typer.Typer) -> None:
    samples = typer.Typer(no_args_is_help=True, help="Generate sample gateway logs (seeded, deterministic).")
    app.add_typer(samples, name="samples")

    @samples.command("generate")
    def generate_cmd(
        out: Path = typer.Option(Path("samples"), "--out", help="directory to write into (created if missing)"),
        fmt: Optional[str] = typer.Option(None, "--format", help="format name(s), comma-separated (default: all)"),
        lines: int = typer.Option(10_000, "--lines", min=1,
                                  help="scale rates so each API writes about this many requests (lines per log file)"),
        natural: bool = typer.Option(False, "--natural",
                                     help="use the catalog's natural rates instead of --lines (~225k requests/hour "
                                          "in all: fine for counts, gigabytes of logs per day)"),
        days: float = typer.Option(7.0, "--days", min=0.01, help="length of the window, days"),
        start: str = typer.Option("2026-11-23", "--start", help="window start, ISO date or time (UTC)"),
        step: str = typer.Option("5min", "--step", help="bucket of the traffic model (and of counts rows)"),
        seed: int = typer.Option(0, "--seed", help="random seed; same arguments give the same bytes"),
        gz: bool = typer.Option(False, "--gzip", help="write .gz files"),
        name: List[str] = typer.Option([], "--name", help="FORMAT=FILE to rename an output (also events=FILE)"),
        events: bool = typer.Option(True, "--events/--no-events", help="also write events.csv and events.yaml"),
        as_json: bool = JsonOption,
    ) -> None:
        """Write sample logs (and counts, and the events calendar) for a window of simulated traffic."""
        from ..samples.generate import generate

        names = {}
        for n in name:
            k, sep, v = n.partition("=")
            if not sep or not k or not v:
                raise BadInput(f"--name expects FORMAT=FILE, got {n!r}")
            names[k.strip()] = v.strip()
        try:
            report = generate(out, fmt, start=start, days=days, step=step, seed=seed,
                              lines=None if natural else lines, gz=gz, names=names, write_events=events)
        except ValueError as e:
            raise BadInput(str(e)) from e
        if as_json:
            print_json(report.to_dict())
            return
        t = Table(title=f"samples {report.start} .. {report.end} (step {report.step}, seed {report.seed})")
        for col in ("format", "file", "lines", "MB", "lines/s"):
            t.add_column(col, justify="left" if col in ("format", "file") else "right")
        for f in report.files:
            rate = f"{f.lines / f.seconds:,.0f}" if f.seconds else "-"
            t.add_row(f.format, f.path, f"{f.lines:,}", f"{f.bytes / 2**20:.2f}", rate)
        Console().print(t)
        Console().print(f"{len(report.files)} file(s) in {report.seconds:.2f}s")

    @samples.command("generate-llm")
    def generate_llm_cmd(
        out: Path = typer.Option(Path("samples"), "--out", help="directory to write into (created if missing)"),
        start: str = typer.Option("2026-11-16", "--start", help="window start, ISO date (UTC)"),
        days: float = typer.Option(9.0, "--days", min=0.04, help="length of the window, days"),
        seed: int = typer.Option(0, "--seed", help="random seed; same arguments give the same bytes"),
        as_json: bool = JsonOption,
    ) -> None:
        """Write sample model-call logs of an AI API: kong_ai.log (Kong AI Proxy) and bedrock.log (Bedrock)."""
        from ..samples.llm import write_llm_samples

        try:
            written = write_llm_samples(out, start=start, days=days, seed=seed)
        except ValueError as e:
            raise BadInput(str(e)) from e
        if as_json:
            print_json(written)
            return
        for name, n in written.items():
            Console().print(f"{out / name}: {n:,} lines")

    @samples.command("list")
    def list_cmd(as_json: bool = JsonOption) -> None:
        """The formats ``samples generate`` writes, with their file names and the APIs behind them."""
        from ..samples.catalog import default_catalog
        from ..samples.writers import all_writers

        catalog = default_catalog()
        rows: list[dict[str, Any]] = [{"format": w.name, "file": w.file_name, "description": w.description,
                 "apis": [a.name for a in catalog if w.aggregated or w.name in a.formats]}
                for w in all_writers().values()]
        if as_json:
            print_json(rows)
            return
        t = Table()
        for col in ("format", "file", "apis", "description"):
            t.add_column(col)
        for r in rows:
            t.add_row(r["format"], r["file"], ",".join(r["apis"]), r["description"])
        Console().print(t)
