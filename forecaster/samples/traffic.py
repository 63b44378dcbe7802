"""The traffic model: expected and noised request counts per route, region and time bucket.

Pure numpy/pandas, seeded. Per series (api, route, region) and bucket the expected count is
``requests_per_hour * step_hours * route share * region share * daily(local hour) *
weekly(local weekday) * trend * events``; the observed count is gamma-Poisson (negative
binomial) around it. 4xx/5xx are binomial on baseline rates plus error episodes (an API in a
region failing for tens of minutes). Latency and sizes per request are drawn later, in
:mod:`forecaster.samples.expand`, from the route's parameters and the load.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .catalog import REGION_TZ, Api, Route, default_catalog
from .events import Event, _ts, default_events

COUNT_COLUMNS = ("ts", "api", "api_type", "stage", "route", "region", "requests", "status_4xx", "status_5xx",
                 "bytes_out")
TREND_EPOCH = pd.Timestamp("2026-01-05")   # trend = (1 + growth_per_week) ** weeks since this Monday
ERROR_BODY_BYTES = 120                     # a JSON error body
EPISODES_PER_DAY = 1 / 3                   # error episodes per API and region per day

# Daily shape: (baseline, ((centre local hour, width hours, amplitude), ...)); normalised to mean 1.
_DAILY = {
    "consumer": (0.22, ((13.0, 3.5, 0.8), (20.5, 2.5, 1.0))),
    "business": (0.10, ((10.5, 2.5, 1.0), (15.0, 2.5, 0.9))),
    "internal": (0.55, ((13.0, 4.0, 0.5), (20.0, 3.0, 0.4))),
}
# Weekend multiplier per profile; weekdays get (7 - 2 * weekend) / 5 so the week averages 1.
_WEEKEND = {"consumer": 1.15, "business": 0.45, "internal": 0.8}


@dataclass(frozen=True)
class Series:
    api: Api
    route: Route
    region: str
    share: float          # route share * region share

    @property
    def labels(self) -> tuple[str, str, str, str, str]:
        return (self.api.name, self.api.api_type, self.api.stage, self.route.key, self.region)


def series_of(catalog: tuple[Api, ...]) -> list[Series]:
    return [Series(a, r, reg, r.share * w) for a in catalog for reg, w in a.regions.items() for r in a.routes]


def buckets(start: str | pd.Timestamp, end: str | pd.Timestamp, step: str = "1h") -> pd.DatetimeIndex:
    """Bucket starts in [start, end) as naive UTC timestamps."""
    lo, hi = _ts(start), _ts(end)
    if hi <= lo:
        raise ValueError(f"end {hi} must be after start {lo}")
    return pd.date_range(lo, hi, freq=pd.Timedelta(step), inclusive="left")


def daily_shape(profile: str, local_hour: np.ndarray) -> np.ndarray:
    base, bumps = _DAILY[profile]

    def raw(h: np.ndarray) -> np.ndarray:
        out = np.full(h.shape, base)
        for c, w, amp in bumps:
            d = (h - c + 12) % 24 - 12
            out = out + amp * np.exp(-0.5 * (d / w) ** 2)
        return out

    return raw(local_hour) / raw(np.arange(0, 24, 1 / 60)).mean()


def weekly_shape(profile: str, local_weekday: np.ndarray) -> np.ndarray:
    we = _WEEKEND[profile]
    return np.where(local_weekday >= 5, we, (7 - 2 * we) / 5)


def expected_counts(times: pd.DatetimeIndex, step: str, series: list[Series], events: list[Event],
                    scale: dict[str, float] | None = None) -> np.ndarray:
    """Expected requests per bucket, shape (len(series), len(times)), evaluated at bucket midpoints."""
    step_h = pd.Timedelta(step) / pd.Timedelta(hours=1)
    mid = (times + pd.Timedelta(step) / 2)
    mid_np = mid.values.astype("datetime64[ns]")
    weeks = ((mid - TREND_EPOCH) / pd.Timedelta(days=7)).values.astype(float)
    local: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for reg in {s.region for s in series}:
        loc = mid.tz_localize("UTC").tz_convert(REGION_TZ.get(reg, "UTC"))
        local[reg] = (loc.hour.values + loc.minute.values / 60.0, loc.day_of_week.values)
    scale = scale or {}
    out = np.empty((len(series), len(times)))
    for i, s in enumerate(series):
        hour, dow = local[s.region]
        lam = (s.api.requests_per_hour * step_h * s.share * scale.get(s.api.name, 1.0)
               * daily_shape(s.api.profile, hour) * weekly_shape(s.api.profile, dow)
               * (1 + s.api.growth_per_week) ** weeks)
        for e in events:
            if e.applies(s.api.name, s.route.key, s.region, s.api.stage):
                lam = lam * (1 + (e.expected_uplift - 1) * e.profile(mid_np))
        if s.route.available_from:
            lam = np.where(mid_np >= np.datetime64(_ts(s.route.available_from), "ns"), lam, 0.0)
        out[i] = lam
    return out


def error_episodes(start: str | pd.Timestamp, end: str | pd.Timestamp, seed: int = 0,
                   catalog: tuple[Api, ...] | None = None) -> pd.DataFrame:
    """Error episodes per (api, region): start, end, kind (4xx|5xx), extra error share."""
    catalog = catalog or default_catalog()
    lo, hi = _ts(start), _ts(end)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1]))
    days = (hi - lo) / pd.Timedelta(days=1)
    rows = []
    for a in catalog:
        for reg in a.regions:
            for _ in range(rng.poisson(days * EPISODES_PER_DAY)):
                t0 = lo + pd.Timedelta(seconds=float(rng.uniform(0, days * 86400)))
                minutes = float(np.clip(rng.exponential(40.0), 10.0, 180.0))
                kind = "5xx" if rng.random() < 0.7 else "4xx"
                rows.append((a.name, reg, t0.floor("s"), (t0 + pd.Timedelta(minutes=minutes)).floor("s"), kind,
                             round(float(rng.uniform(0.05, 0.35)), 3)))
    return pd.DataFrame(rows, columns=["api", "region", "start", "end", "kind", "extra_share"])


def _episode_share(times: pd.DatetimeIndex, step: str, eps: pd.DataFrame) -> np.ndarray:
    """Extra error share per bucket: sum of episode severities weighted by overlap with the bucket."""
    b0 = times.values.astype("datetime64[ns]").astype(np.int64)
    b1 = b0 + pd.Timedelta(step).value
    out = np.zeros(len(times))
    for e0, e1, share in zip(eps["start"], eps["end"], eps["extra_share"]):
        ov = np.clip(np.minimum(b1, pd.Timestamp(e1).value) - np.maximum(b0, pd.Timestamp(e0).value), 0, None)
        out += share * ov / (b1 - b0)
    return out


def generate_counts(start: str | pd.Timestamp, end: str | pd.Timestamp, step: str = "1h", seed: int = 0,
                    catalog: tuple[Api, ...] | None = None, events: list[Event] | None = None,
                    scale: dict[str, float] | None = None) -> pd.DataFrame:
    """Noised request counts per bucket, route and region (one row per series per bucket).

    Columns: ts (bucket start, naive UTC), api, api_type, stage, route, region, requests,
    status_4xx, status_5xx, bytes_out. ``events`` default to :func:`default_events` of the
    window; ``scale`` multiplies an API's rates (used to hit a target line count).
    """
    catalog = catalog or default_catalog()
    times = buckets(start, end, step)
    events = default_events(times[0], times[-1] + pd.Timedelta(step), catalog) if events is None else events
    series = series_of(catalog)
    lam = expected_counts(times, step, series, events, scale)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 2]))
    shapes = np.array([s.api.noise_shape for s in series])[:, None]
    req = rng.poisson(lam * rng.gamma(shapes, 1.0 / shapes, size=lam.shape))
    eps = error_episodes(times[0], times[-1] + pd.Timedelta(step), seed, catalog)
    n4 = np.empty_like(req)
    n5 = np.empty_like(req)
    extra: dict[tuple[str, str, str], np.ndarray] = {}
    for (api, reg, kind), grp in eps.groupby(["api", "region", "kind"]):
        extra[(str(api), str(reg), str(kind))] = _episode_share(times, step, grp)
    zero = np.zeros(len(times))
    for i, s in enumerate(series):
        p5 = np.clip(s.route.p_5xx + extra.get((s.api.name, s.region, "5xx"), zero), 0, 0.95)
        p4 = np.clip(s.route.p_4xx + extra.get((s.api.name, s.region, "4xx"), zero), 0, 0.95)
        n5[i] = rng.binomial(req[i], p5)
        n4[i] = rng.binomial(req[i] - n5[i], p4)
    ok = req - n4 - n5
    mean_ok = np.array([s.route.bytes_mean for s in series], dtype=float)[:, None]
    noise = rng.gamma(4.0 * ok + 1.0, 1.0 / (4.0 * ok + 1.0))
    bytes_out = np.rint(ok * mean_ok * noise).astype(np.int64) + (n4 + n5) * ERROR_BODY_BYTES
    labels = np.array([s.labels for s in series], dtype=object)
    n_t = len(times)
    idx = np.tile(np.arange(len(series)), n_t)       # time-major: all series of a bucket together
    frame = pd.DataFrame({"ts": np.repeat(times.values, len(series))})
    for j, col in enumerate(COUNT_COLUMNS[1:6]):
        frame[col] = labels[idx, j].astype(str)
    for col, m in (("requests", req), ("status_4xx", n4), ("status_5xx", n5), ("bytes_out", bytes_out)):
        frame[col] = m.T.reshape(-1).astype(np.int64)
    return frame
