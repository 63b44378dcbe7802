"""``GET /v1/recommendations``: what a gateway should run with now. Strong ETag; polling with
``If-None-Match`` costs a dictionary lookup and a 304.

Responses are cached per filter set until the runtime's version changes (a pipeline run or an
apply finished in this process) or the set in force changes by itself (the next valid_from or
valid_to): then the next poll waits for the new response. Every ``CACHE_S`` the response is also
rebuilt in the background, for writes from other processes: polls meanwhile get the one they had
(stale while revalidating), so writes from elsewhere show within ``CACHE_S`` plus one rebuild.
Each filter set has at most one rebuild in flight, however many gateways poll at that moment.

A poll whose cached response is fresh is answered by :class:`Polls`, a pure ASGI layer in front of
FastAPI: the same 304 (strong ETag, ``Cache-Control: no-cache``, no body) or 200 (the cached body)
after the same auth check (the key's hash among the keys verified in the last few seconds), in a
few dozen bytecodes instead of routing, dependency solving and a Response object. The service runs
its pipeline in a thread of the same process: the less Python a poll needs, the less it waits for
the GIL and the CPU while a forecast writes. Anything else (no or unknown key, a cache entry
expired or of an older version, other parameters) goes on to the route, which decides.
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
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ...store import reads
from ...store import recommendations as recs
from ...store.db import utcnow
from ..auth import ROLES, KeyCache, bearer_digest, require_role
from ..params import parse_ts

router = APIRouter(prefix="/v1", tags=["recommendations"])
PATH = "/v1/recommendations"
FILTERS = ("api", "stage", "route", "kind", "valid_at")
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
        # filters -> (version, expires, boundary, etag, body, (records' digest, valid_at))
        self.d: dict[tuple, tuple[int, float, dt.datetime | None, str, bytes, tuple]] = {}
        self.lock = threading.Lock()
        self.inflight: dict[tuple, asyncio.Future] = {}   # on the event loop only: one rebuild per key
        self.fills = 0                                     # rebuilds done (for tests and metrics)
        self.short = 0                                     # polls answered by the Polls layer (tests)

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


def _at(rt, valid_at: str | None) -> dt.datetime:
    return parse_ts(valid_at, "valid_at") or rt.settings.as_of or utcnow()


def _fresh(cache: _Cache, rt, ck: tuple, at: dt.datetime):
    """The cached entry of ``ck`` if it is of this version and still in force at ``at``, else None."""
    hit = cache.d.get(ck)
    if hit is not None and hit[0] == rt.version and (hit[2] is None or at < hit[2]):
        return hit
    return None


def _fill(rt, cache: _Cache, ck: tuple, at: dt.datetime, api, stage, route, kind, valid_at) -> tuple[str, bytes]:
    """Query, serialise and remember one response (in a worker thread: never on the event loop).

    The records' digest is computed in DuckDB first: when it and ``at`` are those of the response
    cached for ``ck``, that response is kept (no rows turned into Python objects, no JSON), so the
    periodic rebuild costs the service two queries, not Python work that competes with the polls."""
    cur = rt.cursor()
    version = rt.version
    fingerprint = (recs.in_force_fingerprint(cur, at, api, stage, route, kind), at)   # before the rows
    boundary = None if valid_at else reads.recommendations_boundary(cur, at)
    prev = cache.d.get(ck)
    if prev is not None and prev[5] == fingerprint:
        etag, body = prev[3], prev[4]
    else:
        items = [r.to_dict() for r in recs.in_force(cur, at, api, stage, route, kind)]
        body = json.dumps({"valid_at": at.isoformat(), "count": len(items), "recommendations": items},
                          separators=(",", ":"), default=str).encode()
        etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    with cache.lock:
        if len(cache.d) > 1000:
            cache.d.clear()
        cache.d[ck] = (version, time.monotonic() + CACHE_S, boundary, etag, body, fingerprint)
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
    at = _at(rt, valid_at)
    hit = _fresh(cache, rt, ck, at)

    def make() -> Awaitable[tuple[str, bytes]]:
        return run_in_threadpool(_fill, rt, cache, ck, at, api, stage, route, kind, valid_at)

    if hit is not None:
        etag, body = hit[3], hit[4]
        if hit[1] <= now_mono:
            cache.rebuild((ck, rt.version), make)    # in the background; this poll gets what it had
    else:   # a rebuild of an older version in flight is not this one's: the key carries the version
        etag, body = await asyncio.shield(cache.rebuild((ck, rt.version), make))
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if _etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)   # the headers Polls sends


class Polls:
    """Pure ASGI: ``GET /v1/recommendations`` by a known key, for filters whose cached response is
    fresh -> that response, here: 304 when ``If-None-Match`` matches its ETag, else 200 with the
    body, with the route's own headers. Every other request goes on to ``app`` (the route).

    ``api`` is the FastAPI app (its state: runtime, key cache, response cache). Requests answered
    here are still timed by the metrics layer around this one, under the route's endpoint label."""

    def __init__(self, app, api) -> None:
        self.app, self.api = app, api
        self.route = next((r for r in api.routes if getattr(r, "path", None) == PATH), None)
        self.need = ROLES.index("reader")

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"] == PATH and scope["method"] == "GET":
            answer = self._answer(scope)
            if answer is not None:
                status, etag, body = answer
                headers = [(b"etag", etag), (b"cache-control", b"no-cache")]
                if status == 200:
                    headers += [(b"content-length", str(len(body)).encode()), (b"content-type", b"application/json")]
                if self.route is not None:
                    scope["route"] = self.route
                self.api.state.rec_cache.short += 1
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)

    def _answer(self, scope) -> tuple[int, bytes, bytes] | None:
        """(status, ETag, body) from the fresh cache, or None to let the route answer."""
        auth = inm = None
        for name, value in scope["headers"]:      # the first of each, as Starlette's headers.get
            if name == b"authorization" and auth is None:
                auth = value
            elif name == b"if-none-match" and inm is None:
                inm = value
        if auth is None:
            return None   # no key, or the dashboards' session cookie: the route checks
        try:
            digest = bearer_digest(auth.decode("latin-1"))
            if digest is None:
                return None
            state = self.api.state
            kc: KeyCache = state.key_cache
            key = kc.get(digest)
            if key is None or ROLES.index(key.role) < self.need:
                return None
            params = dict.fromkeys(FILTERS)
            qs = scope.get("query_string", b"")
            if qs:
                for name, value in parse_qsl(qs.decode("latin-1"), keep_blank_values=True):
                    if name not in params or params[name] is not None or not value:
                        return None   # unknown, repeated or blank: the route's own parsing decides
                    params[name] = value
            rt = state.runtime
            hit = _fresh(state.rec_cache, rt, tuple(params.values()), _at(rt, params["valid_at"]))
            if hit is None or hit[1] <= time.monotonic():   # expired: the route starts the rebuild
                return None
            etag = hit[3]
            if inm is not None and _etag_matches(inm.decode("latin-1"), etag):
                return 304, etag.encode(), b""
            return 200, etag.encode(), hit[4]
        except Exception:  # noqa: BLE001 - anything unexpected: the route answers (and reports it)
            return None
