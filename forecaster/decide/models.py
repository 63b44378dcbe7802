"""Decisions on model (LLM) calls: token-aware usage-plan quotas and model-routing advice. Pure: the
model calls' statistics (``store.llm.call_stats``), the model price catalog and the carbon estimates
in; quotas and records out.

* **Token quotas** (used by the throttle policy's usage plans): a monthly token budget
  (``decide_token_budgets``, per ``api`` or ``api|client``) / the days of the month / the client's
  observed tokens (input + output) per request = requests a day. API Gateway meters a usage plan's
  quota per API key, so an ``api`` budget applies to each of its clients without an entry of its own,
  and the plan gets the tightest client's quota.
* **Model routing** (kind ``route``, target ``model:api|stage|route``): for each route and model
  logged, the what-if of moving ``decide_model_route_share`` of its calls to a cheaper model of the
  same provider and family in the same or a smaller tier (the price catalog's ``family`` / ``tier``),
  or to the same model in another region the api may use; dollars and gCO2e a month saved at the
  observed rate, latency change from the logged latencies. A record when the best candidate saves at
  least ``decide_model_route_min_usd_month`` dollars or ``decide_model_route_min_g_co2e_month`` gCO2e.
"""

from __future__ import annotations

import calendar
import dataclasses
import datetime as dt
import math
from typing import Any

import pandas as pd

from ..carbon.models import ModelEnergy
from ..config import Settings
from ..pricing.models import KEY, TIERS, ModelCatalog, ModelPrice, normalize_model_id, price_tokens
from .guardrails import allowed_regions
from .inputs import DecideInputs, Rec

HOURS_PER_MONTH = 720.0     # the "a month" of savings: 30 days at the observed rate
MIN_OBSERVED_HOURS = 24.0   # a route seen for less than a day is extrapolated as if seen for one


@dataclasses.dataclass(frozen=True)
class TokenQuota:
    """The daily request quota a token budget allows one client of an api."""

    api: str
    client: str
    budget_key: str
    tokens_per_month: float
    tokens_per_day: float
    tokens_per_request: float
    quota_per_day: int
    observed_requests_per_day: float

    def describe(self) -> str:
        return (f"token budget {self.tokens_per_month:,.0f} tokens a month ({self.budget_key}) = "
                f"{self.tokens_per_day:,.0f} a day / {self.tokens_per_request:,.1f} tokens a request "
                f"(client {self.client}, observed) = {self.quota_per_day:,} requests a day "
                f"(observed {self.observed_requests_per_day:,.1f} a day)")


def _hours(first_ts: Any, as_of: dt.datetime) -> float:
    h = (pd.Timestamp(as_of) - pd.Timestamp(first_ts)).total_seconds() / 3600.0
    return max(MIN_OBSERVED_HOURS, h)


def token_quotas(calls: pd.DataFrame, settings: Settings, as_of: dt.datetime) -> dict[str, TokenQuota]:
    """api -> the tightest :class:`TokenQuota` among its budgeted clients (budget / days in ``as_of``'s
    month / observed tokens per request, floored, at least 1). A budget without observed calls gives
    no quota (no tokens per request to divide by)."""
    budgets = settings.decide_token_budgets
    if not budgets or calls.empty:
        return {}
    days = calendar.monthrange(as_of.year, as_of.month)[1]
    out: dict[str, TokenQuota] = {}
    for (api_key, client_key), g in calls.groupby(["api", "client"], sort=True):
        api, client = str(api_key), str(client_key)
        key = f"{api}|{client}" if f"{api}|{client}" in budgets else api
        if key not in budgets:
            continue
        n = float(g["requests"].sum())
        tokens = float(g["input_tokens"].sum() + g["output_tokens"].sum())
        if n <= 0 or tokens <= 0:
            continue
        per_req = tokens / n
        per_day = float(budgets[key]) / days
        q = TokenQuota(api, client, key, float(budgets[key]), per_day, per_req, max(1, int(math.floor(per_day / per_req))),
                       n / (_hours(g["first_ts"].min(), as_of) / 24.0))
        if api not in out or q.quota_per_day < out[api].quota_per_day:
            out[api] = q
    return out


# ---- model routing ------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class RouteOption:
    """One what-if: ``share`` of a route's calls on ``model``@``region`` moved to ``to_model``@``to_region``."""

    api: str
    stage: str
    route: str
    provider: str
    model: str            # as logged
    region: str
    to_model: str         # the catalog's id
    to_region: str
    smaller: bool         # the candidate is of a smaller tier
    share: float
    calls_month: float
    usd_month_before: float
    usd_saved_month: float
    g_co2e_saved_month: float
    latency_ms_now: float | None
    latency_ms_to: float | None

    @property
    def latency_change_ms(self) -> float | None:
        """Change of the route's mean latency (the moved share x the difference of medians)."""
        if self.latency_ms_now is None or self.latency_ms_to is None:
            return None
        return self.share * (self.latency_ms_to - self.latency_ms_now)


def _usd(lines: pd.DataFrame, catalog: ModelCatalog) -> float | None:
    p = price_tokens(lines, catalog)
    if p["usd_micros"].isna().any():
        return None
    return int(p["usd_micros"].sum()) / 1e6


def _candidates(price: ModelPrice, catalog: ModelCatalog, region: str, regions: list[str]) -> list[tuple[ModelPrice, str]]:
    """(catalog row, destination region): same provider and family, same or smaller tier, and either
    another model (in the call's region) or the same model in another allowed region."""
    if price.family is None or price.tier not in TIERS:
        return []
    rank = TIERS.index(price.tier)
    out = []
    for p in catalog.prices.values():
        if p.provider != price.provider or p.family != price.family or p.tier not in TIERS or TIERS.index(p.tier) < rank:
            continue
        if p.region == "*" or p.region == region:
            if p.model != price.model:
                out.append((p, region))
        elif p.model == price.model and p.region in regions and not p.fallback_of:
            out.append((p, p.region))
    return out


def model_route_options(calls: pd.DataFrame, latency: pd.DataFrame, settings: Settings, catalog: ModelCatalog,
                        energy: ModelEnergy, pue: float, grid: dict[str, float], unknown_g_per_kwh: float,
                        as_of: dt.datetime) -> list[RouteOption]:
    """The best option per route and logged model (most dollars saved, then gCO2e), whether it pays or not."""
    if calls.empty:
        return []
    share = settings.decide_model_route_share
    lat: dict[tuple[str, str], float] = {}
    for prov_, model_, ms in latency[["provider", "model", "latency_p50_ms"]].itertuples(index=False):
        if ms is not None and not pd.isna(ms):
            lat[(str(prov_), normalize_model_id(str(model_)))] = float(ms)
    out = []
    for (api, stage, route, prov, model, region), g in calls.groupby(
            ["api", "stage", "route", "provider", "model", "region"], sort=True):
        price, _ = catalog.lookup(str(prov), str(model), str(region))
        if price is None:
            continue
        logged = sorted(set(calls.loc[calls["api"] == api, "region"].astype(str)))
        regions = allowed_regions(settings, str(api), logged)
        if all(r.startswith("eu-") for r in logged):
            regions = [r for r in regions if r.startswith("eu-")]
        lines = g.assign(ts=pd.Timestamp(as_of))[["ts", *KEY, "requests", "input_tokens", "output_tokens",
                                                    "cached_input_tokens"]]
        now = _usd(lines, catalog)
        if now is None:
            continue
        month = HOURS_PER_MONTH / _hours(g["first_ts"].min(), as_of)
        n_in, n_out = float(g["input_tokens"].sum()), float(g["output_tokens"].sum())
        g_now = float(energy.kwh(price.tier, n_in, n_out, pue)) * grid.get(str(region), unknown_g_per_kwh)
        lat_rows = g[g["latency_n"] > 0]
        lat_now = (float((lat_rows["latency_p50_ms"] * lat_rows["requests"]).sum() / lat_rows["requests"].sum())
                   if len(lat_rows) else None)
        best: RouteOption | None = None
        for cand, dest in _candidates(price, catalog, str(region), regions):
            alt = _usd(lines.assign(model=cand.model, region=dest), catalog)
            if alt is None:
                continue
            g_alt = float(energy.kwh(cand.tier, n_in, n_out, pue)) * grid.get(dest, unknown_g_per_kwh)
            opt = RouteOption(str(api), str(stage), str(route), str(prov), str(model), str(region), cand.model, dest,
                              TIERS.index(str(cand.tier)) > TIERS.index(str(price.tier)), share,
                              float(g["requests"].sum()) * month, now * month, share * (now - alt) * month,
                              share * (g_now - g_alt) * month, lat_now, lat.get((str(prov), cand.model)))
            if best is None or (opt.usd_saved_month, opt.g_co2e_saved_month) > (best.usd_saved_month, best.g_co2e_saved_month):
                best = opt
        if best is not None:
            out.append(best)
    return out


def pays(o: RouteOption, settings: Settings) -> bool:
    """Worth a record: saves the dollar threshold, or the carbon one without costing more."""
    return (o.usd_saved_month >= settings.decide_model_route_min_usd_month and o.usd_saved_month > 0) or (
        o.g_co2e_saved_month >= settings.decide_model_route_min_g_co2e_month and o.g_co2e_saved_month > 0
        and o.usd_saved_month >= 0)


def describe(o: RouteOption) -> str:
    """The plain-language rationale of a model-routing option, with its numbers."""
    if o.latency_change_ms is None:
        missing = [m for m, v in ((o.model, o.latency_ms_now), (o.to_model, o.latency_ms_to)) if v is None]
        lat = f"latency change unknown (no latency logged for {', '.join(missing)})"
    else:
        lat = (f"latency {o.latency_change_ms:+,.0f} ms on the route's mean (median {o.latency_ms_now:,.0f} -> "
               f"{o.latency_ms_to:,.0f} ms for a moved call)")
    where = f" in {o.to_region}" if o.to_region != o.region else ""
    return (f"{o.api}|{o.stage}|{o.route}: move {o.share:.0%} of its {o.provider}/{o.model} calls "
            f"({o.calls_month:,.0f} a month at the observed rate, ${o.usd_month_before:,.2f} a month) to "
            f"{o.to_model}{where}: ${o.usd_saved_month:,.2f} and {o.g_co2e_saved_month:,.0f} gCO2e a month "
            f"saved (energy per token: estimates); {lat}"
            + ("; a smaller model: check the route's answers before applying" if o.smaller else ""))


def model_routes(inp: DecideInputs, settings: Settings, options: list[RouteOption]) -> list[Rec]:
    """``route`` records (``model_weights``) for the options that pay."""
    out = []
    for o in options:
        if not pays(o, settings):
            continue
        src, dst = f"{o.model}@{o.region}", f"{o.to_model}@{o.to_region}"
        weights = {src: round(1 - o.share, 6), dst: round(o.share, 6)}
        rationale = describe(o)
        impact = {"usd_saved": round(o.usd_saved_month, 6), "g_co2e_saved": round(o.g_co2e_saved_month, 3),
                  "usd_per_month_before": round(o.usd_month_before, 6), "calls_per_month": round(o.calls_month, 1),
                  "calls_moved_per_month": round(o.calls_month * o.share, 1), "share_moved": o.share}
        if o.latency_change_ms is not None:
            impact["latency_change_ms"] = round(o.latency_change_ms, 3)
        out.append(Rec("route", f"model:{o.api}|{o.stage}|{o.route}",
                       {"api": o.api, "stage": o.stage, "route": o.route, "provider": o.provider,
                        "model_weights": weights},
                       inp.as_of, None, rationale, impact, inp.status_for(o.api, o.stage, o.route)))
    return out


# ---- response caching ---------------------------------------------------------------------------

BYTES_PER_TOKEN = 4.0   # a cached response's size: ~4 bytes of text a token (OpenAI's rule of thumb)


def prompt_cache(inp: DecideInputs, settings: Settings, repeats: pd.DataFrame, catalog: ModelCatalog) -> list[Rec]:
    """``cache`` records (``cache_scope`` = ``model_response``) for routes whose model calls repeat an
    identical prompt (by its SHA-256, hashed at ingest) within ``decide_prompt_cache_ttl_s``: hit ratio =
    repeats / calls with a hash, at least ``decide_cache_min_hit_ratio``; tokens and dollars a month
    saved at the observed rate (the repeats' own tokens priced); the cache sized for the distinct
    responses (output tokens x 4 bytes, x2, rounded up to an API Gateway cache size)."""
    from .guardrails import CACHE_SIZES_GB

    out: list[Rec] = []
    if repeats.empty:
        return out
    ttl = int(settings.decide_prompt_cache_ttl_s)
    for (api_key, stage_key, route_key), g in repeats.groupby(["api", "stage", "route"], sort=True):
        api, stage, route = str(api_key), str(stage_key), str(route_key)
        calls, hits = float(g["calls"].sum()), float(g["requests"].sum())
        if calls <= 0 or hits <= 0 or hits / calls < settings.decide_cache_min_hit_ratio:
            continue
        month = HOURS_PER_MONTH / _hours(g["first_ts"].min(), inp.as_of)
        lines = g.assign(ts=pd.Timestamp(inp.as_of))[["ts", *KEY, "requests", "input_tokens", "output_tokens",
                                                       "cached_input_tokens"]]
        usd = _usd(lines, catalog)
        tokens = float(g["input_tokens"].sum() + g["output_tokens"].sum())
        distinct = float(g["distinct_prompts"].sum())
        gb = float(g["all_output_tokens"].sum()) / calls * distinct * BYTES_PER_TOKEN / 1e9
        size = next((s for s in CACHE_SIZES_GB if s >= gb * 2), CACHE_SIZES_GB[-1])
        models = ", ".join(sorted(f"{p}/{m}" for p, m in g[["provider", "model"]].drop_duplicates().itertuples(index=False)))
        money = "unpriced model: dollars unknown" if usd is None else f"${usd * month:,.2f} a month"
        rationale = (f"{api}|{stage}|{route}: {hits:,.0f} of {calls:,.0f} model calls ({hits / calls:.0%}) repeat an "
                     f"identical prompt (by hash) of the same model within {ttl} s ({models}); a response cache "
                     f"(TTL {ttl} s, {size:g} GB) saves {tokens * month:,.0f} tokens and {money} at the observed rate")
        impact = {"hit_ratio": round(hits / calls, 4), "calls_saved_per_month": round(hits * month, 1),
                  "tokens_saved_per_month": round(tokens * month, 1),
                  "usd_saved": round(usd * month, 6) if usd is not None else 0.0}
        out.append(Rec("cache", f"{api}|{stage}|{route}",
                       {"api": api, "stage": stage, "route": route, "cache_enabled": True, "cache_size_gb": size,
                        "ttl_s": ttl, "cache_scope": "model_response"},
                       inp.as_of, None, rationale, impact, inp.status_for(api, stage, route)))
    return out
