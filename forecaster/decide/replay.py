"""Replay: recorded traffic through a token-bucket model of the gateway, under throttle policies.

Policies (registered by name in :data:`POLICIES`) turn the traffic *before* each decision time into
the limit for the next window; :func:`replay` runs each through :func:`bucket.replay_bucket` and
reports requests, throttled requests and share, capacity ratio (sum of limit x step seconds over
the sum of requests: what the limits provision) and minutes over capacity (minutes in steps where
some request was throttled). Traffic is replayed at its own step (1 minute for request logs, the
counts' step otherwise); missing steps count as no requests.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import numpy as np
import pandas as pd

from ..config import Settings
from ..errors import BadInput, UnknownName
from .bucket import replay_bucket
from .guardrails import burst_for, clamp_limits
from .quickcast import quickcast


@dataclasses.dataclass
class Traffic:
    """A regular series at ``step_s``: requests per step and the busiest second (NaN: unknown)."""

    series: str
    ts: pd.DatetimeIndex
    requests: np.ndarray
    peak: np.ndarray
    step_s: float
    start: int            # index of the first replayed step (history before it)
    uplift: np.ndarray | None = None   # per step: known events' expected uplift (>= 1; 1 outside them)
    usd_per_request: float | None = None     # gateway request price (traffic-weighted over its routes)
    g_co2e_per_request: float | None = None  # gateway energy per request x the regions' grid intensity

    @property
    def rate(self) -> np.ndarray:
        """Per step: the rate a limit must allow to admit the step (busiest second where known)."""
        mean = self.requests / self.step_s
        return np.where(np.isnan(self.peak), mean, np.maximum(self.peak, mean))


@dataclasses.dataclass
class PolicyContext:
    traffic: Traffic
    settings: Settings
    every: int            # steps between decisions
    params: dict          # target params for the guardrails (api, stage, route)


def _decisions(ctx: PolicyContext) -> np.ndarray:
    return np.arange(ctx.traffic.start, len(ctx.traffic.requests), ctx.every)


def _hold(ctx: PolicyContext, times: np.ndarray, values: list[float]) -> np.ndarray:
    """Per replayed step: the value decided at the latest decision time at or before it."""
    n, s = len(ctx.traffic.requests), ctx.traffic.start
    out = np.empty(n - s)
    for j, t in enumerate(times):
        stop = times[j + 1] if j + 1 < len(times) else n
        out[t - s:stop - s] = values[j]
    return out


def _max_before(rate: np.ndarray, t: int, steps: int) -> float:
    w = rate[max(0, t - steps):t]
    w = w[~np.isnan(w)]
    return float(w.max()) if len(w) else math.nan


def static(ctx: PolicyContext) -> np.ndarray:
    """One limit for the whole replay: the history's peak (before the replay) x headroom."""
    tr = ctx.traffic
    peak = _max_before(tr.rate, tr.start, tr.start)
    if math.isnan(peak):
        raise BadInput(f"series {tr.series} has no history before the replay starts ({tr.ts[tr.start]}): "
                       "the static policy needs some")
    return np.full(len(tr.requests) - tr.start, max(peak * ctx.settings.decide_headroom, 1e-3))


def daily_peak(ctx: PolicyContext) -> np.ndarray:
    """Reset at each midnight UTC to the last 7 days' peak x headroom (the common manual practice)."""
    tr = ctx.traffic
    day = int(round(86400 / tr.step_s))
    times = [t for t in range(tr.start, len(tr.requests)) if t == tr.start or tr.ts[t].normalize() == tr.ts[t]]
    vals = [_max_before(tr.rate, t, 7 * day) * ctx.settings.decide_headroom for t in times]
    vals = [v if not math.isnan(v) else 1e-3 for v in vals]
    return _hold(ctx, np.array(times), vals)


def reactive(ctx: PolicyContext) -> np.ndarray:
    """At each decision: the last hour's peak x headroom."""
    tr = ctx.traffic
    times = _decisions(ctx)
    hour = max(1, int(round(3600 / tr.step_s)))
    vals = [_max_before(tr.rate, t, hour) * ctx.settings.decide_headroom for t in times]
    vals = [v if not math.isnan(v) else 1e-3 for v in vals]
    return _hold(ctx, times, vals)


def predictive(ctx: PolicyContext) -> np.ndarray:
    """The throttle policy: at each decision, re-forecast from the data before it (seasonal profile,
    conformal upper band at ``decide_band``), size the next two windows' limits from the upper band
    x peak-to-mean factor x headroom, and keep the first within the guardrails (floor at the peak of
    the last ``decide_floor_lookback_hours`` x margin, at most x N per window)."""
    tr, s = ctx.traffic, ctx.settings
    period = int(round(86400 / tr.step_s))
    if period < 2 * ctx.every:
        raise BadInput(f"--decide-every must be at most 12 hours at a {tr.step_s / 60:g}-minute step")
    fc = quickcast(tr.requests, period, ctx.every, 2 * ctx.every, level=int(s.decide_band) / 100, uplift=tr.uplift)
    lookback = max(1, int(round(s.decide_floor_lookback_hours * 3600 / tr.step_s)))
    times = _decisions(ctx)
    all_decisions = {int(t): j for j, t in enumerate(fc.decisions)}
    has_peak = ~np.isnan(tr.peak)
    vals: list[float] = []
    prev = None
    for t in times:
        j = all_decisions.get(int(t))
        if j is None:       # the replay start is not on the forecast's decision grid
            j = int(np.searchsorted(fc.decisions, t, side="right") - 1)
        factor = 1.0
        ok = has_peak[max(0, t - 7 * period):t] & (tr.requests[max(0, t - 7 * period):t] > 0)
        if ok.any():        # busiest second / step mean, learned from the week before
            r = tr.peak[max(0, t - 7 * period):t][ok] / (tr.requests[max(0, t - 7 * period):t][ok] / tr.step_s)
            factor = float(np.quantile(r, 0.9))
        up = fc.ahead(j, t, t + 2 * ctx.every) * factor / tr.step_s
        up = up[~np.isnan(up)]
        d1 = float(up[:ctx.every].max()) if len(up[:ctx.every]) else math.nan
        d2 = float(up[ctx.every:].max()) if len(up[ctx.every:]) else d1
        desired = [x * s.decide_headroom if not math.isnan(x) else (prev or 1e-3) for x in (d1, d2)]
        peak = _max_before(tr.rate, t, lookback)
        floor = None if math.isnan(peak) else peak
        lim = clamp_limits(desired, s, ctx.params, peaks=[floor, floor], before_rps=prev)[0]
        vals.append(lim)
        prev = lim
    return _hold(ctx, times, vals)


POLICIES: dict[str, Callable[[PolicyContext], np.ndarray]] = {
    "static": static, "daily_peak": daily_peak, "reactive": reactive, "predictive": predictive,
}


def get_policy(name: str) -> Callable[[PolicyContext], np.ndarray]:
    try:
        return POLICIES[name]
    except KeyError:
        raise UnknownName("replay policy", name, list(POLICIES)) from None


def score(name: str, tr: Traffic, limits: np.ndarray, settings: Settings) -> dict:
    """Replay ``limits`` (per replayed step) through the bucket and summarise."""
    d = tr.requests[tr.start:]
    bursts = np.array([burst_for(x, settings) for x in limits], dtype=float)
    res = replay_bucket(d, limits, bursts, tr.step_s, tr.peak[tr.start:])
    total = float(np.nansum(d))
    thr = float(res.throttled.sum())
    out = {
        "policy": name, "requests": round(total), "throttled": round(thr, 1),
        "throttled_share": thr / total if total else 0.0,
        "capacity_ratio": float((limits * tr.step_s).sum() / total) if total else math.inf,
        "overload_minutes": int(round((res.throttled > 0.5).sum() * tr.step_s / 60)),
        "mean_limit_rps": float(limits.mean()) if len(limits) else 0.0,
        "max_limit_rps": float(limits.max()) if len(limits) else 0.0,
    }
    admitted = total - thr          # a throttled request (429) is not billed
    if tr.usd_per_request is not None:
        out["usd"] = admitted * tr.usd_per_request
    if tr.g_co2e_per_request is not None:
        out["g_co2e"] = admitted * tr.g_co2e_per_request
    return out


def replay(tr: Traffic, settings: Settings, policies: list[str], every_s: float = 3600.0,
           params: dict | None = None, limits: dict[str, np.ndarray] | None = None) -> dict:
    """Every policy over ``tr``: ``{"series", "from", "to", "step_s", "policies": [...]}``; the limits per
    step of each policy land in ``limits`` (name -> array) when given."""
    for p in policies:
        get_policy(p)
    if len(tr.requests) - tr.start <= 0 or not np.nansum(tr.requests[tr.start:]) > 0:
        raise BadInput(f"series {tr.series} has no requests in the replay window")
    every = max(1, int(round(every_s / tr.step_s)))
    ctx = PolicyContext(tr, settings, every, params or {"api": tr.series, "stage": None, "route": None})
    out = []
    for p in policies:
        lim = get_policy(p)(ctx)
        if limits is not None:
            limits[p] = lim
        out.append(score(p, tr, lim, settings))
    return {"series": tr.series, "from": tr.ts[tr.start].isoformat(), "to": (tr.ts[-1] + pd.Timedelta(seconds=tr.step_s)).isoformat(),
            "step_s": tr.step_s, "policies": out}


def native_step_s(ts: pd.Series) -> float:
    """The series' own step: the greatest common divisor of its minute gaps, at most an hour."""
    if len(ts) < 2:
        return 60.0
    gaps = (np.diff(np.asarray(ts.values).astype("datetime64[m]").astype(np.int64)))
    gaps = gaps[gaps > 0]
    g = int(np.gcd.reduce(gaps)) if len(gaps) else 1
    return float(min(max(g, 1), 60) * 60)


def event_uplift(events: list, route_ids: list[str], ts: pd.DatetimeIndex, step_s: float) -> np.ndarray | None:
    """Per step, the highest expected uplift (> 1) of calendar events touching any of the series'
    routes (a drop is never applied: a throttle is not lowered on a calendar's word)."""
    u = np.ones(len(ts))
    step = pd.Timedelta(seconds=step_s)
    if not events or not len(ts):
        return None
    for ev in events:
        if not ev.expected_uplift or ev.expected_uplift <= 1 or not any(ev.applies_to(r) for r in route_ids):
            continue
        for a, b in ev.occurrences(ts[0], ts[-1] + step):
            m = np.asarray((ts < b) & (ts + step > a))
            u[m] = np.maximum(u[m], ev.expected_uplift)
    return u if (u > 1).any() else None


def load_traffic(con, series: str, start: pd.Timestamp | None = None, end: pd.Timestamp | None = None,
                 history_days: float = 28.0, events_file=None, settings: Settings | None = None) -> Traffic:
    """A series from the rollups at its own step: ``history_days`` before ``start`` (the history the
    policies learn from) and the replay window [start, end) (default: the last 7 days logged).
    ``events_file``: a calendar whose expected uplifts the predictive policy multiplies in."""
    from ..store.decide_reads import series_minutes, series_routes

    df = series_minutes(con, series, None, end.to_pydatetime() if end is not None else None)
    if df.empty:
        raise BadInput(f"series {series} has no traffic{' before ' + str(end) if end is not None else ''}")
    ts = pd.to_datetime(df["ts"])
    step_s = native_step_s(ts)
    step = pd.Timedelta(seconds=step_s)
    first, last = ts.iloc[0].floor(step), ts.iloc[-1].floor(step)
    end_ts = end if end is not None else last + step
    start_ts = start if start is not None else max(first, end_ts - pd.Timedelta(days=7))
    if start_ts >= end_ts:
        raise BadInput(f"replay window is empty: from {start_ts} is not before to {end_ts}")
    if start_ts <= first:
        raise BadInput(f"series {series} has no history before {start_ts} (its first traffic is {first}): "
                       "replay needs some to set the policies")
    lo = max(first, (start_ts - pd.Timedelta(days=history_days)).floor(step))
    grid = pd.date_range(lo, end_ts - step, freq=step)
    bucket = ts.dt.floor(step)
    req = df.groupby(bucket)["requests"].sum()
    peak = df.groupby(bucket)["peak_rps"].max() if step_s == 60 else pd.Series(dtype=float)
    requests = req.reindex(grid).fillna(0.0).to_numpy()
    pk = peak.reindex(grid).to_numpy(dtype=float) if len(peak) else np.full(len(grid), np.nan)
    s = int(np.searchsorted(grid.values, start_ts.to_datetime64()))
    if not requests[s:].sum() > 0:
        raise BadInput(f"series {series} has no requests between {start_ts} and {end_ts}")
    uplift = None
    if events_file:
        from ..forecast.events import load_events

        uplift = event_uplift(load_events(events_file), series_routes(con, series), grid, step_s)
    usd, g = request_price_and_carbon(con, series, settings or Settings())
    return Traffic(series, grid, requests, pk, step_s, s, uplift, usd, g)


def request_price_and_carbon(con, series: str, settings: Settings) -> tuple[float | None, float | None]:
    """The series' gateway price and gCO2e per request, weighted by its routes' traffic (None where
    its api type has no gateway request price)."""
    from ..carbon.coefficients import load_coefficients
    from ..carbon.energy import compute_kwh, gateway_vcpu_hours
    from ..carbon.intensity import load_static
    from ..pricing.catalog import load_catalog
    from ..store.decide_reads import series_types
    from .advice import REQUEST_PRICE

    rows = series_types(con, series)
    total = sum(n for *_, n in rows)
    if not rows or not total or any(t not in REQUEST_PRICE for t, _, _ in rows):
        return None, None
    cat = load_catalog(settings.price_catalog, settings.price_overrides_file)
    grid, coef = load_static(), load_coefficients(settings.carbon_coefficients_file)
    kwh = float(compute_kwh(gateway_vcpu_hours(1.0, coef), coef))
    usd = sum(n * float(cat.lookup(REQUEST_PRICE[t], r)[0].tiers[0].usd_per_unit) for t, r, n in rows) / total
    g = sum(n * kwh * grid.get(r, coef.unknown_region_g_per_kwh) for t, r, n in rows) / total
    return usd, g
