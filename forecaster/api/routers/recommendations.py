"""``GET /v1/recommendations``: what a gateway should run with now. Strong ETag; polling with
``If-None-Match`` costs a dictionary lookup and a 304.

Responses are cached per filter set until the runtime's version changes (a pipeline run or an
apply finished in this process) or the set in force changes by itself (the next valid_from or
valid_to): then the next poll waits for the new response. Every ``CACHE_S`` the response is also
rebuilt in the background, for writes from other processes: polls meanwhile get the one they had
(stale while revalidating), so writes from elsewhere show within ``CACHE_S`` plus one rebuild.
Each filter set has at most one rebuild in flight, however many gateways poll at that moment.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import logging
import threading
import time
from typing import Awaitable, Callable, Optional

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ...store import reads
from ...store import recommendations as recs
from ...store.db import utcnow
from ..auth import require_role
from ..params import parse_ts

router = APIRouter(prefix="/v1", tags=["recommendations"])
CACHE_S = 2.0
log = logging.getLogger(__name__)

EXAMPLE = {"valid_at": "2026-11-27T08:00:00", "count": 1, "recommendations": [{
    "id": "rec-5f2a", "run_id": "de-20261125T050000-1a2b3c", "kind": "throttle", "target": "shop|prod|GET /products",
    "params": {"api": "shop", "stage": "prod", "route": "GET /products", "rate_limit_rps": 2400.0, "burst_limit": 4800},
    "valid_from": "2026-11-27T08:00:00", "valid_to": "2026-11-27T09:00:00",
    "rationale": "Black Friday forecast 5.2x baseline; limit raised 480 -> 2,400 rps",
    "expected_impact": {"requests_admitted_share": 0.999}, "status": "proposed"}]}


class _Cache:
    def __init__(self) -> None:
        self.d: dict[tuple, tuple[int, float, dt.datetime | None, str, bytes]] = {}
        self.lock = threading.Lock()
        self.inflight: dict[tuple, asyncio.Future] = {}   # on the event loop only: one rebuild per key
        self.fills = 0                                     # rebuilds done (for tests and metrics)

    def rebuild(self, key: tuple, make: Callable[[], Awaitable[tuple[str, bytes]]]) -> asyncio.Future:
        """The rebuild of ``key`` (filters, version) in flight, or a new one from ``make()``. Await it through
        ``asyncio.shield``: a poll that goes away does not cancel the others' rebuild."""
        fut = self.inflight.get(key)
        if fut is None:
            fut = asyncio.ensure_future(make())
            self.inflight[key] = fut
            fut.add_done_callback(lambda f: self._done(key, f))
        return fut

    def _done(self, key: tuple, fut: asyncio.Future) -> None:
        self.inflight.pop(key, None)
        if not fut.cancelled() and fut.exception() is not None:   # retrieved: a background failure is logged
            log.warning("rebuilding /v1/recommendations failed: %s", fut.exception())


def _etag_matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    if header.strip() == "*":
        return True
    tags = [t.strip() for t in header.split(",")]
    return any(t == etag or t.removeprefix("W/") == etag for t in tags)


def _fill(rt, cache: _Cache, ck: tuple, at: dt.datetime, api, stage, route, kind, valid_at) -> tuple[str, bytes]:
    """Query, serialise and remember one response (in a worker thread: never on the event loop)."""
    cur = rt.cursor()
    version = rt.version
    items = [r.to_dict() for r in recs.in_force(cur, at, api, stage, route, kind)]
    boundary = None if valid_at else reads.recommendations_boundary(cur, at)
    body = json.dumps({"valid_at": at.isoformat(), "count": len(items), "recommendations": items},
                      separators=(",", ":"), default=str).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    with cache.lock:
        if len(cache.d) > 1000:
            cache.d.clear()
        cache.d[ck] = (version, time.monotonic() + CACHE_S, boundary, etag, body)
        cache.fills += 1
    return etag, body


@router.get("/recommendations", summary="Recommendations in force (ETag / If-None-Match)",
            responses={200: {"content": {"application/json": {"example": EXAMPLE}}},
                       304: {"description": "unchanged since the ETag given in If-None-Match"}})
async def recommendations(request: Request, api: Optional[str] = None, stage: Optional[str] = None,
                    route: Optional[str] = None, kind: Optional[str] = None,
                    valid_at: Optional[str] = Query(None, description="ISO time (default: now, or settings.as_of)"),
                    _key=Depends(require_role("reader"))) -> Response:
    rt = request.app.state.runtime
    cache: _Cache = request.app.state.rec_cache
    ck = (api, stage, route, kind, valid_at)
    now_mono = time.monotonic()
    hit = cache.d.get(ck)
    at = parse_ts(valid_at, "valid_at") or rt.settings.as_of or utcnow()

    def make() -> Awaitable[tuple[str, bytes]]:
        return run_in_threadpool(_fill, rt, cache, ck, at, api, stage, route, kind, valid_at)

    if hit is not None and hit[0] == rt.version and (hit[2] is None or at < hit[2]):
        etag, body = hit[3], hit[4]
        if hit[1] <= now_mono:
            cache.rebuild((ck, rt.version), make)    # in the background; this poll gets what it had
    else:   # a rebuild of an older version in flight is not this one's: the key carries the version
        etag, body = await asyncio.shield(cache.rebuild((ck, rt.version), make))
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)
