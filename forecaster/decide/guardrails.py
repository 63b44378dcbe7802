"""Guardrails: the limits no recommendation may cross, checked before it is stored and again by the
control plane at apply time against live state.

:func:`check_change` is pure: the reasons a change from the live ``before`` params to ``after``
params breaks a guardrail (an empty list: allowed). :func:`clamp_limits` is what the throttle policy
uses to build a sequence of limits that passes every check by construction.
"""

from __future__ import annotations

import fnmatch
import math
from typing import Any, Callable, Mapping, Sequence

from ..config import Settings
from ..errors import UnknownName

#: API Gateway stage cache sizes (GB) AWS offers.
CACHE_SIZES_GB = (0.5, 1.6, 6.1, 13.5, 28.4, 58.2, 118.0, 237.0)
#: API Gateway caps a cache TTL at one hour; a WebSocket connection idles out after 10 minutes.
MAX_CACHE_TTL_S = 3600
MAX_WS_IDLE_S = 600


def target_key(params: Mapping[str, Any]) -> str:
    """``api|stage`` or ``api|stage|route`` of a params dict (the key min/max settings match)."""
    parts = [str(params.get("api") or ""), str(params.get("stage") or "*")]
    if params.get("route"):
        parts.append(str(params["route"]))
    return "|".join(parts)


def lookup_glob(table: Mapping[str, Any], key: str) -> Any:
    """The value of the most specific pattern of ``table`` matching ``key`` (exact beats glob,
    a longer pattern beats a shorter one), or None."""
    if key in table:
        return table[key]
    hits = [p for p in table if fnmatch.fnmatchcase(key, p)]
    return table[max(hits, key=len)] if hits else None


def rate_bounds(settings: Settings, params: Mapping[str, Any]) -> tuple[float, float]:
    """(lowest, highest) rate limit the settings allow for this target, the account limit included."""
    key = target_key(params)
    lo = lookup_glob(settings.decide_min_rps_by_target, key)
    hi = lookup_glob(settings.decide_max_rps_by_target, key)
    high = min(settings.decide_account_rps_limit, float(hi) if hi is not None else math.inf)
    return (float(lo) if lo is not None else 0.0), high


def floor_rps(settings: Settings, params: Mapping[str, Any], observed_peak_rps: float | None,
              before_rps: float | None = None) -> float:
    """The guardrail floor: observed peak x margin, never above what the target may have at most.

    Precedence when guardrails disagree: maximum > minimum > step (x N per window) > floor. So
    when the live limit is far below the observed peak the limit ramps up x N per window.
    """
    lo, hi = rate_bounds(settings, params)
    floor = min(max(lo, (observed_peak_rps or 0.0) * settings.decide_floor_margin), hi)
    if before_rps is not None and before_rps > 0:
        floor = min(floor, max(before_rps * settings.decide_max_step_factor, lo))
    return floor


def _num(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v) if math.isfinite(float(v)) else None


def _throttle(before, after, settings, observed_peak_rps) -> list[str]:
    out: list[str] = []
    rate, burst = _num(after.get("rate_limit_rps")), after.get("burst_limit")
    if rate is None or rate <= 0:
        out.append(f"rate_limit_rps must be a number > 0, got {after.get('rate_limit_rps')!r}")
    if isinstance(burst, bool) or not isinstance(burst, int) or burst <= 0:
        out.append(f"burst_limit must be an integer > 0, got {burst!r}")
    elif burst > settings.decide_account_burst_limit:
        out.append(f"burst_limit {burst:,} is above the account burst limit {settings.decide_account_burst_limit:,}")
    quota = after.get("quota_per_day")
    if quota is not None and (isinstance(quota, bool) or not isinstance(quota, int) or quota <= 0):
        out.append(f"quota_per_day must be null or an integer > 0, got {quota!r}")
    if rate is None or rate <= 0:
        return out
    lo, hi = rate_bounds(settings, after)
    key = target_key(after)
    if rate > settings.decide_account_rps_limit * (1 + 1e-9):
        out.append(f"rate_limit_rps {rate:,.2f} is above the account limit {settings.decide_account_rps_limit:,.0f} rps")
    elif rate > hi * (1 + 1e-9):
        out.append(f"rate_limit_rps {rate:,.2f} is above the maximum {hi:,.2f} rps set for {key}")
    if rate < lo * (1 - 1e-9):
        out.append(f"rate_limit_rps {rate:,.2f} is below the minimum {lo:,.2f} rps set for {key}")
    if observed_peak_rps is not None:
        floor = floor_rps(settings, after, observed_peak_rps, _num((before or {}).get("rate_limit_rps")))
        if rate < floor * (1 - 1e-9):
            out.append(f"rate_limit_rps {rate:,.2f} is below the observed peak {observed_peak_rps:,.2f} rps "
                       f"x margin {settings.decide_floor_margin:g} = {floor:,.2f}")
    prev = _num((before or {}).get("rate_limit_rps"))
    prev = prev if prev is not None and prev > 0 else None
    n = settings.decide_max_step_factor
    if prev is not None:
        if rate > max(prev * n, lo) * (1 + 1e-9):
            out.append(f"rate_limit_rps {prev:,.2f} -> {rate:,.2f} rises more than x{n:g} in one window")
        elif rate < min(prev / n, hi) * (1 - 1e-9):
            out.append(f"rate_limit_rps {prev:,.2f} -> {rate:,.2f} falls more than x{n:g} in one window")
    return out


def _prewarm(before, after, settings, observed_peak_rps) -> list[str]:
    out = []
    pc = after.get("provisioned_concurrency")
    if isinstance(pc, bool) or not isinstance(pc, int) or pc < 0:
        out.append(f"provisioned_concurrency must be an integer >= 0, got {pc!r}")
    if not isinstance(after.get("region"), str) or not after.get("region"):
        out.append(f"region must be a region name, got {after.get('region')!r}")
    return out


def allowed_regions(settings: Settings, api: str, logged: Sequence[str]) -> list[str]:
    """Regions an api may be served from: configured per api (glob), else the regions it logs,
    and an api logged only in the EU stays in the EU (residency)."""
    conf = lookup_glob(settings.decide_route_regions, api)
    if conf is not None:
        return sorted(conf)
    return sorted(set(logged))


def _model_route(after) -> list[str]:
    """Model routing: ``model_weights`` {"model@region": share}: shares in [0, 1] adding up to 1."""
    w = after.get("model_weights")
    if not isinstance(w, Mapping) or len(w) < 2:
        return [f"model_weights must map at least two 'model@region' keys to shares, got {w!r}"]
    out = []
    for k, v in w.items():
        if not isinstance(k, str) or "@" not in k:
            out.append(f"model_weights key must be 'model@region', got {k!r}")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
            out.append(f"model_weights share of {k} must be a number in [0, 1], got {v!r}")
    if not out and abs(sum(float(v) for v in w.values()) - 1.0) > 1e-6:
        out.append(f"model_weights shares add up to {sum(float(v) for v in w.values()):g}, not 1")
    return out


def _route(before, after, settings, observed_peak_rps) -> list[str]:
    if "model_weights" in after and "weights" not in after:
        return _model_route(after)
    out = []
    w = after.get("weights")
    if not isinstance(w, Mapping) or not w:
        return [f"weights must be a non-empty mapping of region -> 0..255, got {w!r}"]
    for region, v in w.items():
        if isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= 255:
            out.append(f"weight of {region} must be an integer 0..255, got {v!r}")
    if not out and sum(w.values()) == 0:
        out.append("weights are all 0: the api would get no traffic")
    api = str(after.get("api") or "")
    conf = lookup_glob(settings.decide_route_regions, api)
    served = [r for r, v in w.items() if v]
    if conf is not None:
        bad = [r for r in served if r not in conf]
        if bad:
            out.append(f"weights send {api} traffic to {', '.join(sorted(bad))}, outside its regions {sorted(conf)}")
    before_regions = list((before or {}).get("weights") or {})
    if before_regions and all(r.startswith("eu-") for r in before_regions):
        bad = [r for r in served if not r.startswith("eu-")]
        if bad:
            out.append(f"weights move {api} traffic out of the EU ({', '.join(sorted(bad))}): residency")
    return out


def _cache(before, after, settings, observed_peak_rps) -> list[str]:
    out = []
    if not isinstance(after.get("cache_enabled"), bool):
        out.append(f"cache_enabled must be true or false, got {after.get('cache_enabled')!r}")
    size = _num(after.get("cache_size_gb"))
    if size is None or not any(abs(size - s) < 1e-9 for s in CACHE_SIZES_GB):
        out.append(f"cache_size_gb must be one of {', '.join(f'{s:g}' for s in CACHE_SIZES_GB)}, "
                   f"got {after.get('cache_size_gb')!r}")
    ttl = after.get("ttl_s")
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= MAX_CACHE_TTL_S:
        out.append(f"ttl_s must be an integer 0..{MAX_CACHE_TTL_S}, got {ttl!r}")
    return out


def _websocket(before, after, settings, observed_peak_rps) -> list[str]:
    t = after.get("idle_timeout_s")
    if isinstance(t, bool) or not isinstance(t, int) or not 1 <= t <= MAX_WS_IDLE_S:
        return [f"idle_timeout_s must be an integer 1..{MAX_WS_IDLE_S}, got {t!r}"]
    return []


CHECKS: dict[str, Callable[..., list[str]]] = {
    "throttle": _throttle, "prewarm": _prewarm, "route": _route, "cache": _cache, "websocket": _websocket,
}


def check_change(kind: str, before: dict | None, after: dict, settings: Settings, *,
                 observed_peak_rps: float | None = None) -> list[str]:
    """The reasons a change from live ``before`` params to ``after`` params breaks a guardrail
    (empty: allowed). ``observed_peak_rps`` (throttle) adds the floor check: never below the peak
    seen over the lookback x margin. Pure: no I/O, no clock."""
    if kind not in CHECKS:
        raise UnknownName("recommendation kind", kind, list(CHECKS))
    if not isinstance(after, Mapping):
        return [f"params must be a mapping, got {type(after).__name__}"]
    out = []
    if not after.get("api"):
        out.append("params lack 'api'")
    return out + CHECKS[kind](before, after, settings, observed_peak_rps)


def clamp_limits(desired: Sequence[float], settings: Settings, params: Mapping[str, Any],
                 peaks: Sequence[float | None] | None = None, before_rps: float | None = None) -> list[float]:
    """Limits as close to ``desired`` as the guardrails allow: within the target's min/max and the
    account limit, at or above each window's floor (``peaks`` x margin: the observed peak over the
    lookback before each window), and changing at most x``decide_max_step_factor`` from one window to
    the next (and from ``before_rps``, the limit in force before the first).

    Steep steps are smoothed by *raising* limits (ahead of a rise, after a fall), so forecast traffic
    stays admitted; a limit is only lowered by the target's maximum or to ramp up from ``before_rps``.
    Every value passes :func:`check_change` against its predecessor by construction.
    """
    lo, hi = rate_bounds(settings, params)
    n = settings.decide_max_step_factor
    m = len(desired)
    peaks = list(peaks) if peaks is not None else [None] * m
    def finite(d: float) -> float:     # NaN: no forecast (the floor decides); +inf: as high as allowed
        return d if math.isfinite(d) else (hi if d > 0 else 0.0)

    x = [min(hi, max(finite(float(d)), floor_rps(settings, params, p), lo, 1e-3)) for d, p in zip(desired, peaks)]
    for i in range(m - 2, -1, -1):              # ahead of a rise: raise the earlier window
        x[i] = max(x[i], x[i + 1] / n)
    prev = before_rps if before_rps is not None and before_rps > 0 else None
    for i in range(m):                          # then walk forward within x n of the previous window
        if prev is not None:
            x[i] = min(max(x[i], min(prev / n, hi)), max(prev * n, lo))
        prev = x[i]
    return x


def burst_for(rate_rps: float, settings: Settings) -> int:
    """Burst (bucket size, requests) for a rate limit: rate x burst factor, within the account's."""
    return int(max(1, min(settings.decide_account_burst_limit, math.ceil(rate_rps * settings.decide_burst_factor))))
