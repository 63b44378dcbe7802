"""Per-route cost from a traffic frame: usage lines -> monthly billing pools -> exact dollars.

A pool is (price key, region, month[, scope]): its whole volume is priced along the tiers
(after the free tier, if on), rounded once to micro-dollars, and allocated back to its lines by
volume. So a route pays its share of each tier, and any sum of lines (a route, an API, a day)
adds up exactly to the account bill the catalog implies.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import logging
from typing import Any
from collections import defaultdict
from decimal import Decimal

import numpy as np
import pandas as pd

from ..config import Settings
from .catalog import Catalog, MissingPrice, Price
from .tiers import MICROS_PER_USD, allocate, tier_cost_usd, usd_to_micros
from .usage import usage_lines

log = logging.getLogger(__name__)

FLAG_NO_PRICE = "no_price"
FLAG_FREE_TIER = "free_tier"
COST_COLUMNS = ["kind", "ts", "api", "stage", "route", "region", "component", "quantity", "unit", "usd",
                "usd_micros", "flags", "price_key", "catalog"]


@dataclasses.dataclass(frozen=True)
class Window:
    """The span a fixed charge (cache hours, provisioned concurrency) runs over; end exclusive."""

    start: dt.datetime
    end: dt.datetime

    def hours_in_month(self, month: str) -> Decimal:
        m0 = pd.Period(month, "M").start_time.to_pydatetime()
        m1 = (pd.Period(month, "M") + 1).start_time.to_pydatetime()
        lo, hi = max(self.start, m0), min(self.end, m1)
        return Decimal(max(0, int((hi - lo).total_seconds()))) / 3600


def cost_traffic(traffic: pd.DataFrame, catalog: Catalog, settings: Settings,
                 window: Window | None = None) -> pd.DataFrame:
    """Price a traffic frame (hourly or finer buckets; whole months for exact tiers)."""
    if window is None and len(traffic):
        window = Window(pd.Timestamp(traffic["ts"].min()).floor("h").to_pydatetime(),
                        (pd.Timestamp(traffic["ts"].max()).floor("h") + pd.Timedelta(hours=1)).to_pydatetime())
    return price_usage(usage_lines(traffic, catalog, settings), catalog, settings.free_tier, window)


def price_usage(lines: pd.DataFrame, catalog: Catalog, free_tier: bool, window: Window | None) -> pd.DataFrame:
    """Dollars for usage lines (see :mod:`forecaster.pricing.usage`)."""
    if not len(lines):
        return pd.DataFrame(columns=COST_COLUMNS)
    lines = lines.reset_index(drop=True).copy()
    months = pd.to_datetime(lines["ts"]).to_numpy().astype("datetime64[M]")
    uniq, inverse = np.unique(months, return_inverse=True)
    lines["month"] = np.array([str(u) for u in uniq], dtype=object)[inverse]   # '2026-11
    lines["price_key"] = lines["price_key"].fillna("")
    pools = _pools(lines, catalog, window)
    free = _free_units(pools, catalog) if free_tier else {}
    micros = [0] * len(lines)
    quantity = [0.0] * len(lines)
    extra_flags: dict[int, tuple[str, ...]] = {}
    for pkey, pool in pools.items():
        idx, weights = pool["idx"], pool["weights"]
        if pool["price"] is None:
            for i, w in zip(idx, weights):
                extra_flags[i] = pool["flags"]
                quantity[i] = 0.0 if pool["fixed"] else float(Decimal(w) * pool["scale"])
            continue
        f = free.get(pkey, Decimal(0))
        usd = tier_cost_usd(pool["quantity"], pool["price"].tiers, f)
        shares = allocate(usd_to_micros(usd), weights)
        total_w = sum(weights) or 1
        flags = pool["flags"] + ((FLAG_FREE_TIER,) if f > 0 else ())
        per_weight = float(pool["quantity"]) / total_w if pool["fixed"] else float(pool["scale"])
        for i, w, m in zip(idx, weights, shares):
            micros[i] = m
            quantity[i] = w * per_weight      # display only; money is in usd_micros
            if flags:
                extra_flags[i] = flags
    out = lines
    out["usd_micros"] = pd.array(micros, dtype="int64")
    out["usd"] = out["usd_micros"] / MICROS_PER_USD
    out["quantity"] = quantity
    out["flags"] = [_join(f, extra_flags.get(i, ())) for i, f in enumerate(out["flags"].tolist())]
    out["catalog"] = catalog.label
    out["price_key"] = out["price_key"].replace("", None)
    return out[COST_COLUMNS]


def _pools(lines: pd.DataFrame, catalog: Catalog, window: Window | None) -> dict[tuple, dict]:
    pools: dict[tuple, dict] = {}
    groups: dict[Any, Any] = lines.groupby(["price_key", "region", "month", "pool_scope"], sort=True).indices
    for (key, region, month, scope), idx in groups.items():
        idx = [int(i) for i in idx]
        first = lines.loc[idx[0]].to_dict()
        fixed = first["fixed_per_hour"] is not None and not pd.isna(first["fixed_per_hour"])
        weights = lines["weight"].iloc[idx].astype(object).tolist()
        price: Price | None
        flags: tuple[str, ...]
        if not key:
            price, flags = None, ()
        else:
            try:
                price, flags = catalog.lookup(key, region)
            except MissingPrice as e:
                log.warning("%s: priced at 0 and flagged %s", e, FLAG_NO_PRICE)
                price, flags = None, (f"{FLAG_NO_PRICE}:{key}",)
        scale = Decimal(first["unit_scale"])
        if fixed:
            hours = window.hours_in_month(month) if window else Decimal(0)
            quantity = Decimal(first["fixed_per_hour"]) * hours
        else:
            quantity = Decimal(sum(weights)) * scale
        pools[(key, region, month, scope)] = dict(idx=idx, weights=weights, price=price, flags=flags,
                                                  fixed=fixed, quantity=quantity, scale=scale)
    return pools


def _free_units(pools: dict[tuple, dict], catalog: Catalog) -> dict[tuple, Decimal]:
    """The account's monthly free units per free group, shared across its pools by volume."""
    totals: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for (key, region, month, scope), p in pools.items():
        if p["price"] is not None and p["price"].free_group in catalog.free_tier:
            totals[(p["price"].free_group, month)] += p["quantity"]
    out: dict[tuple, Decimal] = {}
    for pkey, p in pools.items():
        group = p["price"].free_group if p["price"] is not None else None
        total = totals.get((group, pkey[2])) if group else None
        if total and group:   # total is only set for a group
            out[pkey] = catalog.free_tier[group] * p["quantity"] / total
    return out


@functools.lru_cache(maxsize=4096)
def _join(a: str | None, more: tuple[str, ...]) -> str:
    parts = {x for x in (a or "").split(",") if x} | set(more)
    return ",".join(sorted(parts))
