"""Monthly budgets per account, API or route, and the alert when a projection crosses one.

Budget keys (settings.budgets): ``*`` (the whole account), ``api``, ``api|stage|route``. The
alert says by how much and when, on the projected path, the month's spend crosses the line:
the "cost bomb" seen before it lands.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

import pandas as pd

from .tiers import MICROS_PER_USD


@dataclasses.dataclass(frozen=True)
class BudgetAlert:
    scope: str
    month: str
    budget_usd: float
    projected_usd: float
    actual_usd: float
    ratio: float                          # projected / budget
    crosses_at: dt.datetime | None        # first bucket where cumulative projected spend passes the budget
    already_crossed: bool                 # actuals alone are over budget

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["crosses_at"] = self.crosses_at.isoformat() if self.crosses_at else None
        return d

    @property
    def message(self) -> str:
        when = "already" if self.already_crossed else f"from {self.crosses_at:%Y-%m-%d %H:%M} UTC"
        return (f"{self.scope}: projected ${self.projected_usd:,.2f} for {self.month} is "
                f"{self.ratio:.0%} of its ${self.budget_usd:,.2f} budget (over {when})")


def scope_mask(costs: pd.DataFrame, scope: str) -> pd.Series:
    """Rows of ``costs`` a budget key covers."""
    if scope == "*":
        return pd.Series(True, index=costs.index)
    parts = scope.split("|")
    if len(parts) == 1:
        return costs["api"] == scope
    if len(parts) >= 3:
        return (costs["api"] == parts[0]) & (costs["stage"] == parts[1]) & (costs["route"] == "|".join(parts[2:]))
    raise ValueError(f"budget key {scope!r}: expected '*', 'api' or 'api|stage|route'")


def check_budgets(projected: pd.DataFrame, budgets: dict[str, float], month: str) -> list[BudgetAlert]:
    """Alerts for every budget the month's projected costs (kinds actual/forecast/run_rate) exceed."""
    alerts = []
    for scope, budget in sorted(budgets.items()):
        rows = projected[scope_mask(projected, scope)]
        total = int(rows["usd_micros"].sum())
        budget_micros = round(budget * MICROS_PER_USD)
        if total <= budget_micros:
            continue
        actual = int(rows.loc[rows["kind"] == "actual", "usd_micros"].sum())
        by_ts = rows.groupby("ts")["usd_micros"].sum().sort_index().cumsum()
        over = by_ts[by_ts > budget_micros]
        crosses = pd.Timestamp(over.index[0]).to_pydatetime() if len(over) else None
        alerts.append(BudgetAlert(
            scope=scope, month=month, budget_usd=budget, projected_usd=total / MICROS_PER_USD,
            actual_usd=actual / MICROS_PER_USD, ratio=total / budget_micros if budget_micros else float("inf"),
            crosses_at=crosses, already_crossed=actual > budget_micros))
    return alerts
