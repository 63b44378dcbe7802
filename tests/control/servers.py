"""Real local HTTP servers for the control-plane tests: a webhook gateway that checks signatures, and a
proxy in front of moto that injects failures (a 500 on the Nth write, an expired-token answer)."""

from __future__ import annotations

import hashlib
import hmac
import http.server
import json
import threading
import time
import urllib.request
from typing import Callable


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True


def serve(handler_cls) -> tuple[_Server, str]:
    srv = _Server(("127.0.0.1", 0), handler_cls)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}"


class Gateway:
    """An in-house gateway's limits endpoint: GET/POST as forecaster's webhook protocol says, every
    request's HMAC-SHA256 signature checked (401 when wrong); ``delay_s`` makes it slow."""

    def __init__(self, secret: str):
        self.secret = secret.encode()
        self.state: dict[str, dict | None] = {}
        self.received: list[dict] = []      # {"method", "headers", "body"}
        self.rejected = 0
        self.delay_s = 0.0
        self.arrived = 0                    # requests seen, answered or not (a slow answer times out)
        gw = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _verify(self, body: bytes) -> bool:
                ts = self.headers.get("X-Forecaster-Timestamp", "")
                want = "sha256=" + hmac.new(gw.secret, ts.encode() + b"." + body, hashlib.sha256).hexdigest()
                ok = hmac.compare_digest(want, self.headers.get("X-Forecaster-Signature", "")) and \
                    abs(time.time() - int(ts or 0)) < 300
                gw.received.append({"method": self.command, "headers": dict(self.headers), "body": body})
                if not ok:
                    gw.rejected += 1
                    self._answer(401, {"error": "bad signature"})
                return ok

            def _answer(self, code: int, obj) -> None:
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                gw.arrived += 1
                time.sleep(gw.delay_s)
                if self._verify(b""):
                    self._answer(200, {"state": gw.state})

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                gw.arrived += 1
                time.sleep(gw.delay_s)
                if self._verify(body):
                    msg = json.loads(body)
                    if msg["params"] is None:
                        gw.state.pop(msg["key"], None)
                    else:
                        gw.state[msg["key"]] = msg["params"]
                    self._answer(200, {"state": gw.state.get(msg["key"])})

        self.server, self.url = serve(H)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class FaultProxy:
    """Forwards every request to ``upstream`` (moto) unchanged, except those ``fault(n, method, path)``
    answers for: it returns ``(status, headers, body)`` to send instead, or None to forward. ``n``
    counts the writes (non-GET requests other than moto-bound reads) from 1."""

    def __init__(self, upstream: str, fault: Callable[[int, str, str, bytes], tuple | None]):
        self.upstream, self.fault = upstream, fault
        self.writes = 0
        self.log: list[tuple[str, str, int]] = []
        px = self
        lock = threading.Lock()

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _handle(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                is_write = self.command in ("POST", "PATCH", "PUT", "DELETE") and not _is_read(self.headers, body)
                with lock:
                    if is_write:
                        px.writes += 1
                    n = px.writes if is_write else 0
                    hit = px.fault(n, self.command, self.path, body) if is_write else None
                if hit is not None:
                    status, headers, out = hit
                else:
                    req = urllib.request.Request(px.upstream + self.path, data=body or None, method=self.command,
                                                 headers={k: v for k, v in self.headers.items() if k.lower() != "host"})
                    try:
                        with urllib.request.urlopen(req, timeout=30) as r:
                            status, headers, out = r.status, dict(r.headers), r.read()
                    except urllib.error.HTTPError as e:
                        status, headers, out = e.code, dict(e.headers), e.read()
                px.log.append((self.command, self.path, status))
                self.send_response(status)
                for k, v in headers.items():
                    if k.lower() not in ("content-length", "transfer-encoding", "connection", "date", "server"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _handle

        self.server, self.url = serve(H)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _is_read(headers, body: bytes) -> bool:
    """JSON-protocol services (App Auto Scaling) POST their reads: X-Amz-Target names the operation."""
    target = headers.get("X-Amz-Target", "")
    return target.rsplit(".", 1)[-1].startswith(("Describe", "List", "Get"))


def server_error(status: int = 500) -> tuple:
    return status, {"Content-Type": "application/json", "x-amzn-ErrorType": "InternalFailure"}, \
        json.dumps({"message": "injected failure"}).encode()


def expired_token() -> tuple:
    return 403, {"Content-Type": "application/json", "x-amzn-ErrorType": "ExpiredTokenException"}, \
        json.dumps({"message": "The security token included in the request is expired"}).encode()
