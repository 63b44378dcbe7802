"""Paginated reads: ``/v1/forecasts``, ``/v1/spikes``, ``/v1/costs``, ``/v1/carbon``, ``/v1/routes``, ``/v1/runs``;
and ``/v1/costs/models`` (model spend, one JSON object).

Each answers ``{"items": [...], "next_cursor": str | null}`` (plus the run shown, where one is),
rows with the field names of the CLI's ``--json``; pass ``next_cursor`` back as ``cursor`` for the
next page. ``limit`` is at most ``api_page_max``.
"""

from __future__ import annotations

from typing import Any, Optional

from fastapi import APIRouter, Depends, Query, Request

from ...errors import NotFound
from ...store import reads, runs
from ..auth import require_role
from ..paging import check_limit, decode, page_body
from ..params import parse_ts

router = APIRouter(prefix="/v1", tags=["data"], dependencies=[Depends(require_role("reader"))])

Limit = Query(None, description="rows per page (1..api_page_max; default 100 or api_page_max if smaller)")
Cursor = Query(None, description="next_cursor of the previous page")
From = Query(None, alias="from", description="ISO time, inclusive")
To = Query(None, description="ISO time, exclusive")


def _page(request: Request, name: str, filters: list[tuple[str, str, Any]], cursor: str | None, limit: int | None,
          **extra: Any) -> dict[str, Any]:
    rt = request.app.state.runtime
    limit = check_limit(min(100, rt.settings.api_page_max) if limit is None else limit, rt.settings.api_page_max)
    items, last = reads.page(rt.cursor(), name, [f for f in filters if f[2] is not None], decode(cursor), limit)
    return page_body(items, last, **extra)


def _run_or_latest(request: Request, run_id: str | None) -> str | None:
    cur = request.app.state.runtime.cursor()
    if run_id is None:
        return reads.latest_forecast_run(cur)
    if runs.get(cur, run_id) is None:
        raise NotFound(f"no run {run_id!r}")
    return run_id


def _series(series: str | None, route: str | None) -> list[tuple[str, str, Any]]:
    out: list[tuple[str, str, Any]] = [("series", "=", series)]
    if route:
        out.append(("series", "LIKE", f"route:%|{route}|%"))
    return out


@router.get("/forecasts", summary="Forecast rows of a run (default: the latest ok forecast run)")
def forecasts(request: Request, run_id: Optional[str] = None, series: Optional[str] = None,
              route: Optional[str] = Query(None, description="route as in the logs, e.g. 'GET /products'"),
              start: Optional[str] = From, to: Optional[str] = To, cursor: Optional[str] = Cursor, limit: Optional[int] = Limit):
    rid = _run_or_latest(request, run_id)
    return _page(request, "forecasts", [("run_id", "=", rid or ""), *_series(series, route),
                                        ("ds", ">=", parse_ts(start, "from")), ("ds", "<", parse_ts(to, "to"))],
                 cursor, limit, run_id=rid)


@router.get("/spikes", summary="Spikes a forecast run found (default: the latest), soonest first")
def spikes(request: Request, run_id: Optional[str] = None, series: Optional[str] = None, route: Optional[str] = None,
           start: Optional[str] = From, to: Optional[str] = To, cursor: Optional[str] = Cursor, limit: Optional[int] = Limit):
    rid = _run_or_latest(request, run_id)
    return _page(request, "spikes", [("run_id", "=", rid or ""), *_series(series, route),
                                     ("start_ts", ">=", parse_ts(start, "from")), ("start_ts", "<", parse_ts(to, "to"))],
                 cursor, limit, run_id=rid)


def _lines(request, name, kind, api, route, region, start, to, cursor, limit):
    return _page(request, name, [("kind", "=", kind), ("api", "=", api), ("route", "=", route), ("region", "=", region),
                                 ("ts", ">=", parse_ts(start, "from")), ("ts", "<", parse_ts(to, "to"))], cursor, limit)


@router.get("/costs", summary="Cost lines (actual, forecast, projection:*) per route, bucket and component")
def costs(request: Request, kind: Optional[str] = None, api: Optional[str] = None, route: Optional[str] = None,
          region: Optional[str] = None, start: Optional[str] = From, to: Optional[str] = To,
          cursor: Optional[str] = Cursor, limit: Optional[int] = Limit):
    return _lines(request, "costs", kind, api, route, region, start, to, cursor, limit)


@router.get("/costs/models", summary="Model (token) spend per route, model and client, with the month-end "
                                     "projection and token-budget alerts")
def model_costs(request: Request, start: Optional[str] = From, to: Optional[str] = To,
                as_of: Optional[str] = Query(None, description="the projection's 'now' (default: the service's)")):
    """The JSON of ``forecaster costs --json``'s ``models`` part; ``{"models": null}`` when no
    model-call log is loaded."""
    from ...pricing.model_store import has_tokens, model_spend_from_db

    rt = request.app.state.runtime
    cur = rt.cursor()
    if not has_tokens(cur):
        return {"models": None}
    when = parse_ts(as_of, "as_of") or rt.settings.as_of
    spend = model_spend_from_db(cur, rt.settings, parse_ts(start, "from"), parse_ts(to, "to"), project=True, as_of=when)
    return {"models": spend.to_dict()}


@router.get("/carbon", summary="Carbon lines (actual, forecast) per route, bucket and component")
def carbon(request: Request, kind: Optional[str] = None, api: Optional[str] = None, route: Optional[str] = None,
           region: Optional[str] = None, start: Optional[str] = From, to: Optional[str] = To,
           cursor: Optional[str] = Cursor, limit: Optional[int] = Limit):
    return _lines(request, "carbon", kind, api, route, region, start, to, cursor, limit)


@router.get("/routes", summary="Every route seen in the logs, with its totals")
def routes(request: Request, api: Optional[str] = None, stage: Optional[str] = None, region: Optional[str] = None,
           cursor: Optional[str] = Cursor, limit: Optional[int] = Limit):
    return _page(request, "routes", [("api", "=", api), ("stage", "=", stage), ("region", "=", region)], cursor, limit)


@router.get("/runs", summary="Runs, newest first (pipeline, its steps, forecast, costs, ...)")
def list_runs(request: Request, kind: Optional[str] = None, status: Optional[str] = None,
              cursor: Optional[str] = Cursor, limit: Optional[int] = Limit):
    return _page(request, "runs", [("kind", "=", kind), ("status", "=", status)], cursor, limit)


@router.get("/runs/{run_id}", summary="One run")
def get_run(request: Request, run_id: str):
    r = runs.get(request.app.state.runtime.cursor(), run_id)
    if r is None:
        raise NotFound(f"no run {run_id!r}")
    return runs.to_dict(r)
