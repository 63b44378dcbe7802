"""Carbon: hand-computed energy and emissions (CCF coefficients), grid intensity, SCI, what-if."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from hypothesis import given, settings as hsettings, strategies as st

from forecaster.carbon import energy as E
from forecaster.carbon.coefficients import load_coefficients
from forecaster.carbon.footprint import carbon_traffic, sci_by_route
from forecaster.carbon.intensity import GridIntensity, load_grid
from forecaster.carbon.whatif import Inputs, move_region, shift_to_clean_hours
from forecaster.config import Settings
from forecaster.errors import BadInput, ConfigError
from forecaster.pricing.catalog import load_catalog

T0 = dt.datetime(2026, 11, 1)
C = load_coefficients()
GRID = load_grid(C.unknown_region_g_per_kwh)
S1792 = Settings(lambda_memory_mb=1792)


def traffic(*rows):
    base = dict(ts=T0, api="a", stage="prod", route="GET /x", region="us-east-1", api_type="rest",
                requests=0, bytes_out=0, integration_n=0, billed_ms_sum=0)
    return pd.DataFrame([{**base, **r} for r in rows])


def by_component(lines):
    return lines.groupby("component")[["kwh", "g_co2e"]].sum()


def test_coefficients_are_ccf_aws():
    assert (C.min_watts_per_vcpu, C.max_watts_per_vcpu, C.pue) == (0.74, 3.5, 1.135)
    assert C.watts_per_vcpu == pytest.approx(2.12)          # 0.74 + 0.5 x (3.5 - 0.74)
    assert GRID.static_g_per_kwh["us-east-1"] == 379.069


def test_one_vcpu_hour_of_lambda_by_hand():
    # 1,792 MB = 1 vCPU; 3,600,000 billed ms = 1 vCPU-hour and 1.75 GB-hours
    lines = carbon_traffic(traffic(dict(requests=1, integration_n=1, billed_ms_sum=3_600_000,
                                        bytes_out=1024 ** 3)), C, GRID, S1792)
    bc = by_component(lines)
    assert bc.loc["lambda_compute", "kwh"] == pytest.approx(2.12 / 1000 * 1.135)          # 0.0024062 kWh
    assert bc.loc["lambda_memory", "kwh"] == pytest.approx(1.75 * 0.000392 * 1.135)       # 0.00077861 kWh
    assert bc.loc["network", "kwh"] == pytest.approx(0.001 * 1.135)                       # 1 GB out
    assert bc.loc["gateway_compute", "kwh"] == pytest.approx(2.12 / 1000 * 1.135 / 3.6e6)  # 1 ms of a vCPU
    assert bc.loc["lambda_compute", "g_co2e"] == pytest.approx(0.0024062 * 379.069)
    assert lines.loc[lines["component"] == "gateway_compute", "flags"].iloc[0] == "gateway_compute_assumed"


def test_embodied_is_optional_and_flagged():
    t = traffic(dict(requests=1, integration_n=1, billed_ms_sum=3_600_000))
    assert "embodied" not in set(carbon_traffic(t, C, GRID, S1792)["component"])
    lines = carbon_traffic(t, C, GRID, S1792, embodied=True)
    emb = lines[lines["component"] == "embodied"].iloc[0]
    assert emb["g_co2e"] == pytest.approx((1 + 1 / 3.6e6) * 0.7135) and "embodied_assumed" in emb["flags"]


def test_sci_per_request():
    t = traffic(dict(requests=1000, integration_n=1000, billed_ms_sum=3_600_000, bytes_out=10 ** 6))
    lines = carbon_traffic(t, C, GRID, S1792, embodied=True)
    sci = sci_by_route(lines).iloc[0]
    e = lines.loc[lines["component"] != "embodied", "kwh"].sum()
    m = lines.loc[lines["component"] == "embodied", "g_co2e"].sum()
    assert sci["sci_g_per_request"] == pytest.approx((e * 379.069 + m) / 1000)


def test_unknown_region_and_non_lambda_routes_are_flagged():
    lines = carbon_traffic(traffic(dict(region="xx-moon-1", api_type="web", requests=10, bytes_out=1000)),
                           C, GRID, Settings())
    assert all("grid_region_fallback" in f for f in lines["flags"])
    assert (lines["g_co2e_per_kwh"] == C.unknown_region_g_per_kwh).all()
    assert "no_backend_energy" in lines.loc[lines["component"] == "lambda_compute", "flags"].iloc[0]
    lat = carbon_traffic(traffic(dict(requests=10)), C, GRID, Settings())
    assert "no_integration_latency" in lat.loc[lat["component"] == "lambda_compute", "flags"].iloc[0]


def test_hourly_profile_wins(tmp_path):
    f = tmp_path / "hourly.csv"
    f.write_text("region,hour,g_co2e_per_kwh\nus-east-1,3,100\nus-east-1,2026-11-01T05:00:00+01:00,50\n")
    grid = load_grid(C.unknown_region_g_per_kwh, f)
    assert grid.lookup("us-east-1", T0 + dt.timedelta(hours=3, minutes=30)) == (100.0, "grid_hourly")
    assert grid.lookup("us-east-1", T0 + dt.timedelta(hours=4)) == (50.0, "grid_hourly")       # ISO, UTC
    assert grid.lookup("us-east-1", T0 + dt.timedelta(days=1, hours=4)) == (379.069, "")
    assert grid.lookup("eu-west-1", T0 + dt.timedelta(hours=3)) == (278.6, "")


def test_bad_hourly_file_reports_every_line(tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text("region,hour,g_co2e_per_kwh\nus-east-1,25,1\nus-east-1,3,x\nus-east-1,4,-2\n")
    with pytest.raises(ConfigError, match="3 bad line") as e:
        load_grid(1.0, f)
    assert "line 2" in str(e.value) and "line 4" in str(e.value)


def test_coefficient_overlay(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("[coefficients]\npue = 1.2\n")
    assert load_coefficients(f).pue == 1.2
    f.write_text("[coefficients]\npue = 0.5\nbogus = 1\n")
    with pytest.raises(ConfigError, match="bogus"):
        load_coefficients(f)


@hsettings(max_examples=15, deadline=None)
@given(st.integers(0, 10 ** 6), st.integers(0, 10 ** 9), st.integers(0, 10 ** 8), st.integers(1, 50))
def test_carbon_linear_in_volume(requests, bytes_out, billed_ms, k):
    t = traffic(dict(requests=requests, bytes_out=bytes_out, integration_n=requests, billed_ms_sum=billed_ms))
    tk = traffic(dict(requests=requests * k, bytes_out=bytes_out * k, integration_n=requests * k,
                      billed_ms_sum=billed_ms * k))
    g1 = carbon_traffic(t, C, GRID, Settings())["g_co2e"].sum()
    gk = carbon_traffic(tk, C, GRID, Settings())["g_co2e"].sum()
    assert gk == pytest.approx(k * g1, rel=1e-9, abs=1e-12)


@hsettings(max_examples=50, deadline=None)
@given(st.floats(0, 1e6, allow_nan=False), st.floats(0, 2000, allow_nan=False), st.floats(0, 100, allow_nan=False))
def test_emissions_linear_in_energy_and_intensity(kwh, intensity, k):
    assert E.emissions_g(kwh * k, intensity) == pytest.approx(k * E.emissions_g(kwh, intensity), rel=1e-9, abs=1e-9)
    assert E.emissions_g(kwh, intensity * k) == pytest.approx(k * E.emissions_g(kwh, intensity), rel=1e-9, abs=1e-9)


@hsettings(max_examples=10, deadline=None)
@given(st.floats(1, 1000, allow_nan=False), st.floats(0.1, 10, allow_nan=False))
def test_footprint_linear_in_grid_intensity(intensity, k):
    t = traffic(dict(requests=1000, bytes_out=10 ** 7, integration_n=1000, billed_ms_sum=50_000))
    g1 = carbon_traffic(t, C, GridIntensity({"us-east-1": intensity}, 1.0), Settings())["g_co2e"].sum()
    gk = carbon_traffic(t, C, GridIntensity({"us-east-1": intensity * k}, 1.0), Settings())["g_co2e"].sum()
    assert gk == pytest.approx(k * g1, rel=1e-9)


def inputs(grid=GRID):
    return Inputs(load_catalog(), C, grid, Settings())


def test_whatif_move_to_a_cleaner_region():
    t = traffic(*[dict(ts=T0 + dt.timedelta(hours=h), requests=1000, integration_n=1000, billed_ms_sum=100_000,
                       bytes_out=10 ** 8) for h in range(24)])
    w = move_region(t, "a|prod|GET /x", "eu-north-1", 1.0, inputs())
    assert w.scenario_g_co2e == pytest.approx(w.baseline_g_co2e * 8.8 / 379.069)
    assert w.saved_g_co2e > 0 and w.saved_usd == 0.0          # eu-north-1 has no price row: us-east-1 prices
    assert "price_region_fallback" in w.flags
    half = move_region(t, "a|prod|GET /x", "eu-north-1", 0.5, inputs())
    assert half.saved_g_co2e == pytest.approx(w.saved_g_co2e / 2, rel=1e-6)
    with pytest.raises(BadInput, match="1.5"):
        move_region(t, "a|prod|GET /x", "eu-north-1", 1.5, inputs())
    with pytest.raises(BadInput, match="no traffic"):
        move_region(t, "a|prod|GET /nope", "eu-north-1", 0.5, inputs())


def test_whatif_shift_to_clean_hours(tmp_path):
    f = tmp_path / "h.csv"
    f.write_text("region,hour,g_co2e_per_kwh\n" + "".join(f"us-east-1,{h},{100 if h == 3 else 400}\n"
                                                           for h in range(24)))
    grid = load_grid(C.unknown_region_g_per_kwh, f)
    t = traffic(*[dict(ts=T0 + dt.timedelta(hours=h), requests=1000, integration_n=1000, billed_ms_sum=100_000)
                  for h in range(48)])
    w = shift_to_clean_hours(t, "a|prod|GET /x", 0.5, inputs(grid))
    # half the volume of 46 of 48 hours moves from 400 to 100 g/kWh
    assert w.saved_g_co2e == pytest.approx(w.baseline_g_co2e * (0.5 * 46 / 48) * 300 / (400 * 46 / 48 + 100 * 2 / 48),
                                           rel=1e-6)
    assert w.saved_usd == 0.0 and w.flags == ()
