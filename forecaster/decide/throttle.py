"""Throttle policy: a rate limit and burst per stage, per route and per usage plan for each validity
window, sized from the forecast's upper band x the route's busiest-second factor x headroom, within
the guardrails (:func:`guardrails.clamp_limits`). Pure: frames in, records out.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..config import Settings
from .guardrails import burst_for, clamp_limits, rate_bounds, target_key
from .inputs import DecideInputs, Rec
from .models import TokenQuota

MIN_LIMIT_RPS = 1.0


def _target_frames(inp: DecideInputs) -> dict[tuple[str, str, str | None], pd.DataFrame]:
    """(api, stage, route-or-None) -> forecast rows summed over regions (routes) or the stage series."""
    fc = inp.forecasts
    out: dict[tuple[str, str, str | None], pd.DataFrame] = {}
    routes = fc[fc["series"].str.startswith("route:")]
    if len(routes):
        parts = routes["series"].str[len("route:"):].str.split("|", expand=True)
        r = routes.assign(api=parts[0], stage=parts[1], route=parts[2])
        for (api, stage, route), g in r.groupby(["api", "stage", "route"], sort=True):
            out[(str(api), str(stage), str(route))] = g.groupby("ds", as_index=False)[inp.value_cols].sum()
        for (api, stage), g in r.groupby(["api", "stage"], sort=True):
            out[(str(api), str(stage), None)] = g.groupby("ds", as_index=False)[inp.value_cols].sum()
    return out


def throttle(inp: DecideInputs, settings: Settings, token_quotas: dict[str, TokenQuota] | None = None) -> list[Rec]:
    band = f"yhat_hi_{settings.decide_band}"
    win = pd.Timedelta(minutes=settings.decide_window_minutes)
    recs: list[Rec] = []
    per_api: dict[str, list[float]] = {}
    for (api, stage, route), f in _target_frames(inp).items():
        params = {"api": api, "stage": stage, "route": route}
        key = target_key(params)
        factor, assumed = inp.peak_factor(api, stage, route)
        ds = pd.to_datetime(f["ds"])
        step_s = inp.step_s
        start = ds.min().floor(win) if win <= pd.Timedelta(hours=24) else ds.min()
        w = ((ds - start) // win).to_numpy()
        hi = f[band].to_numpy(dtype=float)
        yhat = f["yhat"].to_numpy(dtype=float)
        n = int(w.max()) + 1
        desired, fc_req, peak_rps = [], [], []
        for i in range(n):
            m = w == i
            p = float(np.nanmax(hi[m])) / step_s * factor if m.any() else math.nan
            peak_rps.append(p)
            # a limit never goes below MIN_LIMIT_RPS: an idle window keeps a working limit
            desired.append(max(MIN_LIMIT_RPS, p * settings.decide_headroom) if not math.isnan(p) else MIN_LIMIT_RPS)
            fc_req.append(yhat[m])
        observed = inp.observed_peak(api, stage, route)
        before = inp.before_rps("throttle", key)
        limits = clamp_limits(desired, settings, params, peaks=[observed] * n, before_rps=before)
        status = inp.status_for(api, stage, route)
        prev = before
        for i, lim in enumerate(limits):
            vf = (start + i * win).to_pydatetime()
            y = fc_req[i]
            cap = lim * step_s
            total = float(np.nansum(y))
            admitted = float(np.nansum(np.minimum(y * factor, cap)) / factor) if total else 0.0
            spike = inp.spike_note(api, stage, route, vf, vf + win.to_pytimedelta())
            change = f"{prev:,.1f} -> {lim:,.1f} rps" if prev else f"{lim:,.1f} rps"
            rationale = (f"{key}: forecast busiest second {peak_rps[i]:,.1f} rps ({settings.decide_band}% upper band x "
                         f"peak-to-mean {factor:.2f}{' assumed, counts only' if assumed else ''}) x headroom "
                         f"{settings.decide_headroom:g}{spike}; limit {change} from {vf:%Y-%m-%d %H:%M}; admits "
                         f"{(admitted / total if total else 1):.1%} of forecast traffic")
            if lim > desired[i] * (1 + 1e-6) and desired[i] > MIN_LIMIT_RPS:
                rationale += " (raised by the guardrails: observed peak floor or ramp)"
            rec_params = {**params, "rate_limit_rps": float(lim), "burst_limit": burst_for(lim, settings)}
            impact = {"forecast_requests": round(total, 1), "requests_admitted_share": (admitted / total) if total else 1.0,
                      "requests_shed": round(total - admitted, 1), "limit_rps": round(lim, 3),
                      "forecast_peak_rps": round(peak_rps[i], 3) if not math.isnan(peak_rps[i]) else 0.0,
                      "peak_factor": round(factor, 3)}
            recs.append(Rec("throttle", key, rec_params, vf, vf + win.to_pytimedelta(), rationale, impact, status,
                            observed_peak_rps=observed, before=prev))
            prev = float(lim)
        if route is None:
            per_api.setdefault(api, []).append(max(limits))
    recs += usage_plans(inp, settings, per_api, token_quotas)
    return recs


def usage_plans(inp: DecideInputs, settings: Settings, per_api: dict[str, list[float]],
                token_quotas: dict[str, TokenQuota] | None = None) -> list[Rec]:
    """One usage-plan record per api over the horizon: the sum of its stages' highest limits, and a
    daily quota of the busiest forecast day's upper band x headroom.

    An api with a token budget (``token_quotas``, see :mod:`.models`) gets the budget's quota where it
    is lower, and a rate of at most that quota spread over a day x the api's peak-to-mean factor x
    headroom (never below 1 rps or the target's minimum); an api with model calls and a budget but
    no forecast gets a plan from the budget alone."""
    out: list[Rec] = []
    fc = inp.forecasts
    if fc.empty:
        return out
    token_quotas = token_quotas or {}
    band = f"yhat_hi_{settings.decide_band}"
    start, end = pd.to_datetime(fc["ds"]).min(), pd.to_datetime(fc["ds"]).max() + pd.Timedelta(seconds=inp.step_s)
    for api in sorted(set(per_api) | set(token_quotas)):
        lims = per_api.get(api)
        rows = fc[fc["series"].str.startswith(f"route:{api}|")]
        daily = rows.groupby(pd.to_datetime(rows["ds"]).dt.floor("D"))[band].sum()
        quota = int(math.ceil(float(daily.max()) * settings.decide_headroom)) if len(daily) else None
        quota = quota if quota and quota > 0 else None
        lo, hi = rate_bounds(settings, {"api": api, "stage": None, "route": None})
        rate = min(hi, max(lo, MIN_LIMIT_RPS, sum(lims))) if lims else None
        if rate is not None:
            why = (f"rate {rate:,.1f} rps (the sum of its stages' highest limits over the horizon), quota "
                   f"{quota or 0:,} requests a day (busiest forecast day's {settings.decide_band}% upper band x "
                   f"{settings.decide_headroom:g})")
        else:
            why = "no forecast"
        impact = {"quota_per_day": float(quota or 0),
                  "forecast_busiest_day_requests": float(daily.max()) if len(daily) else 0.0}
        tq = token_quotas.get(api)
        if tq is not None:
            factor, _ = inp.peak_factor(api, None, None) if lims else (settings.decide_counts_peak_factor, True)
            token_rate = tq.quota_per_day / 86400.0 * factor * settings.decide_headroom
            budget_rate = min(hi, max(lo, MIN_LIMIT_RPS, token_rate))
            rate = budget_rate if rate is None else min(rate, budget_rate)
            quota = tq.quota_per_day if quota is None else min(quota, tq.quota_per_day)
            why += (f"; {tq.describe()}: quota {quota:,} a day and rate at most {budget_rate:,.2f} rps (that quota "
                    f"over a day x peak-to-mean {factor:.2f} x headroom {settings.decide_headroom:g})")
            impact.update({"token_budget_per_month": tq.tokens_per_month, "tokens_per_request": round(tq.tokens_per_request, 3),
                           "token_quota_per_day": float(tq.quota_per_day), "quota_per_day": float(quota),
                           "observed_requests_per_day": round(tq.observed_requests_per_day, 3)})
        assert rate is not None
        params = {"api": api, "stage": None, "route": None, "rate_limit_rps": float(rate),
                  "burst_limit": burst_for(rate, settings), "quota_per_day": quota}
        impact["limit_rps"] = round(rate, 3)
        out.append(Rec("throttle", f"usage_plan:{api}", params, start.to_pydatetime(), end.to_pydatetime(),
                       f"usage plan of {api}: {why}", impact, inp.status_for(api, None, None)))
    return out
