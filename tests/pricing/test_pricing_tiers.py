"""Tier maths and exact allocation: hand-computed bills and hypothesis properties."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings as hsettings, strategies as st

from forecaster.pricing.catalog import Tier, load_catalog
from forecaster.pricing.tiers import allocate, tier_cost_usd, usd_to_micros

CAT = load_catalog()
REST = CAT.prices[("apigw_rest.requests", "us-east-1")].tiers
HTTP = CAT.prices[("apigw_http.requests", "us-east-1")].tiers


def test_one_billion_rest_requests_cost_3033_10():
    # 333M x $3.50 + 667M x $2.80 = 1,165.50 + 1,867.60
    assert tier_cost_usd(Decimal(1_000_000_000), REST) == Decimal("3033.10")


def test_500m_http_requests_cost_480():
    # 300M x $1.00 + 200M x $0.90
    assert tier_cost_usd(Decimal(500_000_000), HTTP) == Decimal("480")


def test_rest_beyond_20_billion():
    # 1165.5 + 1867.6 + 19,000 x 2.38 + 1,000 x 1.51
    assert tier_cost_usd(Decimal(21_000_000_000), REST) == Decimal("3033.10") + Decimal("45220") + Decimal("1510")


def test_free_units_come_off_the_first_tier():
    assert tier_cost_usd(Decimal(3_000_000), REST, free_units=Decimal(1_000_000)) == Decimal("7.00")
    assert tier_cost_usd(Decimal(500_000), REST, free_units=Decimal(1_000_000)) == 0


def test_allocation_is_exact_and_deterministic():
    assert allocate(10, [1, 1, 1]) == [4, 3, 3]
    assert allocate(3_033_100_000, [333, 667]) == [1_010_022_300, 2_023_077_700]
    assert allocate(5, [0, 0]) == [3, 2]
    assert usd_to_micros(Decimal("0.0000005")) == 0 and usd_to_micros(Decimal("0.0000015")) == 2


@hsettings(max_examples=200, deadline=None)
@given(st.integers(0, 10**12), st.lists(st.integers(0, 10**9), min_size=1, max_size=40))
def test_allocation_sums_to_the_bill(total, weights):
    shares = allocate(total, weights)
    assert sum(shares) == total
    assert all(s >= 0 for s in shares)
    W = sum(weights)
    if W:   # each share within one micro-dollar of its exact proportional share
        assert all(abs(s * W - total * w) <= W for s, w in zip(shares, weights))


@hsettings(max_examples=200, deadline=None)
@given(st.integers(0, 30_000_000_000), st.integers(0, 5_000_000_000))
def test_cost_monotone_in_volume(q, extra):
    for tiers in (REST, HTTP):
        assert tier_cost_usd(Decimal(q + extra), tiers) >= tier_cost_usd(Decimal(q), tiers)


@hsettings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 10**9), min_size=1, max_size=10))
def test_marginal_price_never_exceeds_first_tier(parts):
    q = sum(parts)
    cost = tier_cost_usd(Decimal(q), REST)
    assert cost <= Decimal(q) * REST[0].usd_per_unit
    assert cost >= Decimal(q) * REST[-1].usd_per_unit


def test_bad_quantity_says_the_number():
    with pytest.raises(ValueError, match="-1"):
        tier_cost_usd(Decimal(-1), [Tier(None, Decimal(1))])
