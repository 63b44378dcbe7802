"""A decide run: read a forecast run and the history, run the policies (registered by name), check
every record against the guardrails, and write them with a ``runs`` row (kind ``decide``) in one
transaction; earlier runs' records for the same targets and windows become ``superseded``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import uuid
from typing import Any, Callable

import pandas as pd

from ..config import Settings
from ..errors import BadInput, ConfigError, ForecasterError, NotFound, UnknownName
from ..store import decide_reads as reads
from ..store import recommendations as recstore
from ..store import runs
from ..store.db import transaction, utcnow
from .guardrails import check_change
from .inputs import DecideInputs, Rec, gather

log = logging.getLogger(__name__)


@dataclasses.dataclass
class PolicyInputs:
    """Everything a policy may read, gathered before any runs (policies are pure)."""

    inp: DecideInputs
    settings: Settings
    catalog: Any
    grid: dict[str, float]
    kwh_per_request: float
    cache_candidates: pd.DataFrame
    stage_requests: pd.DataFrame
    ws_gaps: pd.DataFrame


def _throttle(p: PolicyInputs) -> list[Rec]:
    from .throttle import throttle
    return throttle(p.inp, p.settings)


def _prewarm(p: PolicyInputs) -> list[Rec]:
    from .advice import prewarm
    return prewarm(p.inp, p.settings, p.catalog)


def _route(p: PolicyInputs) -> list[Rec]:
    from .advice import route_weights
    return route_weights(p.inp, p.settings, p.catalog, p.grid, p.kwh_per_request)


def _cache(p: PolicyInputs) -> list[Rec]:
    from .advice import cache
    return cache(p.inp, p.settings, p.catalog, p.cache_candidates, p.stage_requests)


def _websocket(p: PolicyInputs) -> list[Rec]:
    from .advice import websocket
    return websocket(p.inp, p.settings, p.catalog, p.ws_gaps)


#: kind -> policy. Registry: a policy added here is reachable from every front.
POLICIES: dict[str, Callable[[PolicyInputs], list[Rec]]] = {
    "throttle": _throttle, "prewarm": _prewarm, "route": _route, "cache": _cache, "websocket": _websocket,
}


@dataclasses.dataclass
class DecideResult:
    run_id: str
    forecast_run_id: str
    as_of: dt.datetime
    records: list[recstore.Recommendation]
    superseded: int = 0

    def counts(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for r in self.records:
            out.setdefault(r.kind, {}).setdefault(r.status, 0)
            out[r.kind][r.status] += 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "forecast_run_id": self.forecast_run_id, "as_of": self.as_of.isoformat(),
                "counts": self.counts(), "superseded": self.superseded,
                "recommendations": [r.to_dict() for r in self.records]}


def check_settings(settings: Settings) -> None:
    """Absurd decide settings (non-positive limits, min above max) raise one ConfigError listing all."""
    problems = []
    for name in ("decide_min_rps_by_target", "decide_max_rps_by_target", "decide_route_capacity_rps"):
        for k, v in getattr(settings, name).items():
            if not isinstance(v, (int, float)) or not v == v or v <= 0 or v == float("inf"):
                problems.append(f"{name}[{k!r}] must be a number > 0, got {v!r}")
    for k, lo in settings.decide_min_rps_by_target.items():
        hi = settings.decide_max_rps_by_target.get(k)
        if hi is not None and lo > hi:
            problems.append(f"decide_min_rps_by_target[{k!r}] = {lo} is above decide_max_rps_by_target = {hi}")
        if isinstance(lo, (int, float)) and lo > settings.decide_account_rps_limit:
            problems.append(f"decide_min_rps_by_target[{k!r}] = {lo} is above the account limit "
                            f"{settings.decide_account_rps_limit}")
    if problems:
        raise ConfigError("; ".join(problems))


def parse_kinds(kinds: str | list[str] | tuple[str, ...] | None) -> list[str]:
    if kinds is None:
        return list(POLICIES)
    names = [k.strip() for k in (kinds.split(",") if isinstance(kinds, str) else kinds) if k.strip()]
    if not names:
        raise BadInput("kinds must name at least one of " + ", ".join(POLICIES))
    for k in names:
        if k not in POLICIES:
            raise UnknownName("recommendation kind", k, list(POLICIES))
    return names


def _policy_inputs(con, settings: Settings, inp: DecideInputs) -> PolicyInputs:
    from ..carbon.coefficients import load_coefficients
    from ..carbon.energy import compute_kwh, gateway_vcpu_hours
    from ..carbon.intensity import load_static
    from ..pricing.catalog import load_catalog

    start = inp.as_of - dt.timedelta(days=7)
    cands = reads.cache_candidates(con, start, inp.as_of, settings.decide_cache_ttl_s)
    cands.attrs["start"] = start
    coef = load_coefficients(settings.carbon_coefficients_file)
    return PolicyInputs(inp=inp, settings=settings,
                        catalog=load_catalog(settings.price_catalog, settings.price_overrides_file),
                        grid=load_static(), cache_candidates=cands,
                        kwh_per_request=float(compute_kwh(gateway_vcpu_hours(1.0, coef), coef)),
                        stage_requests=reads.stage_requests(con, start, inp.as_of),
                        ws_gaps=reads.websocket_gaps(con, start, inp.as_of))


def decide(con, settings: Settings, run_id: str | None = None, kinds: str | list[str] | None = None,
           as_of: dt.datetime | None = None) -> DecideResult:
    """Recommendations from forecast run ``run_id`` (default: the latest successful one), written to
    ``recommendations`` under a new ``runs`` row of kind ``decide``; returns them. Bad input (no such
    run, no history, nothing to decide on, absurd settings) raises before anything is written."""
    check_settings(settings)
    names = parse_kinds(kinds)
    if run_id is None:
        run_id = reads.latest_run(con, "forecast")
        if run_id is None:
            raise NotFound("no successful forecast run in the store: run `forecaster forecast` first")
    info = reads.run_info(con, run_id)
    if info is None:
        raise NotFound(f"no run with id {run_id!r}")
    if info["kind"] not in ("forecast",):
        raise BadInput(f"run {run_id} is a {info['kind']!r} run; decide needs a forecast run")
    inp = gather(con, settings, run_id, as_of)
    if inp.forecasts.empty:
        raise BadInput(f"forecast run {run_id} has no route forecasts to decide on")
    if as_of is not None:
        inp.forecasts = inp.forecasts[pd.to_datetime(inp.forecasts["ds"]) >= pd.Timestamp(as_of)].reset_index(drop=True)
        if inp.forecasts.empty:
            raise BadInput(f"forecast run {run_id} has no forecast at or after {as_of}")
    if inp.stats.empty:
        raise BadInput(f"no traffic in the 28 days before {inp.as_of}: no history to size limits from")
    pin = _policy_inputs(con, settings, inp)
    recs: list[Rec] = []
    for k in names:
        recs += POLICIES[k](pin)
    problems = []
    for r in recs:
        before = {**r.params, "rate_limit_rps": r.before} if r.before else None
        reasons = check_change(r.kind, before, r.params, settings, observed_peak_rps=r.observed_peak_rps)
        if reasons:
            problems.append(f"{r.kind} {r.target} {r.valid_from}: {'; '.join(reasons)}")
    if problems:   # the policies build within the guardrails; this is a bug, and nothing is written
        raise ForecasterError("recommendations break guardrails: " + " | ".join(problems[:5]))
    decide_id = f"decide-{utcnow():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    records = [recstore.Recommendation(id=f"{decide_id}-{i:05d}", run_id=decide_id, kind=r.kind, target=r.target,
                                       params=r.params, valid_from=r.valid_from, valid_to=r.valid_to,
                                       rationale=r.rationale, expected_impact=r.expected_impact, status=r.status)
               for i, r in enumerate(recs)]
    params = {"forecast_run_id": run_id, "kinds": names, "as_of": inp.as_of.isoformat()}
    result = DecideResult(decide_id, run_id, inp.as_of, records)
    started = utcnow()
    with transaction(con):
        runs.record(con, decide_id, "decide", params, started, {"counts": result.counts()})
        recstore.insert(con, records)
        result.superseded = recstore.supersede(con, decide_id, names)
    log.info("decide run %s: %d recommendations", decide_id, len(records))
    return result
