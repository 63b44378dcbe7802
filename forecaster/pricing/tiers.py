"""Tiered prices and their fair, exact allocation.

A billing pool (one price key, one region, one month) is priced as a whole along its tiers;
its bill, in integer micro-dollars, is then split across the pool's lines (route x hour) in
proportion to their volume with the largest-remainder method, so every unit pays the pool's
blended rate and the lines add up to the bill exactly.
"""

from __future__ import annotations

import decimal
from decimal import Decimal
from typing import Sequence

import numpy as np

from .catalog import Tier

MICROS_PER_USD = 1_000_000
_CTX = decimal.Context(prec=60, rounding=decimal.ROUND_HALF_EVEN)


def tier_cost_usd(quantity: Decimal, tiers: Sequence[Tier], free_units: Decimal = Decimal(0)) -> Decimal:
    """Exact USD for ``quantity`` units in one month along cumulative ``tiers``.

    ``free_units`` are deducted first (the AWS free tier), the rest is priced from the first tier.
    """
    if quantity < 0:
        raise ValueError(f"quantity must be >= 0, got {quantity}")
    q = _CTX.subtract(quantity, min(quantity, max(free_units, Decimal(0))))
    total, lower = Decimal(0), Decimal(0)
    for t in tiers:
        upper = t.upto if t.upto is not None else q
        in_tier = _CTX.subtract(min(q, upper), lower)
        if in_tier > 0:
            total = _CTX.add(total, _CTX.multiply(in_tier, t.usd_per_unit))
        if t.upto is None or q <= t.upto:
            break
        lower = t.upto
    return total


def usd_to_micros(usd: Decimal) -> int:
    """USD -> integer micro-dollars, half-even."""
    return int(_CTX.multiply(usd, MICROS_PER_USD).to_integral_value(rounding=decimal.ROUND_HALF_EVEN))


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split integer ``total`` in proportion to integer ``weights`` (largest remainder; exact sum).

    Ties in the remainder go to the earlier line, so the result is deterministic. All-zero
    weights split evenly (a fixed charge over lines that carried no volume).
    """
    bad = [(i, w) for i, w in enumerate(weights) if w < 0]
    if bad:
        raise ValueError(f"weights must be >= 0; {len(bad)} negative, first at line {bad[0][0]}: {bad[0][1]}")
    n = len(weights)
    if n == 0:
        if total:
            raise ValueError(f"cannot allocate {total} over no lines")
        return []
    w = list(weights) if any(weights) else [1] * n
    W = sum(w)
    sign = -1 if total < 0 else 1
    t = abs(total)
    shares = [t * wi // W for wi in w]
    left = t - sum(shares)
    if left:   # the largest remainders get one more unit; stable order breaks ties by position
        rem = np.array([float(t * wi % W) for wi in w])
        for i in np.argsort(-rem, kind="stable")[:left]:
            shares[int(i)] += 1
    return [sign * s for s in shares]
