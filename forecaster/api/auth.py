"""Auth: ``Authorization: Bearer KEY``, keys stored hashed (``store.api_keys``), roles in order.

``reader`` (gateways, dashboards) < ``operator`` (plan, apply, rollback) < ``admin`` (events,
ingest, keys); a role includes the ones before it. Verified keys are remembered for a few seconds
(by the key's hash, never the key) so a gateway polling many times a second costs one lookup;
revoking through the API forgets them at once.
"""

from __future__ import annotations

import hashlib
import threading
import time
from typing import Awaitable, Callable

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from ..errors import BadInput, Forbidden, Unauthorized
from ..store import api_keys
from ..store.api_keys import ApiKey

ROLES = api_keys.ROLES
CACHE_S = 5.0
SESSION_COOKIE = "forecaster_session"


class KeyCache:
    def __init__(self) -> None:
        self._d: dict[str, tuple[ApiKey, float]] = {}
        self._lock = threading.Lock()

    def get(self, digest: str) -> ApiKey | None:
        hit = self._d.get(digest)
        if hit is None or hit[1] < time.monotonic():
            return None
        return hit[0]

    def put(self, digest: str, key: ApiKey) -> None:
        with self._lock:
            if len(self._d) > 10_000:
                self._d.clear()
            self._d[digest] = (key, time.monotonic() + CACHE_S)

    def clear(self) -> None:
        with self._lock:
            self._d.clear()


def bearer_token(header: str) -> str | None:
    """The key of an ``Authorization: Bearer KEY`` header's text; None when it is not that."""
    scheme, _, token = header.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def key_digest(token: str) -> str:
    """The hash a key is remembered by."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def bearer_digest(header: str) -> str | None:
    """:func:`key_digest` of an ``Authorization`` header's key; None when it is not ``Bearer KEY``."""
    token = bearer_token(header)
    return None if token is None else key_digest(token)


async def authenticate(request: Request) -> ApiKey:
    """The caller's live key. A remembered key costs no thread hop; a new one is looked up in a
    worker thread (the store is never queried on the event loop)."""
    header = request.headers.get("authorization")
    if not header and request.method in ("GET", "HEAD"):
        cookie = request.cookies.get(SESSION_COOKIE)      # browsers (dashboards); never for writes
        if cookie:
            header = f"Bearer {cookie}"
    if not header:
        raise Unauthorized("missing Authorization header; expected 'Authorization: Bearer KEY' "
                           "(make a key with `forecaster keys create`)")
    token = bearer_token(header)
    if token is None:
        scheme = header.strip().partition(" ")[0]
        if scheme.lower() == "bearer":
            raise Unauthorized("expected 'Authorization: Bearer KEY', got no key after 'Bearer'")
        raise Unauthorized(f"expected 'Authorization: Bearer KEY', got scheme {scheme[:20]!r}")
    digest = key_digest(token)
    cache: KeyCache = request.app.state.key_cache
    key = cache.get(digest)
    if key is None:
        rt = request.app.state.runtime
        key = await run_in_threadpool(lambda: api_keys.verify(rt.cursor(), token))
        if key is None:
            raise Unauthorized("unknown or revoked API key")
        cache.put(digest, key)
    return key


def require_role(role: str) -> Callable[[Request], Awaitable[ApiKey]]:
    """A FastAPI dependency: the caller's key, which must have ``role`` or a higher one."""
    if role not in ROLES:
        raise BadInput(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    need = ROLES.index(role)

    async def dependency(request: Request) -> ApiKey:
        key = await authenticate(request)
        if ROLES.index(key.role) < need:
            raise Forbidden(f"this needs the {role} role; key {key.name!r} has {key.role}")
        request.state.key = key
        return key

    dependency.__name__ = f"require_{role}"
    return dependency
