"""``webhook``: any other gateway (Kong, Envoy, in-house) through a signed JSON endpoint.

Protocol (documented in the README): ``GET url`` returns ``{"state": {KEY: params or null}}``, the
limits the gateway holds now; ``POST url`` with ``{"key", "kind", "target", "recommendation_id",
"params"}`` sets one key (``params`` null removes it) and answers ``{"state": params or null}``.
``KEY`` is ``kind:target`` of the recommendation (``throttle:shop|prod|POST /orders``). Every
request carries ``X-Forecaster-Timestamp`` (unix seconds) and ``X-Forecaster-Signature:
sha256=HEX``, the HMAC-SHA256 with the secret of ``timestamp + "." + body`` (body empty for GET).
The secret comes from the environment variable named by ``secret_env`` and is never recorded.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import socket
import time
import urllib.error
import urllib.request

from ..errors import ControlError
from .base import COMMON, Adapter, register

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Forecaster-Signature"
TIMESTAMP_HEADER = "X-Forecaster-Timestamp"


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


@register
class Webhook(Adapter):
    name = "webhook"
    handles = ("throttle", "prewarm", "route", "cache", "websocket")

    def matches(self, target, rec) -> bool:
        return ((target.api is None or target.api == rec["params"].get("api"))
                and (target.kinds is None or rec["kind"] in target.kinds))

    def label(self, target) -> str:
        return f"webhook {target.url}"

    def key(self, target, rec) -> str:
        return f"{rec['kind']}:{rec['target']}"

    def desired(self, target, rec, settings) -> dict:
        out = {k: v for k, v in rec["params"].items() if k not in COMMON}
        if rec["kind"] == "prewarm":
            out.update(valid_from=str(rec["valid_from"]), valid_to=str(rec["valid_to"]))
        return out

    def _secret(self, target) -> bytes:
        v = os.environ.get(target.secret_env or "")
        if not v:
            raise ControlError(f"webhook {target.url}: the HMAC secret's environment variable "
                               f"{target.secret_env} is not set (or empty)", code="NoSecret")
        return v.encode()

    def _http(self, clients, target, method: str, body: bytes) -> dict:
        s = clients.settings
        secret = self._secret(target)
        timeout = target.timeout_s or s.aws.timeout_s
        attempts = s.aws.max_attempts
        for attempt in range(1, attempts + 1):
            ts = str(int(time.time()))
            req = urllib.request.Request(str(target.url), data=body if method == "POST" else None, method=method,
                                         headers={"Content-Type": "application/json", TIMESTAMP_HEADER: ts,
                                                  SIGNATURE_HEADER: sign(secret, ts, body)})
            try:
                with urllib.request.urlopen(req, timeout=timeout) as r:
                    return json.loads(r.read() or b"{}")
            except urllib.error.HTTPError as e:
                detail = e.read()[:300].decode("utf-8", "replace")
                why, retry = f"HTTP {e.code}: {detail}", e.code >= 500 or e.code == 429
            except (TimeoutError, socket.timeout):
                why, retry = f"timed out after {timeout:g}s", True
            except urllib.error.URLError as e:
                if isinstance(e.reason, (TimeoutError, socket.timeout)):
                    why, retry = f"timed out after {timeout:g}s", True
                else:
                    why, retry = f"cannot connect: {e.reason}", True
            except ValueError as e:
                raise ControlError(f"webhook {method} {target.url}: the answer is not JSON: {e}", code="BadAnswer") from e
            if retry and attempt < attempts:
                delay = s.aws.retry_base_s * 2 ** (attempt - 1)
                log.warning("webhook %s %s: %s, attempt %d/%d, retrying in %.2fs", method, target.url, why,
                            attempt, attempts, delay)
                time.sleep(delay)
                continue
            tries = f" after {attempt} attempts" if attempt > 1 else ""
            if method == "POST" and "timed out" in why:
                why += " (the gateway may still have taken the change: check it)"
            raise ControlError(f"webhook {method} {target.url} failed{tries}: {why}", code="WebhookFailed")
        raise AssertionError("unreachable")

    def read(self, clients, target, keys):
        state = self._http(clients, target, "GET", b"").get("state") or {}
        return {k: state.get(k) for k in keys}

    def request(self, target, key, before, after) -> dict:
        kind, _, rec_target = key.partition(":")
        return {"operation": "POST", "url": target.url, "body": {"key": key, "kind": kind, "target": rec_target,
                                                                 "params": after}}

    def send(self, clients, target, key, request):
        body = dict(request["body"])
        body["recommendation_id"] = request.get("recommendation_id")
        out = self._http(clients, target, "POST", json.dumps(body, sort_keys=True, default=str).encode())
        return out.get("state")
