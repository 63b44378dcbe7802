"""Figure builders: numbers for people, downsampling that keeps peaks, 'no data' said in words."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from forecaster import plots
from forecaster.config import Settings
from forecaster.errors import BadInput
from forecaster.plots import style
from forecaster.plots.common import line
from forecaster.store import connect


@pytest.mark.parametrize("value, text", [(1234, "$1.2k"), (389.21, "$389.21"), (0.42, "$0.42"), (2_500_000, "$2.5M"),
                                         (-1500, "-$1.5k")])
def test_usd(value, text):
    assert style.usd(value) == text


@pytest.mark.parametrize("value, text", [(3_400_000, "3.4M req"), (60_100_000, "60.1M req"), (999, "999 req"),
                                         (1000, "1k req"), (0, "0 req")])
def test_count(value, text):
    assert style.count(value) == text


@pytest.mark.parametrize("value, text", [(12_500, "12.5 kg CO2e"), (355.2, "355 g CO2e"), (3_100_000, "3.1 t CO2e"),
                                         (0.004, "0.004 g CO2e")])
def test_grams(value, text):
    assert style.grams(value) == text


def test_palette_is_okabe_ito():
    assert style.PALETTE[:3] == ["#0072B2", "#E69F00", "#009E73"]


def test_downsampling_keeps_size_ends_and_every_peak():
    rng = np.random.default_rng(0)
    n = 100_000
    x = np.arange(n, dtype="float64")
    y = rng.normal(100, 5, n)
    peaks = [1234, 50_000, 98_765]
    y[peaks] = [900, 1200, 700]
    y[77_777] = -300
    keep = style.minmax_lttb(x, y, 2000)
    assert len(keep) <= 2000
    assert keep[0] == 0 and keep[-1] == n - 1
    assert np.all(np.diff(keep) > 0)
    assert set(peaks) | {77_777} <= set(keep.tolist())
    assert len(style.minmax_lttb(x[:500], y[:500], 2000)) == 500   # small series untouched


def test_a_long_trace_reaches_the_browser_downsampled():
    ts = pd.date_range("2026-10-01", periods=60_000, freq="min")
    trace = line(ts, np.sin(np.arange(60_000) / 500) * 100 + 200, "x")
    assert len(trace.x) <= style.MAX_POINTS and len(trace.y) == len(trace.x)


def test_empty_store_raises_no_data_with_what_to_do(tmp_path):
    con = connect(tmp_path / "empty.duckdb", Settings(db=tmp_path / "empty.duckdb"))
    try:
        with pytest.raises(plots.NoData, match="forecaster ingest"):
            plots.window(con)
        w = plots.Window(dt.datetime(2026, 1, 1), dt.datetime(2026, 1, 2), dt.datetime(2026, 1, 1, 12), None)
        for build in (lambda: plots.traffic_total(con, w), lambda: plots.spike_timeline(con, w),
                      lambda: plots.costs_by(con), lambda: plots.carbon_by(con), lambda: plots.budget_burn(con, Settings()),
                      lambda: plots.carbon_intensity(con), lambda: plots.limits_vs_traffic(con, w),
                      lambda: plots.seasonality(con)):
            with pytest.raises(plots.NoData):
                build()
    finally:
        con.close()


def test_figures_from_the_samples(demo_store):
    con, settings = demo_store
    w = plots.window(con)
    assert w.as_of == dt.datetime(2026, 11, 25, 5) and w.run_id
    assert (w.end - w.start) == dt.timedelta(days=10)
    route = "route:shop|prod|POST /orders|us-east-1"
    fig = plots.route_forecast(con, settings, w, route)
    names = [t.name for t in fig.data]
    assert {"actual", "forecast", "80% interval", "95% interval"} <= set(names)
    assert any("Black Friday" in (a.text or "") for a in fig.layout.annotations)
    assert len(plots.spike_timeline(con, w).data[0].y) > 0
    burn = plots.budget_burn(con, settings)
    assert any("budget $500.00" in (a.text or "") for a in burn.layout.annotations)
    with pytest.raises(BadInput, match="empty time range"):
        plots.window(con, dt.datetime(2026, 11, 25), dt.datetime(2026, 11, 24))
