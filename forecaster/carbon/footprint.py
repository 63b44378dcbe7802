"""Per-route, per-bucket carbon: traffic -> energy per component -> gCO2e, and SCI per request.

Components (a registry): ``lambda_compute`` and ``lambda_memory`` (billed duration at the
route's memory), ``gateway_compute`` (documented per-request CPU assumption, flagged),
``network`` (bytes out), and with ``embodied=True`` the ``embodied`` share of the hardware.
Routes not on Lambda carry ``no_backend_energy``: their backend's energy is not in the logs.
"""

from __future__ import annotations

import functools
from typing import Callable

import numpy as np
import pandas as pd

from ..config import Settings
from ..registry import Registry
from ..pricing.lambda_ import AWS_LAMBDA_API_TYPES, lambda_setup
from . import energy as E
from .coefficients import Coefficients
from .intensity import GridIntensity

CARBON_COLUMNS = ["kind", "ts", "api", "stage", "route", "region", "component", "kwh", "g_co2e",
                  "g_co2e_per_kwh", "requests", "flags"]
FLAG_GATEWAY_ASSUMED = "gateway_compute_assumed"
FLAG_EMBODIED_ASSUMED = "embodied_assumed"
FLAG_NO_BACKEND = "no_backend_energy"
FLAG_NO_LATENCY = "no_integration_latency"

# name -> fn(traffic with memory_mb/on_lambda columns, coefficients) -> (kwh, vcpu_hours, flags)
Component = Callable[[pd.DataFrame, Coefficients], tuple[np.ndarray, np.ndarray, np.ndarray]]
COMPONENTS: Registry[Component] = Registry("carbon component")


def register_component(name: str) -> Callable[[Component], Component]:
    return COMPONENTS.register(name)


@register_component("lambda_compute")
def _lambda_compute(t: pd.DataFrame, c: Coefficients):
    ms = np.where(t["on_lambda"], t["billed_ms_sum"], 0.0)
    vh = E.lambda_vcpu_hours(ms, t["memory_mb"], c)
    no_lat = t["on_lambda"] & (t["integration_n"] == 0) & (t["requests"] > 0)
    flags = np.where(no_lat, FLAG_NO_LATENCY, np.where(t["on_lambda"], "", FLAG_NO_BACKEND))
    return E.compute_kwh(vh, c), vh, flags


@register_component("lambda_memory")
def _lambda_memory(t: pd.DataFrame, c: Coefficients):
    ms = np.where(t["on_lambda"], t["billed_ms_sum"], 0.0)
    flags = np.where(t["on_lambda"], "", FLAG_NO_BACKEND)
    return E.memory_kwh(E.lambda_gb_hours(ms, t["memory_mb"]), c), np.zeros(len(t)), flags


@register_component("gateway_compute")
def _gateway(t: pd.DataFrame, c: Coefficients):
    vh = E.gateway_vcpu_hours(t["requests"], c)
    return E.compute_kwh(vh, c), vh, np.full(len(t), FLAG_GATEWAY_ASSUMED, dtype=object)


@register_component("network")
def _network(t: pd.DataFrame, c: Coefficients):
    return E.network_kwh(t["bytes_out"], c), np.zeros(len(t)), np.full(len(t), "", dtype=object)


def carbon_traffic(traffic: pd.DataFrame, coefficients: Coefficients, grid: GridIntensity, settings: Settings,
                   embodied: bool | None = None) -> pd.DataFrame:
    """Carbon lines for a traffic frame (columns as for pricing; kind and tflags optional)."""
    if not len(traffic):
        return pd.DataFrame(columns=CARBON_COLUMNS)
    embodied = settings.carbon_embodied if embodied is None else embodied
    t = traffic.reset_index(drop=True).copy()
    t["kind"] = t["kind"].fillna("actual") if "kind" in t else "actual"
    for col in ("requests", "bytes_out", "integration_n", "billed_ms_sum"):
        t[col] = t[col].fillna(0).astype(float)
    setups = {k: lambda_setup(settings, *k) for k in
              t[["api", "stage", "route"]].drop_duplicates().itertuples(index=False, name=None)}
    keys = list(zip(t["api"].tolist(), t["stage"].tolist(), t["route"].tolist()))
    t["memory_mb"] = [setups[k].memory_mb for k in keys]
    t["on_lambda"] = np.array([setups[k].integration == "lambda" for k in keys]) & t["api_type"].isin(
        AWS_LAMBDA_API_TYPES).to_numpy()
    g_per_kwh, grid_flags = grid.for_frame(t["region"], t["ts"])
    tflags = t["tflags"].fillna("").astype(str) if "tflags" in t else pd.Series("", index=t.index)
    base = t[["kind", "ts", "api", "stage", "route", "region", "requests"]]
    parts, vcpu_total = [], np.zeros(len(t))
    for name, fn in COMPONENTS.items():
        kwh, vh, flags = fn(t, coefficients)
        vcpu_total = vcpu_total + vh
        parts.append(base.assign(component=name, kwh=kwh, g_co2e=E.emissions_g(kwh, g_per_kwh),
                                 g_co2e_per_kwh=g_per_kwh, flags=_flags(flags, grid_flags, tflags)))
    if embodied:
        parts.append(base.assign(component="embodied", kwh=0.0, g_co2e=E.embodied_g(vcpu_total, coefficients),
                                 g_co2e_per_kwh=0.0,
                                 flags=_flags(np.full(len(t), FLAG_EMBODIED_ASSUMED, dtype=object), None, tflags)))
    return pd.concat(parts, ignore_index=True)[CARBON_COLUMNS]


def _flags(a, grid_flags, tflags) -> list[str]:
    g = grid_flags if grid_flags is not None else [""] * len(a)
    return [_merge(str(f), gf, tf) for f, gf, tf in zip(list(a), g, tflags.tolist())]


@functools.lru_cache(maxsize=4096)
def _merge(*parts: str) -> str:
    return ",".join(sorted({x for p in parts for x in p.split(",") if x}))


def sci_by_route(lines: pd.DataFrame) -> pd.DataFrame:
    """SCI = (E x I + M) / R per route (R = one API request), with E, I (effective), M and R."""
    cols = ["api", "stage", "route", "region"]
    if not len(lines):
        return pd.DataFrame(columns=cols + ["requests", "kwh", "operational_g", "embodied_g",
                                            "g_co2e_per_kwh", "sci_g_per_request"])
    op = lines[lines["component"] != "embodied"]
    emb = lines[lines["component"] == "embodied"]
    r = op[op["component"] == "gateway_compute"].groupby(cols)["requests"].sum()
    out = pd.DataFrame({"requests": r, "kwh": op.groupby(cols)["kwh"].sum(),
                        "operational_g": op.groupby(cols)["g_co2e"].sum()})
    out["embodied_g"] = emb.groupby(cols)["g_co2e"].sum().reindex(out.index).fillna(0.0) if len(emb) else 0.0
    out["g_co2e_per_kwh"] = (out["operational_g"] / out["kwh"]).where(out["kwh"] > 0)
    out["sci_g_per_request"] = ((out["operational_g"] + out["embodied_g"]) / out["requests"]).where(out["requests"] > 0)
    return out.reset_index()
