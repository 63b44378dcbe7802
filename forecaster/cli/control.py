"""``forecaster plan | apply | rollback | actions``: thin fronts over :mod:`forecaster.control`."""

from __future__ import annotations

from pathlib import Path
from typing import Any, List, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from ..store import open_store
from .common import ConfigOption, DbOption, JsonOption, load_settings, print_json, require_db

RunOption = typer.Option(None, "--run", help="push the recommendations of this decide run (default: the current ones)")
AsOfOption = typer.Option(None, "--as-of", help="plan as if now were this time (UTC): which recommendations are in force")


def _v(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:,.0f}" if v.is_integer() else f"{v:,.2f}"
    return "-" if v is None else f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) else str(v)


def _cut(text: str, n: int | None) -> str:
    return text if n is None or len(text) <= n else text[: n - 1] + "…"


def print_plan(p, console: Console, limit: int | None = None, reason_chars: int | None = None,
               shown_changes: list | None = None) -> None:
    """The plan, grouped by target: each setting before -> after, then why (cut to ``reason_chars``),
    and the skipped; ``limit`` changes and skips at most (the rest counted; ``shown_changes``: which).
    A list rather than a table, so that it reads at 80 columns; ids are in ``--json``."""
    if p.changes:
        shown = shown_changes if shown_changes is not None else p.changes[:limit] if limit else p.changes
        more = f" (first {len(shown)})" if len(shown) < len(p.changes) else ""
        console.print(f"[bold]{len(p.changes)} change(s) on {len(p.ops)} target part(s)[/], as of "
                      f"{p.now:%Y-%m-%d %H:%M} UTC{more}:", highlight=False)
        groups: dict[str, list] = {}
        for c in shown:
            groups.setdefault(c.target, []).append(c)
        for target, changes in groups.items():
            console.print(f"[bold]{escape(target)}[/]", highlight=False)
            settings = "; ".join(f"{escape(c.setting)} {escape(_v(c.before))} -> [bold]{escape(_v(c.after))}[/]"
                                 for c in changes)
            console.print(Padding(settings, (0, 0, 0, 4)), highlight=False)
            reasons = list(dict.fromkeys(_cut(c.reason, reason_chars) for c in changes if c.reason))
            for reason in reasons:
                console.print(Padding(Text("why: " + reason), (0, 0, 0, 4)), highlight=False)
    elif not p.considered and not p.skipped:
        console.print(f"no recommendation in force at {p.now:%Y-%m-%d %H:%M} UTC: nothing to plan (`forecaster decide` "
                      "makes them; --run plans those of one decide run, --as-of at another time)", highlight=False)
    elif p.skipped:
        console.print(f"no changes: of {p.considered:,} recommendation(s) in force, the live targets hold those that "
                      "could be planned; the rest are skipped (why, below)", highlight=False)
    else:
        console.print("no changes: the live targets already hold every recommendation in force")
    if p.skipped:
        skipped = p.skipped[:limit] if limit else p.skipped
        more = f" (first {len(skipped)})" if len(skipped) < len(p.skipped) else ""
        console.print(f"[bold]{len(p.skipped)} recommendation(s) skipped[/]{more}:", highlight=False)
        for s in skipped:
            console.print(Padding(Text(f"{s['recommendation_id']}: {_cut(s['why'], reason_chars)}"), (0, 0, 0, 4)),
                          highlight=False)


def show_plan(con, settings, now, console: Console) -> None:
    """The demo's last step: start a local moto server, seed the targets the recommendations need,
    and print the plan against them (forecaster.control.demo)."""
    from ..control import recs
    from ..control.aws import Clients
    from ..control.demo import demo_settings, local_moto
    from ..control.plan import observed_peaks, plan_recommendations

    current, skipped = recs.current(con, None, now)
    if not current:
        console.print(f"no recommendation in force at {now:%Y-%m-%d %H:%M}: nothing to plan")
        return
    with local_moto() as url:
        s = demo_settings(settings, url, current)
        console.print(f"local moto server at {url} plays AWS: {len(s.targets)} target(s) created there, with live "
                      f"limits 50% above the recommendations and even route weights")
        p = plan_recommendations(current, s, now, Clients(s), skipped, observed_peaks(con, s, now))
        print_plan(p, console, limit=16, reason_chars=90, shown_changes=demo_sample(p))
    console.print(escape("against your own gateways: declare [[targets]] (README: Pushing decisions to the gateway), "
                         "then `forecaster plan`, `forecaster apply` (a dry run until --yes)"))


def demo_sample(p, per_kind: int = 2) -> list:
    """The changes of the ``per_kind`` biggest ops of each adapter kind (the demo's plan would be long)."""
    def size(op) -> float:
        v = op.after.get("rate_limit_rps", op.after.get("provisioned_concurrency", 0))
        return float(v or 0)

    chosen = []
    for kind in dict.fromkeys(op.adapter for op in p.ops):
        chosen += sorted((op for op in p.ops if op.adapter == kind), key=size, reverse=True)[:per_kind]
    keys = {(op.where, op.recommendation["id"]) for op in chosen}
    return [c for c in p.changes if (c.target, c.recommendation_id) in keys]


def register(app: typer.Typer) -> None:
    @app.command("plan")
    def plan_cmd(run: Optional[str] = RunOption, as_json: bool = JsonOption, as_of: Optional[str] = AsOfOption,
                 db: Optional[Path] = DbOption, config: Optional[Path] = ConfigOption) -> None:
        """Read every target's live state and show the diff the recommendations would make."""
        from ..control import plan
        from .costs import parse_ts

        settings = load_settings(config, db)
        require_db(settings.db)
        with open_store(settings.db, settings) as con:
            p = plan(con, settings, run_id=run, now=parse_ts(as_of, "--as-of"))
        if as_json:
            print_json(p.to_dict())
        else:
            print_plan(p, Console())

    @app.command("apply")
    def apply_cmd(
        dry_run: bool = typer.Option(True, "--dry-run/--yes", help="--dry-run (default) records what would change; --yes changes it"),
        run: Optional[str] = RunOption, as_json: bool = JsonOption, as_of: Optional[str] = AsOfOption,
        db: Optional[Path] = DbOption, config: Optional[Path] = ConfigOption,
    ) -> None:
        """Apply the plan (a dry run unless --yes); every change is recorded in `forecaster actions`."""
        from ..control import apply, plan
        from ..control.apply import default_actor
        from .costs import parse_ts

        settings = load_settings(config, db)
        require_db(settings.db)
        with open_store(settings.db, settings) as con:
            p = plan(con, settings, run_id=run, now=parse_ts(as_of, "--as-of"))
            res = apply(con, settings, p, dry_run=dry_run, actor=f"cli:{default_actor()}")
        if as_json:
            print_json({"applied": res.applied, "failed": res.failed, "dry_run": res.dry_run,
                        "restored": res.restored, "restore_failed": res.restore_failed})
        else:
            console = Console()
            print_plan(p, console)
            verb = "would apply" if dry_run else "applied"
            console.print(f"{verb} {len(res.applied)} change(s), {len(res.unchanged)} already in place, "
                          f"{len(res.failed)} failed (batch {res.batch_id})"
                          + ("; run again with --yes to make them" if dry_run and res.applied else ""))
            for f in res.failed:
                console.print(f"[red]failed[/red] {escape(f['target'])}: {escape(f['error'])}")
            for f in res.restore_failed:
                console.print(f"[red]NOT RESTORED[/red] {escape(f['target'])} left as {escape(str(f['left_as']))} "
                              f"(was {escape(str(f['was']))}): {escape(f['error'])}")
        if res.failed or res.restore_failed:
            raise typer.Exit(1)

    @app.command("rollback")
    def rollback_cmd(
        action: Optional[List[str]] = typer.Option(None, "--action", help="action id to undo (repeatable)"),
        last: bool = typer.Option(False, "--last", help="undo every change of the last apply"),
        yes: bool = typer.Option(False, "--yes", help="restore for real (default: a dry run)"),
        as_json: bool = JsonOption, db: Optional[Path] = DbOption, config: Optional[Path] = ConfigOption,
    ) -> None:
        """Restore the recorded before-state of actions (itself recorded as actions)."""
        from ..control import rollback
        from ..control.apply import default_actor

        if bool(action) == last:
            raise typer.BadParameter("give either --action ID (one or more) or --last")
        settings = load_settings(config, db)
        require_db(settings.db)
        with open_store(settings.db, settings) as con:
            res = rollback(con, settings, action_ids=action, last=last, dry_run=not yes, actor=f"cli:{default_actor()}")
        if as_json:
            print_json(res.to_dict())
        else:
            verb = "would restore" if res.dry_run else "restored"
            typer.echo(f"{verb} {len(res.restored)} change(s), {len(res.failed)} failed (batch {res.batch_id})")
            for f in res.failed:
                typer.secho(f"failed {f['target']}: {f['error']}", fg=typer.colors.RED)
        if res.failed:
            raise typer.Exit(1)

    @app.command("actions")
    def actions_cmd(limit: int = typer.Option(50, "--limit", help="newest N rows (0: all)"), as_json: bool = JsonOption,
                    db: Optional[Path] = DbOption, config: Optional[Path] = ConfigOption) -> None:
        """The audit log: every plan push, dry or real, success or failure, and every rollback."""
        from ..store import actions as audit

        settings = load_settings(config, db)
        require_db(settings.db)
        with open_store(settings.db, settings) as con:
            rows = audit.all_actions(con, limit or None)
        if as_json:
            print_json({"actions": [a.to_dict() for a in rows]})
            return
        if not rows:
            Console().print("no action recorded yet: `forecaster apply` records every change it makes or would make "
                            "(dry run), and `forecaster rollback` every restore", highlight=False)
            return
        t = Table(title=f"actions (newest {len(rows)})")
        for c in ("id", "at (UTC)", "actor", "target", "outcome", "dry", "recommendation", "error"):
            t.add_column(c, overflow="fold")
        for a in rows:
            t.add_row(a.id, f"{a.at_ts:%Y-%m-%d %H:%M:%S}", escape(a.actor or ""), escape(a.target or ""), a.outcome,
                      "yes" if a.dry_run else "", escape(a.recommendation_id or ""),
                      escape((a.error or "") + (f" (undoes {a.rollback_of})" if a.rollback_of else "")))
        Console().print(t)
