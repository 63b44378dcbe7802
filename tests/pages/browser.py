"""A real headless chromium driven over the DevTools protocol on a pipe (no websocket library).

``--remote-debugging-pipe`` makes chromium read protocol messages from fd 3 and write its replies
to fd 4, each JSON message ended by a NUL byte. :class:`Browser` opens one page per :meth:`visit`,
records every console error, uncaught exception, log error and network request while it loads,
checks what each Plotly chart holds, and writes a screenshot.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")

# What each chart on the page holds: number of traces and of points with data.
CHARTS_JS = """
(() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => ({
  id: gd.id,
  title: (gd.layout && gd.layout.title && gd.layout.title.text) || '',
  traces: (gd._fullData || []).length,
  points: (gd._fullData || []).reduce((n, t) => n + (t._length || (t.z ? t.z.length : 0) || 0), 0),
  rendered: !!gd.querySelector('.main-svg'),
})))()
"""


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclasses.dataclass
class Visit:
    url: str
    console_errors: list[str]
    requests: list[str]
    charts: list[dict]
    text: str
    screenshot: Path | None

    def outside_requests(self) -> list[str]:
        """Requests to anything but the page itself (data: and blob: URLs are the page's own)."""
        page = self.url.split("#")[0]
        return [u for u in self.requests if u.split("#")[0] != page and not u.startswith(("data:", "blob:"))]


class Browser:
    """One chromium process for many page visits."""

    def __init__(self, width: int = 1440, height: int = 900, timeout_s: float = 60.0):
        exe = find_chromium()
        if exe is None:
            raise RuntimeError("no chromium on PATH: ./run installs it (apt-get install -y chromium)")
        self.timeout_s = timeout_s
        self.width, self.height = width, height
        self._profile = tempfile.mkdtemp(prefix="fc-chromium-")
        to_chrome_r, self._to_chrome_w = os.pipe()
        self._from_chrome_r, from_chrome_w = os.pipe()
        # chromium wants the pipe at fds 3 (commands in) and 4 (replies out); move both ends out of
        # the way first so that neither dup2 overwrites the other, then keep only 0-4 open.
        def _fds() -> None:
            a, b = os.dup(to_chrome_r), os.dup(from_chrome_w)
            a, b = os.dup2(a, 100), os.dup2(b, 101)
            os.dup2(a, 3)
            os.dup2(b, 4)
            os.closerange(5, 1024)
        self._proc = subprocess.Popen(
            [exe, "--headless", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
             "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             "--disable-extensions", "--mute-audio", "--hide-scrollbars", "--allow-file-access-from-files",
             f"--user-data-dir={self._profile}", f"--window-size={width},{height}", "about:blank"],
            preexec_fn=_fds, close_fds=False, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.close(to_chrome_r)
        os.close(from_chrome_w)
        self._buf = b""
        self._next_id = 0
        self._events: list[dict] = []

    # protocol plumbing
    def _send(self, method: str, params: dict | None = None, session: str | None = None) -> int:
        self._next_id += 1
        msg = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._to_chrome_w, json.dumps(msg).encode() + b"\0")
        return self._next_id

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buf:
            if time.monotonic() > deadline:
                raise TimeoutError("chromium did not answer in time")
            chunk = os.read(self._from_chrome_r, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        mid = self._send(method, params, session)
        deadline = time.monotonic() + self.timeout_s
        while True:
            msg = self._read(deadline)
            if msg.get("id") == mid:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self._events.append(msg)

    def _wait_event(self, method: str, session: str, deadline: float) -> dict:
        for i, ev in enumerate(self._events):
            if ev.get("method") == method and ev.get("sessionId") == session:
                return self._events.pop(i)
        while True:
            msg = self._read(deadline)
            if msg.get("method") == method and msg.get("sessionId") == session:
                return msg
            self._events.append(msg)

    def _evaluate(self, expression: str, session: str):
        res = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                             "awaitPromise": True}, session)
        return res.get("result", {}).get("value")

    def visit(self, url: str, screenshot: Path | None = None, settle_s: float = 0.5,
              cookies: dict[str, str] | None = None) -> Visit:
        """Load ``url`` in a fresh tab (with ``cookies`` set for it first); what it logged, requested
        and drew, and its screenshot."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        try:
            for domain in ("Page", "Runtime", "Log", "Network"):
                self.call(f"{domain}.enable", {}, session)
            self.call("Emulation.setDeviceMetricsOverride", {"width": self.width, "height": self.height,
                                                             "deviceScaleFactor": 1, "mobile": False}, session)
            for name, value in (cookies or {}).items():
                self.call("Network.setCookie", {"name": name, "value": value, "url": url}, session)
            self._events.clear()
            self.call("Page.navigate", {"url": url}, session)
            deadline = time.monotonic() + self.timeout_s
            self._wait_event("Page.loadEventFired", session, deadline)
            # let Plotly finish drawing (it renders on load, some parts on the next frames)
            end = time.monotonic() + settle_s
            while time.monotonic() < end:
                self._evaluate("new Promise(r => requestAnimationFrame(() => r(1)))", session)
            charts = self._evaluate(CHARTS_JS, session) or []
            text = self._evaluate("document.body ? document.body.innerText : ''", session) or ""
            shot = None
            if screenshot is not None:
                height = self._evaluate("Math.ceil(document.documentElement.scrollHeight)", session) or self.height
                data = self.call("Page.captureScreenshot", {
                    "format": "png", "captureBeyondViewport": True,
                    "clip": {"x": 0, "y": 0, "width": self.width, "height": min(int(height), 12000), "scale": 1}},
                    session)["data"]
                screenshot.parent.mkdir(parents=True, exist_ok=True)
                screenshot.write_bytes(base64.b64decode(data))
                shot = screenshot
            errors, requests = self._collect(session)
            return Visit(url, errors, requests, charts, text, shot)
        finally:
            self.call("Target.closeTarget", {"targetId": target})

    def _collect(self, session: str) -> tuple[list[str], list[str]]:
        errors: list[str] = []
        requests: list[str] = []
        for ev in self._events:
            if ev.get("sessionId") != session:
                continue
            m, p = ev.get("method"), ev.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", [])))
            elif m == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                errors.append(d.get("exception", {}).get("description") or d.get("text", "exception"))
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                errors.append(p["entry"].get("text", ""))
            elif m == "Network.requestWillBeSent":
                requests.append(p.get("request", {}).get("url", ""))
        self._events = [e for e in self._events if e.get("sessionId") != session]
        return errors, requests

    def close(self) -> None:
        try:
            self._send("Browser.close")
            self._proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self._proc.kill()
            self._proc.wait()
        finally:
            for fd in (self._to_chrome_w, self._from_chrome_r):
                try:
                    os.close(fd)
                except OSError:
                    pass
            shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
