"""Per-series context (future index, regressors split at the origin, uplift): built once per calendar and grid."""

from __future__ import annotations

import numpy as np
import pandas as pd

from forecaster.forecast.events import Event, regressors
from forecaster.forecast.series_context import build_context, clear_cache, series_context

H = pd.Timedelta("1h")
DS = pd.date_range("2026-11-02", periods=14 * 24, freq="1h").values
END = pd.Timestamp(DS[-1]) + H
SALE = Event("Mega sale", END + pd.Timedelta(hours=10), END + pd.Timedelta(hours=16), routes=("shop:*",), expected_uplift=3.0)
HOLIDAY = Event("Day off", pd.Timestamp("2026-11-05"), pd.Timestamp("2026-11-06"), kind="holiday")
EVENTS = (SALE, HOLIDAY)
SHOP, PAY = "route:shop|prod|GET /products|us-east-1", "route:pay|v1|POST /charge|us-east-1"


def test_context_splits_the_regressors_at_the_origin_and_prices_the_uplift():
    ctx = build_context(EVENTS, SHOP, DS, 72, H)
    assert ctx.future[0] == END and len(ctx.future) == 72
    full = regressors(list(EVENTS), SHOP, pd.DatetimeIndex(DS).append(ctx.future), H)
    pd.testing.assert_frame_equal(pd.concat([ctx.hist_regs, ctx.fut_regs], ignore_index=True), full)
    assert ctx.hist_regs["ds"].iloc[-1] == pd.Timestamp(DS[-1]) and ctx.fut_regs["ds"].iloc[0] == END
    expected = np.where((ctx.future >= SALE.start) & (ctx.future < SALE.end), 3.0, 1.0)
    np.testing.assert_array_equal(ctx.uplift, expected)
    assert build_context(EVENTS, PAY, DS, 72, H).uplift is None        # the sale is on shop routes only


def test_series_with_the_same_events_and_grid_share_one_context():
    clear_cache()
    a = series_context(EVENTS, SHOP, DS, 72, H)
    assert series_context(EVENTS, "route:shop|prod|POST /orders|us-east-1", DS, 72, H) is a
    assert series_context(EVENTS, PAY, DS, 72, H) is not a              # other events apply
    later = series_context(EVENTS, SHOP, DS[24:], 72, H)               # other grid
    assert later is not a and later.future[0] == a.future[0] and len(later.hist_regs) == len(DS) - 24


def test_an_irregular_grid_is_never_shared():
    clear_cache()
    gappy = np.delete(DS, 5)
    a, b = series_context(EVENTS, SHOP, gappy, 24, H), series_context(EVENTS, SHOP, gappy, 24, H)
    assert a is not b and len(a.hist_regs) == len(gappy)
