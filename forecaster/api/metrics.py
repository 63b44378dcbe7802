"""``/metrics`` in the Prometheus text format (0.0.4), written by hand: no client library needed.

Request latency is a histogram per endpoint (the route template, so ids do not explode the label
set) and status class, measured by a pure ASGI middleware; run counts, step durations and rows
ingested/rejected are read from the store at scrape time.
"""

from __future__ import annotations

import bisect
import threading
import time
from typing import Any

BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Histogram:
    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS_S) + 1)
        self.sum = 0.0
        self.n = 0

    def observe(self, v: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS_S, v)] += 1
        self.sum += v
        self.n += 1


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.latency: dict[tuple[str, str, str], Histogram] = {}

    def observe(self, method: str, endpoint: str, status: int, seconds: float) -> None:
        key = (method, endpoint, f"{status // 100}xx")
        with self._lock:
            h = self.latency.get(key)
            if h is None:
                h = self.latency[key] = Histogram()
            h.observe(seconds)

    def render(self, run_counts: list[tuple[str, str, int]], steps: list[tuple[str, int, float]],
               rows: dict[str, int]) -> str:
        out = ["# HELP forecaster_runs Runs recorded in the store, by kind and status.",
               "# TYPE forecaster_runs gauge"]
        out += [f'forecaster_runs{{kind="{_esc(k)}",status="{_esc(s)}"}} {n}' for k, s, n in run_counts]
        out += ["# HELP forecaster_step_seconds Time spent in pipeline steps that finished ok.",
                "# TYPE forecaster_step_seconds summary"]
        for kind, n, total in steps:
            step = kind.split(":", 1)[-1]
            out.append(f'forecaster_step_seconds_sum{{step="{_esc(step)}"}} {total:.6f}')
            out.append(f'forecaster_step_seconds_count{{step="{_esc(step)}"}} {n}')
        out += ["# HELP forecaster_rows_ingested_total Log rows loaded into the store.",
                "# TYPE forecaster_rows_ingested_total counter",
                f"forecaster_rows_ingested_total {rows.get('loaded', 0)}",
                "# HELP forecaster_rows_rejected_total Log lines rejected (see table rejects).",
                "# TYPE forecaster_rows_rejected_total counter",
                f"forecaster_rows_rejected_total {rows.get('rejected', 0)}",
                "# HELP forecaster_http_request_duration_seconds HTTP request latency by endpoint.",
                "# TYPE forecaster_http_request_duration_seconds histogram"]
        with self._lock:
            items = sorted((k, (list(h.counts), h.sum, h.n)) for k, h in self.latency.items())
        for (method, endpoint, status), (counts, total, n) in items:
            labels = f'method="{method}",endpoint="{_esc(endpoint)}",status="{status}"'
            acc = 0
            for le, c in zip(BUCKETS_S, counts):
                acc += c
                out.append(f'forecaster_http_request_duration_seconds_bucket{{{labels},le="{le}"}} {acc}')
            out.append(f'forecaster_http_request_duration_seconds_bucket{{{labels},le="+Inf"}} {n}')
            out.append(f"forecaster_http_request_duration_seconds_sum{{{labels}}} {total:.6f}")
            out.append(f"forecaster_http_request_duration_seconds_count{{{labels}}} {n}")
        return "\n".join(out) + "\n"


def _esc(v: str) -> str:
    return str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


class MetricsMiddleware:
    """Pure ASGI middleware (no per-request task switch): times each HTTP request."""

    def __init__(self, app: Any, metrics: Metrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = [500]

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            endpoint = getattr(route, "path", None) or "unmatched"
            self.metrics.observe(scope.get("method", "GET"), endpoint, status[0], time.perf_counter() - t0)
