"""Helpers for pricing tests: traffic frames built by hand."""

from __future__ import annotations

import datetime as dt

import pandas as pd

T0 = dt.datetime(2026, 11, 1)


def traffic(*rows: dict) -> pd.DataFrame:
    """Traffic rows with defaults: api a, stage prod, route 'GET /x', us-east-1, rest, zero volumes."""
    base = dict(ts=T0, api="a", stage="prod", route="GET /x", region="us-east-1", api_type="rest",
                requests=0, bytes_out=0, integration_n=0, billed_ms_sum=0)
    return pd.DataFrame([{**base, **r} for r in rows])
