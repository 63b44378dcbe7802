"""What-if: move a share of a route's traffic to another region, or shift deferrable traffic
to the lowest-intensity hours; how much carbon and money it saves.

Both scenarios rewrite the traffic frame (volumes move with their per-request bytes and billed
ms), then price and footprint baseline and scenario with the same functions as everything else
(the whole frame is priced, so tier effects on other routes count too).
"""

from __future__ import annotations

import dataclasses
from typing import Any, cast

import numpy as np
import pandas as pd

from ..config import Settings
from ..errors import BadInput
from ..pricing.catalog import Catalog
from ..pricing.costs import cost_traffic
from ..pricing.tiers import MICROS_PER_USD
from .coefficients import Coefficients
from .footprint import carbon_traffic
from .intensity import GridIntensity

VOLUME_COLUMNS = ("requests", "bytes_out", "integration_n", "billed_ms_sum")


@dataclasses.dataclass(frozen=True)
class WhatIf:
    scenario: str
    baseline_g_co2e: float
    scenario_g_co2e: float
    baseline_usd: float
    scenario_usd: float
    flags: tuple[str, ...] = ()

    @property
    def saved_g_co2e(self) -> float:
        return self.baseline_g_co2e - self.scenario_g_co2e

    @property
    def saved_usd(self) -> float:
        return round(self.baseline_usd - self.scenario_usd, 6)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self) | {"saved_g_co2e": self.saved_g_co2e, "saved_usd": self.saved_usd,
                                           "flags": list(self.flags)}


@dataclasses.dataclass(frozen=True)
class Inputs:
    catalog: Catalog
    coefficients: Coefficients
    grid: GridIntensity
    settings: Settings


def route_mask(traffic: pd.DataFrame, route_key: str) -> pd.Series:
    """Rows of one route: 'api|stage|route' or 'api|stage|route|region'."""
    parts = route_key.split("|")
    if len(parts) < 3:
        raise BadInput(f"route key must be 'api|stage|route[|region]', got {route_key!r}")
    m = (traffic["api"] == parts[0]) & (traffic["stage"] == parts[1]) & (traffic["route"] == parts[2])
    if len(parts) > 3:
        m &= traffic["region"] == parts[3]
    if not m.any():
        raise BadInput(f"no traffic for route {route_key!r} in the selected window")
    return m


def move_region(traffic: pd.DataFrame, route_key: str, to_region: str, share: float, inputs: Inputs) -> WhatIf:
    """Move ``share`` (0..1) of a route's traffic to ``to_region``."""
    _check_share(share)
    m = route_mask(traffic, route_key)
    src = traffic[m]
    stay, moved = src.copy(), src.copy()
    for c in VOLUME_COLUMNS:
        moved[c] = (src[c].astype(float) * share).round()
        stay[c] = src[c].astype(float) - moved[c]
    moved["region"] = to_region
    scenario = pd.concat([traffic[~m], stay, moved], ignore_index=True)
    return _compare(f"move {share:.0%} of {route_key} to {to_region}", traffic, scenario, inputs)


def shift_to_clean_hours(traffic: pd.DataFrame, route_key: str, share: float, inputs: Inputs,
                         window: str = "1D") -> WhatIf:
    """Shift the deferrable ``share`` of a route's traffic, within each ``window`` (e.g. a day),
    into that window's lowest-intensity hour of its region (capacity limits not modelled)."""
    _check_share(share)
    m = route_mask(traffic, route_key)
    src = traffic[m].copy()
    src["_w"] = pd.to_datetime(src["ts"]).dt.floor(window)
    rows: list[pd.DataFrame] = []
    for (region, w), g in src.groupby(["region", "_w"], sort=True):
        w0 = pd.Timestamp(cast(Any, w))   # a group key: the floored timestamp
        w1 = w0 + pd.Timedelta(window)
        best_ts = inputs.grid.hours_by_intensity(str(region), w0.to_pydatetime(), w1.to_pydatetime())[0][0]
        moved = {c: float((g[c].astype(float) * share).round().sum()) for c in VOLUME_COLUMNS}
        stay = g.drop(columns="_w").copy()
        for c in VOLUME_COLUMNS:
            stay[c] = g[c].astype(float) - (g[c].astype(float) * share).round()
        rows.append(stay)
        row: dict[Any, Any] = {**g.iloc[0].drop("_w").to_dict(), "ts": pd.Timestamp(best_ts), **moved}
        rows.append(pd.DataFrame([row]))
    scenario = pd.concat([traffic[~m], *rows], ignore_index=True)
    flags = () if inputs.grid.by_timestamp or inputs.grid.by_hour_of_day else ("no_hourly_intensity",)
    return _compare(f"shift {share:.0%} of {route_key} to the cleanest hour per {window}",
                    traffic, scenario, inputs, flags)


def _compare(name: str, base: pd.DataFrame, scen: pd.DataFrame, inputs: Inputs,
             flags: tuple[str, ...] = ()) -> WhatIf:
    def totals(t: pd.DataFrame) -> tuple[float, float, set[str]]:
        cost = cost_traffic(t, inputs.catalog, inputs.settings)
        carb = carbon_traffic(t, inputs.coefficients, inputs.grid, inputs.settings)
        fl = {x for s in carb["flags"] for x in str(s).split(",") if x}
        fl |= {x for s in cost["flags"] for x in str(s).split(",") if x}
        return float(carb["g_co2e"].sum()), int(cost["usd_micros"].sum()) / MICROS_PER_USD, fl
    bg, bu, bf = totals(base)
    sg, su, sf = totals(scen)
    return WhatIf(name, bg, sg, bu, su, tuple(sorted(set(flags) | (sf - bf))))


def _check_share(share: float) -> None:
    if not 0 <= share <= 1 or np.isnan(share):
        raise BadInput(f"share must be between 0 and 1, got {share}")
