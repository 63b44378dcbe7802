"""What a decide run reads, gathered once: the forecast run's rows, accuracy and spikes, the history's
busiest seconds and peak-to-mean factors, request-level stats, and the limits already in force."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from typing import Any

import pandas as pd

from ..config import Settings
from ..store import decide_reads as reads
from ..store import recommendations as recstore


@dataclasses.dataclass
class Rec:
    """A recommendation before it gets its id and run: kind, target, params, window, why, impact."""

    kind: str
    target: str
    params: dict[str, Any]
    valid_from: dt.datetime | None
    valid_to: dt.datetime | None
    rationale: str
    expected_impact: dict[str, float]
    status: str = "proposed"
    observed_peak_rps: float | None = None     # the floor the guardrails checked (throttle)
    before: float | None = None                # the limit this one follows (throttle)


@dataclasses.dataclass
class DecideInputs:
    run_id: str
    as_of: dt.datetime
    step_s: float
    forecasts: pd.DataFrame
    accuracy: pd.DataFrame
    spikes: pd.DataFrame
    stats: pd.DataFrame            # per route series: requests, errors, peaks, latency, peak factor
    observed: pd.DataFrame         # per api, stage, route: busiest second over the floor look-back
    settings: Settings
    in_force: dict[tuple[str, str], float]
    value_cols: list[str] = dataclasses.field(
        default_factory=lambda: ["yhat", "yhat_lo_80", "yhat_hi_80", "yhat_lo_95", "yhat_hi_95"])

    def __post_init__(self) -> None:
        self.value_cols = list(self.value_cols)

    def _stats_rows(self, api: str, stage: str | None, route: str | None) -> pd.DataFrame:
        st = self.stats
        m = st["api"] == api
        if stage is not None:
            m &= st["stage"] == stage
        if route is not None:
            m &= st["route"] == route
        return st[m]

    def peak_factor(self, api: str, stage: str | None, route: str | None) -> tuple[float, bool]:
        """Busiest second / mean rps of a forecast step, learned from history (the highest of the
        target's regions) or the documented counts-only factor (then flagged: True)."""
        rows = self._stats_rows(api, stage, route)
        f = rows["peak_factor"].dropna() if len(rows) else pd.Series(dtype=float)
        if len(f):        # learned against hourly means: conservative for a finer forecast step
            return max(1.0, float(f.max())), False
        return self.settings.decide_counts_peak_factor, True

    def observed_peak(self, api: str, stage: str | None, route: str | None) -> float | None:
        o = self.observed
        m = o["api"] == api
        if stage is not None:
            m &= o["stage"] == stage
        if route is not None:
            m &= o["route"] == route
            v = o.loc[m, "peak_rps"]
            return float(v.max()) if len(v) else None
        v = o.loc[m, "peak_rps"]
        return float(v.sum()) if len(v) else None

    def before_rps(self, kind: str, target: str) -> float | None:
        return self.in_force.get((kind, target))

    def status_for(self, api: str, stage: str | None, route: str | None) -> str:
        """forecast_only when any series of the target backtested poorly (relMAE or 80 % coverage)."""
        cache = self.__dict__.setdefault("_status_cache", {})
        if (api, stage, route) not in cache:
            cache[(api, stage, route)] = self._status(api, stage, route)
        return cache[(api, stage, route)]

    def _status(self, api: str, stage: str | None, route: str | None) -> str:
        acc = self.accuracy
        if acc.empty:
            return "proposed"
        prefix = f"route:{api}|" + (f"{stage}|" if stage is not None else "") + (f"{route}|" if route is not None else "")
        rows = acc[acc["series"].str.startswith(prefix)]
        s = self.settings
        bad = (rows["rel_mae"] >= s.decide_max_rel_mae) | ((rows["coverage_80"] - 0.8).abs() > s.decide_max_coverage_gap)
        return "forecast_only" if bool(bad.fillna(False).any()) else "proposed"

    def spike_note(self, api: str, stage: str | None, route: str | None, start: dt.datetime, end: dt.datetime) -> str:
        sp = self.spikes
        if sp.empty:
            return ""
        prefix = f"route:{api}|" + (f"{stage}|" if stage is not None else "") + (f"{route}|" if route is not None else "")
        cache = self.__dict__.setdefault("_spike_cache", {})
        if prefix not in cache:
            cache[prefix] = sp[sp["series"].str.startswith(prefix)]
        sp = cache[prefix]
        if sp.empty:
            return ""
        m = (sp["start_ts"] < pd.Timestamp(end)) & (sp["end_ts"] >= pd.Timestamp(start))
        if not m.any():
            return ""
        top = sp[m].sort_values("ratio", ascending=False).iloc[0]
        ev = f" ({top['event']})" if isinstance(top.get("event"), str) and top["event"] else ""
        return f"; spike{ev} forecast {top['ratio']:.1f}x baseline"


def gather(con, settings: Settings, run_id: str, as_of: dt.datetime | None) -> DecideInputs:
    """Everything a decide run needs from the store (read once)."""
    fc = reads.forecast_rows(con, run_id)
    fc = fc[fc["series"].str.startswith("route:")].reset_index(drop=True)
    ds = pd.to_datetime(fc["ds"])
    steps = ds.drop_duplicates().sort_values().diff().dropna()
    step_s = float(steps.min().total_seconds()) if len(steps) else 3600.0
    start = as_of or ds.min().to_pydatetime()
    lookback = dt.timedelta(hours=settings.decide_floor_lookback_hours)
    stats_from = start - dt.timedelta(days=28)
    in_force = {}
    for r in recstore.in_force(con, valid_at=start, kind="throttle"):
        v = r.params.get("rate_limit_rps")
        if isinstance(v, (int, float)) and not math.isnan(v):
            in_force[(r.kind, r.target)] = float(v)
    return DecideInputs(
        run_id=run_id, as_of=start, step_s=step_s, forecasts=fc, accuracy=reads.accuracy(con, run_id),
        spikes=reads.spikes(con, run_id), stats=reads.route_stats(con, stats_from, start),
        observed=reads.observed_peak_rps(con, start - lookback, start, settings.decide_counts_peak_factor), settings=settings, in_force=in_force)
