"""Prewarm, route, cache and WebSocket policies (throttle has its own module). Pure: inputs and
price / grid tables in, records out, each with its rationale and expected impact in numbers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..config import Settings
from ..pricing.catalog import Catalog
from ..pricing.lambda_ import lambda_setup
from .guardrails import CACHE_SIZES_GB, MAX_WS_IDLE_S, allowed_regions, lookup_glob
from .inputs import DecideInputs, Rec


def _price(catalog: Catalog, key: str, region: str) -> float:
    p, _ = catalog.lookup(key, region)
    t = p.tiers[0]
    return float(t.usd_per_unit)


def prewarm(inp: DecideInputs, settings: Settings, catalog: Catalog) -> list[Rec]:
    """Provisioned concurrency for each forecast spike of a Lambda route: peak rps x p95 duration
    (Little's law) x headroom, from a lead time before the spike to a tail after it."""
    out: list[Rec] = []
    sp = inp.spikes
    if sp.empty:
        return out
    for _, s in sp[sp["series"].str.startswith("route:")].iterrows():
        api, stage, route, region = s["series"][len("route:"):].split("|")
        setup = lambda_setup(settings, api, stage, route)
        st = inp.stats[(inp.stats["api"] == api) & (inp.stats["stage"] == stage) & (inp.stats["route"] == route)
                       & (inp.stats["region"] == region)]
        if setup.integration != "lambda" or st.empty or st["api_type"].iloc[0] not in ("rest", "http", "websocket"):
            continue
        p95_ms = st["latency_p95_ms"].iloc[0]
        assumed_ms = p95_ms is None or not p95_ms == p95_ms
        if assumed_ms:
            p95_ms = settings.decide_lambda_duration_ms
        factor, assumed = inp.peak_factor(api, stage, route)
        peak_rps = float(s["peak"]) / inp.step_s * factor
        pc = int(math.ceil(peak_rps * float(p95_ms) / 1000.0 * settings.decide_headroom))
        if pc <= 0:
            continue
        vf = pd.Timestamp(s["start_ts"]).to_pydatetime() - pd.Timedelta(minutes=settings.decide_prewarm_lead_minutes)
        vt = (pd.Timestamp(s["end_ts"]) + pd.Timedelta(seconds=inp.step_s)
              + pd.Timedelta(minutes=settings.decide_prewarm_tail_minutes)).to_pydatetime()
        seconds = (vt - vf).total_seconds()
        gb = setup.memory_mb / 1024.0
        usd = pc * gb * seconds * _price(catalog, f"lambda.provisioned.{setup.arch}", region)
        ev = f" ({s['event']})" if isinstance(s.get("event"), str) and s["event"] else ""
        rationale = (f"{api}|{stage}|{route} in {region}: spike{ev} forecast {s['ratio']:.1f}x baseline, peak "
                     f"{peak_rps:,.1f} rps x p95 duration {p95_ms:,.0f} ms{' (assumed: no latency logged)' if assumed_ms else ''} x headroom {settings.decide_headroom:g} "
                     f"= {pc} concurrent environments from {vf:%Y-%m-%d %H:%M} to {vt:%Y-%m-%d %H:%M} "
                     f"({settings.decide_prewarm_lead_minutes} min lead); costs ${usd:,.2f}, avoids up to {pc} cold "
                     f"starts ({pc * settings.decide_cold_start_ms / 1000:,.1f} s of added latency)")
        out.append(Rec("prewarm", f"{api}|{stage}|{route}",
                       {"api": api, "stage": stage, "route": route, "provisioned_concurrency": pc, "region": region},
                       vf, vt, rationale,
                       {"usd": round(usd, 4), "cold_starts_avoided": float(pc), "peak_rps": round(peak_rps, 3),
                        "latency_s_avoided": pc * settings.decide_cold_start_ms / 1000},
                       inp.status_for(api, stage, route)))
    return out


REQUEST_PRICE = {"rest": "apigw_rest.requests", "http": "apigw_http.requests", "websocket": "apigw_ws.messages"}


def route_weights(inp: DecideInputs, settings: Settings, catalog: Catalog, grid: dict[str, float],
                  kwh_per_request: float) -> list[Rec]:
    """Region weights per api logged in several regions: traffic moves toward the lowest-carbon
    region it may use (residency: EU-only apis stay in the EU; ``decide_route_regions``), up to that
    region's capacity (``decide_route_capacity_rps``), only where the latency budget allows.
    gCO2e saved counts the gateway's own energy per request (``kwh_per_request``); $ saved the
    regions' request prices."""
    out: list[Rec] = []
    fc = inp.forecasts
    if fc.empty:
        return out
    parts = fc["series"].str[len("route:"):].str.split("|", expand=True)
    f = fc.assign(api=parts[0], region=parts[3])
    start, end = inp.as_of, pd.to_datetime(fc["ds"]).max().to_pydatetime()
    for api_key, g in f.groupby("api", sort=True):
        api = str(api_key)
        logged = sorted(g["region"].unique())
        regions = allowed_regions(settings, api, logged)
        if all(r.startswith("eu-") for r in logged):
            regions = [r for r in regions if r.startswith("eu-")]
        if len(regions) < 2:
            continue
        by_region = g.groupby("region")["yhat"].sum().reindex(regions).fillna(0.0)
        total = float(by_region.sum())
        if total <= 0:
            continue
        peak_rps = float(g.groupby("ds")["yhat_hi_95"].sum().max()) / inp.step_s
        lat = inp.stats[inp.stats["api"] == api].groupby("region")["latency_p95_ms"].mean().dropna()
        base_lat = float(lat.min()) if len(lat) else 0.0
        ok = [r for r in regions if (float(lat.get(r, base_lat)) - base_lat) <= settings.decide_route_latency_budget_ms]
        if not ok:
            continue
        best = min(ok, key=lambda r: (grid.get(r, math.inf), r))
        cap = lookup_glob(settings.decide_route_capacity_rps, f"{api}|{best}")
        cap = cap if cap is not None else lookup_glob(settings.decide_route_capacity_rps, best)
        share_best = 1.0 if cap is None or peak_rps <= 0 else min(1.0, float(cap) / peak_rps)
        current = (by_region / total).to_dict()
        share_best = max(share_best, current.get(best, 0.0))
        rest = {r: current.get(r, 0.0) for r in regions if r != best}
        rest_total = sum(rest.values())
        new = {best: share_best, **{r: (1 - share_best) * (v / rest_total if rest_total else 1 / len(rest))
                                    for r, v in rest.items()}}
        weights = {r: int(round(255 * v)) for r, v in new.items()}
        if sum(weights.values()) == 0:
            weights[best] = 255
        kwh_g = {r: grid.get(r, float("nan")) for r in regions}
        moved = sum(max(0.0, current.get(r, 0.0) - new[r]) for r in regions) * total
        g_now = sum(current.get(r, 0.0) * kwh_g[r] for r in regions)
        g_new = sum(new[r] * kwh_g[r] for r in regions)
        g_saved = total * kwh_per_request * (g_now - g_new) if g_now == g_now and g_new == g_new else 0.0
        types = inp.stats.loc[inp.stats["api"] == api, "api_type"]
        key = REQUEST_PRICE.get(str(types.iloc[0])) if len(types) else None
        usd_saved = 0.0
        if key:
            price = {r: _price(catalog, key, r) for r in regions}
            usd_saved = total * sum((current.get(r, 0.0) - new[r]) * price[r] for r in regions)
        if g_saved < settings.decide_route_min_g_co2e and usd_saved < settings.decide_route_min_usd:
            continue   # a move that saves next to nothing is noise in the plan, not advice
        rationale = (f"{api}: {moved:,.0f} forecast requests of {total:,.0f} move to {best} "
                     f"({kwh_g[best]:,.0f} gCO2e/kWh, lowest of {', '.join(regions)} within the "
                     f"{settings.decide_route_latency_budget_ms:g} ms latency budget"
                     f"{'' if cap is None else f', capacity {float(cap):,.0f} rps'}); grid intensity of the "
                     f"traffic mix {g_now:,.0f} -> {g_new:,.0f} gCO2e/kWh: {round(g_saved, 1) + 0.0:,.1f} gCO2e and "
                     f"${round(usd_saved, 2) + 0.0:,.2f} "
                     f"saved over the horizon")
        out.append(Rec("route", f"region:{api}", {"api": api, "stage": None, "route": None, "weights": weights},
                       start, end, rationale,
                       {"requests_moved": round(moved, 1), "grid_g_per_kwh_before": round(g_now, 2),
                        "g_co2e_saved": round(g_saved, 3), "usd_saved": round(usd_saved, 6),
                        "grid_g_per_kwh_after": round(g_new, 2),
                        "grid_intensity_saved_share": (1 - g_new / g_now) if g_now and g_now == g_now else 0.0},
                       inp.status_for(api, None, None)))
    return out


def cache(inp: DecideInputs, settings: Settings, catalog: Catalog, cands: pd.DataFrame, stages: pd.DataFrame) -> list[Rec]:
    """Stage cache for read-heavy stages: hit ratio = repeats of the same route and client within the
    TTL among GETs (logs with clients), backend calls and dollars saved against the cache's price."""
    out: list[Rec] = []
    if cands.empty:
        return out
    hours = max(1.0, (inp.as_of - pd.Timestamp(cands.attrs.get("start", inp.as_of)).to_pydatetime()).total_seconds() / 3600)
    for (api_key, stage_key), g in cands.groupby(["api", "stage"], sort=True):
        api, stage = str(api_key), str(stage_key)
        st = stages[(stages["api"] == api) & (stages["stage"] == stage)]
        if st.empty:
            continue
        req, gets = float(st["requests"].iloc[0]), float(g["requests"].sum())
        errors = float(g["errors"].sum())
        if req <= 0 or gets / req < 0.6 or errors / max(gets, 1) > 0.05:
            continue
        hit = float(g["repeats"].sum()) / gets
        if hit < settings.decide_cache_min_hit_ratio:
            continue
        region = str(st["region"].iloc[0])
        working_set_gb = float(g["bytes_mean"].fillna(0).mean()) * gets / hours * settings.decide_cache_ttl_s / 3600 / 1e9
        size = next((s for s in CACHE_SIZES_GB if s >= working_set_gb * 2), CACHE_SIZES_GB[-1])
        cache_usd_h = _price(catalog, f"apigw_cache.{size:g}gb", region)
        setup = lambda_setup(settings, api, stage, "")
        calls_saved_h = gets / hours * hit
        lambda_usd = calls_saved_h * _price(catalog, "lambda.requests", region) if setup.integration == "lambda" else 0.0
        rationale = (f"{api}|{stage}: {gets / req:.0%} of requests are GETs with {errors / max(gets, 1):.1%} errors; "
                     f"{hit:.0%} repeat the same route and client within {settings.decide_cache_ttl_s} s, so a "
                     f"{size:g} GB cache (TTL {settings.decide_cache_ttl_s} s) saves {calls_saved_h:,.0f} backend calls "
                     f"an hour (${lambda_usd:,.4f}) against ${cache_usd_h:,.3f} an hour for the cache")
        out.append(Rec("cache", f"{api}|{stage}",
                       {"api": api, "stage": stage, "route": None, "cache_enabled": True, "cache_size_gb": size,
                        "ttl_s": int(settings.decide_cache_ttl_s)},
                       inp.as_of, None, rationale,
                       {"hit_ratio": round(hit, 4), "backend_calls_saved_per_hour": round(calls_saved_h, 2),
                        "usd_per_hour": round(cache_usd_h, 4), "usd_saved_per_hour": round(lambda_usd, 6)},
                       inp.status_for(api, stage, None)))
    return out


def websocket(inp: DecideInputs, settings: Settings, catalog: Catalog, gaps: pd.DataFrame) -> list[Rec]:
    """Idle timeout per WebSocket api and stage: the ``decide_ws_idle_quantile`` of message gaps per
    connection; connection-minutes saved on connections that idle past it."""
    out = []
    for _, r in gaps.iterrows():
        g = np.asarray(r["gaps"] if r["gaps"] is not None else [], dtype=float)
        if len(g) < 3:
            continue
        q = float(np.quantile(g, settings.decide_ws_idle_quantile))
        t = int(min(MAX_WS_IDLE_S, max(1, math.ceil(q))))
        idle_min = float(np.clip(g - t, 0, None).sum() / 60)
        usd = idle_min * _price(catalog, "apigw_ws.connection_minutes", inp.settings.default_region)
        rationale = (f"{r['api']}|{r['stage']}: {settings.decide_ws_idle_quantile:.0%} of the {len(g):,} gaps between a "
                     f"connection's messages are under {q:,.0f} s; an idle timeout of {t} s closes the rest, saving "
                     f"{idle_min:,.1f} connection-minutes (${usd:,.6f}) over the history read")
        out.append(Rec("websocket", f"{r['api']}|{r['stage']}",
                       {"api": r["api"], "stage": r["stage"], "route": None, "idle_timeout_s": t},
                       inp.as_of, None, rationale,
                       {"connection_minutes_saved": round(idle_min, 2), "usd_saved": usd, "gaps": float(len(g))},
                       inp.status_for(r["api"], r["stage"], None)))
    return out
