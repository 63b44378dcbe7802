"""Traffic -> billable usage lines, one per (bucket, route, component).

Each line carries an integer ``weight`` in the component's base unit (requests, bytes, MB-ms)
and the price key it is billed under; ``costs.price_usage`` turns lines into dollars. Every
component is a builder in :data:`COMPONENTS` (a registry, not an if-chain).

Input frame columns: ts, api, stage, route, region, api_type, requests, bytes_out,
integration_n, billed_ms_sum, and optionally kind (actual | forecast | run_rate) and tflags
(comma-separated flags carried onto every line of the row).
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any, Callable, cast

import numpy as np
import pandas as pd

from ..config import Settings
from ..registry import Registry
from .catalog import Catalog
from .lambda_ import AWS_LAMBDA_API_TYPES, MB_MS_PER_GB_S, LambdaSetup, lambda_setup

BYTES_PER_GB = Decimal(1024 ** 3)
LINE_COLUMNS = ["ts", "api", "stage", "route", "region", "kind", "component", "price_key", "weight",
                "unit_scale", "unit", "fixed_per_hour", "pool_scope", "flags"]

FLAG_NO_GATEWAY_PRICE = "no_gateway_price"
FLAG_NO_LATENCY = "no_integration_latency"
FLAG_LAMBDA_REQ_FROM_GATEWAY = "lambda_requests_from_gateway_count"
FLAG_METERED_FROM_AVERAGE = "metering_from_average_size"
FLAG_CONN_MINUTES_UNKNOWN = "connection_minutes_unknown"


@dataclasses.dataclass(frozen=True)
class UsageContext:
    catalog: Catalog
    settings: Settings
    setups: dict[tuple[str, str, str], LambdaSetup]


Builder = Callable[[pd.DataFrame, UsageContext], pd.DataFrame]
COMPONENTS: Registry[Builder] = Registry("cost component")


def register_component(name: str) -> Callable[[Builder], Builder]:
    return COMPONENTS.register(name)


def usage_lines(traffic: pd.DataFrame, catalog: Catalog, settings: Settings) -> pd.DataFrame:
    """All billable lines of a traffic frame (see module doc for the columns)."""
    t = traffic.copy()
    t["kind"] = t["kind"].fillna("actual") if "kind" in t else "actual"
    for c in ("requests", "bytes_out", "integration_n", "billed_ms_sum"):
        t[c] = t[c].fillna(0).round().astype("int64")
    keys = t[["api", "stage", "route"]].drop_duplicates().itertuples(index=False)
    ctx = UsageContext(catalog, settings, {tuple(k): lambda_setup(settings, *k) for k in keys})
    parts = [fn(t, ctx) for fn in COMPONENTS.values()]
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=LINE_COLUMNS)
    return pd.concat(parts, ignore_index=True)[LINE_COLUMNS]


def _lines(t: pd.DataFrame, component: str, price_key, weight, unit: str, unit_scale: Decimal,
           flags, fixed_per_hour: Decimal | None = None, pool_scope=None) -> pd.DataFrame:
    out = t[["ts", "api", "stage", "route", "region", "kind"]].copy()
    out["component"] = component
    out["price_key"] = price_key
    out["weight"] = np.asarray(weight, dtype="int64")
    out["unit_scale"] = cast(Any, unit_scale)   # a Decimal scalar (pandas' stubs list no Decimal)
    out["unit"] = unit
    out["fixed_per_hour"] = cast(Any, fixed_per_hour)
    out["pool_scope"] = pool_scope if pool_scope is not None else ""
    out["flags"] = flags
    if "tflags" in t.columns:   # flags the traffic itself carries (forecast, run_rate, no_history...)
        out["flags"] = out["flags"].astype(str) + "," + t["tflags"].fillna("").astype(str)
    return out


def _setup_col(t: pd.DataFrame, ctx: UsageContext, attr: str) -> pd.Series:
    keys = zip(t["api"].tolist(), t["stage"].tolist(), t["route"].tolist())
    return pd.Series([getattr(ctx.setups[k], attr) for k in keys], index=t.index)


@register_component("gateway")
def _gateway(t: pd.DataFrame, ctx: UsageContext) -> pd.DataFrame:
    key = t["api_type"].map(lambda a: ctx.catalog.gateway_keys.get(str(a)))
    priced, unpriced = t[key.notna()], t[key.isna()]
    parts = []
    if len(unpriced):
        parts.append(_lines(unpriced, "gateway", None, 0, "request", Decimal(1), FLAG_NO_GATEWAY_PRICE))
    for k, g in priced.groupby(key[key.notna()], sort=True):
        inc = _increment(ctx.catalog, k)
        if inc:
            avg = g["bytes_out"] / g["requests"].where(g["requests"] > 0, 1)
            units_each = np.maximum(1, np.ceil(avg / inc)).astype("int64")
            flags = np.where(units_each > 1, FLAG_METERED_FROM_AVERAGE, "")
            parts.append(_lines(g, "gateway", k, g["requests"] * units_each, "request", Decimal(1), flags))
        else:
            parts.append(_lines(g, "gateway", k, g["requests"], "request", Decimal(1), ""))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=LINE_COLUMNS)


def _increment(catalog: Catalog, key: str) -> int | None:
    for (k, _), p in catalog.prices.items():
        if k == key:
            return p.increment_bytes
    return None


@register_component("ws_connection_minutes")
def _ws_minutes(t: pd.DataFrame, ctx: UsageContext) -> pd.DataFrame:
    ws = t[t["api_type"] == "websocket"]
    if not len(ws) or not ctx.catalog.has("apigw_ws.connection_minutes"):
        return pd.DataFrame(columns=LINE_COLUMNS)
    # access logs record messages, not how long connections stay open: priced at zero, flagged
    return _lines(ws, "connection_minutes", "apigw_ws.connection_minutes", 0, "connection-minute", Decimal(1),
                  FLAG_CONN_MINUTES_UNKNOWN)


@register_component("data_transfer")
def _data_transfer(t: pd.DataFrame, ctx: UsageContext) -> pd.DataFrame:
    return _lines(t, "data_transfer", "data_transfer.out", t["bytes_out"], "GB", 1 / BYTES_PER_GB, "")


def _lambda_rows(t: pd.DataFrame, ctx: UsageContext) -> pd.DataFrame:
    on = (_setup_col(t, ctx, "integration") == "lambda") & t["api_type"].isin(AWS_LAMBDA_API_TYPES)
    return t[on]


@register_component("lambda_requests")
def _lambda_requests(t: pd.DataFrame, ctx: UsageContext) -> pd.DataFrame:
    lam = _lambda_rows(t, ctx)
    known = lam["integration_n"] > 0
    weight = np.where(known, lam["integration_n"], lam["requests"])
    flags = np.where(known | (lam["requests"] == 0), "", FLAG_LAMBDA_REQ_FROM_GATEWAY)
    return _lines(lam, "lambda_requests", "lambda.requests", weight, "request", Decimal(1), flags)


@register_component("lambda_duration")
def _lambda_duration(t: pd.DataFrame, ctx: UsageContext) -> pd.DataFrame:
    lam = _lambda_rows(t, ctx)
    if not len(lam):
        return pd.DataFrame(columns=LINE_COLUMNS)
    mem = _setup_col(lam, ctx, "memory_mb").astype("int64")
    arch = _setup_col(lam, ctx, "arch")
    prov = _setup_col(lam, ctx, "provisioned") > 0
    key = np.where(prov, "lambda.provisioned_duration." + arch, "lambda.duration." + arch)
    flags = np.where((lam["integration_n"] == 0) & (lam["requests"] > 0), FLAG_NO_LATENCY, "")
    return _lines(lam, "lambda_duration", key, lam["billed_ms_sum"] * mem, "GB-second",
                  1 / MB_MS_PER_GB_S, flags)


@register_component("lambda_provisioned")
def _lambda_provisioned(t: pd.DataFrame, ctx: UsageContext) -> pd.DataFrame:
    lam = _lambda_rows(t, ctx)
    parts = []
    for (a, s, r), g in lam.groupby(["api", "stage", "route"], sort=True):
        setup = ctx.setups[(str(a), str(s), str(r))]
        if setup.provisioned <= 0:
            continue
        per_hour = Decimal(setup.provisioned) * setup.memory_gb * 3600   # GB-s per hour enabled
        parts.append(_lines(g, "lambda_provisioned", f"lambda.provisioned.{setup.arch}", g["requests"], "GB-second",
                            Decimal(0), "", fixed_per_hour=per_hour, pool_scope=f"{a}|{s}|{r}"))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=LINE_COLUMNS)


@register_component("cache")
def _cache(t: pd.DataFrame, ctx: UsageContext) -> pd.DataFrame:
    parts = []
    for stage_key, size_gb in sorted(ctx.settings.api_cache_gb_by_stage.items()):
        api, _, stage = stage_key.partition("|")
        g = t[(t["api"] == api) & (t["stage"] == stage)]
        if len(g):
            key = f"apigw_cache.{size_gb:g}gb"
            parts.append(_lines(g, "cache", key, g["requests"], "cache-hour", Decimal(0), "",
                                fixed_per_hour=Decimal(1), pool_scope=stage_key))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=LINE_COLUMNS)
