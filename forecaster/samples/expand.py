"""From counts per bucket to individual requests: times, statuses, latencies, sizes, clients.

Vectorised over a block of count rows. Within a row (series, bucket) the first ``status_4xx``
requests get a 4xx status and the next ``status_5xx`` a 5xx; after the times are drawn and the
block is sorted by time that order is gone. Response bytes of the row's successful requests
add up exactly to the row's ``bytes_out`` (minus a fixed error body per 4xx/5xx), so the logs
and the counts agree per bucket on requests, errors and bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa

from . import text
from .traffic import ERROR_BODY_BYTES, Series

CLIENT_POOL = 5000
# Status mixes of error responses (shares; invented, shaped like typical gateway logs).
CODES_4XX = (np.array([400, 401, 403, 404, 409, 429]), np.array([0.2, 0.1, 0.05, 0.45, 0.05, 0.15]))
CODES_5XX = (np.array([500, 502, 503, 504]), np.array([0.4, 0.25, 0.2, 0.15]))
GATEWAY_TIMEOUT_MS = 29_000     # API Gateway's default integration timeout (504 latency)


@dataclass
class Block:
    """Requests of one block, sorted by time; ``sid`` indexes ``series``."""

    series: list[Series]
    sid: np.ndarray              # int32
    ts_ms: np.ndarray            # int64 epoch milliseconds (request received)
    status: np.ndarray           # int16
    latency_ms: np.ndarray       # int64, response latency
    integration_ms: np.ndarray   # int64, backend part of the latency
    bytes_out: np.ndarray        # int64, response body
    bytes_in: np.ndarray         # int64, request body
    client: np.ndarray           # int32 index into a client pool (Zipf-like: few heavy clients)
    rng: np.random.Generator     # for writer-specific ids, drawn after everything above
    cache: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.sid)

    def per_series(self, values: list[str]) -> pa.Array:
        """A per-series value (one per entry of ``series``) spread to every request."""
        return pa.array(values, pa.string()).take(pa.array(self.sid))

    def attr(self, name: str) -> pa.Array:
        """A per-series attribute: api_id, stage, region, method, template, route, host."""
        if name not in self.cache:
            get = {
                "api_id": lambda s: s.api.api_id, "stage": lambda s: s.api.stage, "region": lambda s: s.region,
                "method": lambda s: s.route.method, "template": lambda s: s.route.template,
                "route": lambda s: s.route.key, "host": lambda s: s.api.host, "api": lambda s: s.api.name,
            }[name]
            self.cache[name] = self.per_series([get(s) for s in self.series])
        return self.cache[name]

    def paths(self, with_query: bool = False) -> pa.Array:
        """Concrete paths: '{id}' replaced by a number or UUID per request; optional query string."""
        key = ("paths", with_query)
        if key in self.cache:
            return self.cache[key]
        order = np.argsort(self.sid, kind="stable")
        pieces = []
        sid_sorted = self.sid[order]
        bounds = np.searchsorted(sid_sorted, np.arange(len(self.series) + 1))
        for i, s in enumerate(self.series):
            n = int(bounds[i + 1] - bounds[i])
            if n == 0:
                continue
            parts = s.route.template.split("{id}")
            cols: list[text.Part] = [parts[0]]
            for p in parts[1:]:
                ids = text.uuid4(self.rng, n) if s.route.param == "uuid" else text.ints(self.rng.integers(1, 100_000, n))
                cols += [ids, p]
            if with_query and s.route.query:
                q = s.route.query.split("{n}")
                cols.append("?" + q[0])
                for p in q[1:]:
                    cols += [text.ints(self.rng.integers(1, 6, n)), p]
            if len(cols) == 1:
                cols = [pa.array(np.full(n, cols[0], dtype=object), pa.string())]
            pieces.append(text.join(*cols))
        out = pa.concat_arrays(pieces).take(pa.array(np.argsort(order)))
        self.cache[key] = out
        return out


def series_load(counts: pd.DataFrame, sid: np.ndarray) -> np.ndarray:
    """Load of each count row: its requests over the peak of its series in the window (0..1)."""
    req = counts["requests"].to_numpy()
    peak = np.zeros(sid.max() + 1 if len(sid) else 1)
    np.maximum.at(peak, sid, req)
    return np.divide(req, peak[sid], out=np.zeros(len(req)), where=peak[sid] > 0)


def expand(rows: pd.DataFrame, sid: np.ndarray, load: np.ndarray, step_ms: int, series: list[Series],
           rng: np.random.Generator) -> Block:
    """Requests of count ``rows`` (columns ts, requests, status_4xx, status_5xx, bytes_out)."""
    req = rows["requests"].to_numpy(np.int64)
    n4, n5 = rows["status_4xx"].to_numpy(np.int64), rows["status_5xx"].to_numpy(np.int64)
    n = int(req.sum())
    row = np.repeat(np.arange(len(rows)), req)
    first = np.cumsum(req) - req
    pos = np.arange(n) - first[row]
    is4, is5 = pos < n4[row], (pos >= n4[row]) & (pos < (n4 + n5)[row])
    ok = ~(is4 | is5)
    s = sid[row].astype(np.int32)
    bucket_ms = rows["ts"].to_numpy().astype("datetime64[ms]").astype(np.int64)
    ts = bucket_ms[row] + rng.integers(0, step_ms, n)

    status = np.array([x.route.ok_status for x in series], dtype=np.int16)[s]
    status[is4] = rng.choice(CODES_4XX[0], int(is4.sum()), p=CODES_4XX[1])
    status[is5] = rng.choice(CODES_5XX[0], int(is5.sum()), p=CODES_5XX[1])

    med = np.array([x.route.latency_ms for x in series])[s]
    sig = np.array([x.route.latency_sigma for x in series])[s]
    ld = load[row]
    lat = med * (1 + 0.8 * ld ** 3) * np.exp(sig * (1 + 0.3 * ld) * rng.standard_normal(n))
    lat = np.where(is4, lat * 0.3, lat)
    lat = np.where(status == 504, GATEWAY_TIMEOUT_MS + rng.integers(0, 50, n), lat)
    latency = np.maximum(np.rint(lat), 1).astype(np.int64)
    overhead = rng.integers(1, 9, n)
    integration = np.where(np.isin(status, (401, 403, 429)), 0, np.maximum(latency - overhead, 0))

    # Response bytes: the row's ok total split by lognormal weights, remainder to its first ok request.
    ok_total = rows["bytes_out"].to_numpy(np.int64) - (n4 + n5) * ERROR_BODY_BYTES
    w = np.where(ok, np.exp(0.6 * rng.standard_normal(n)), 0.0)
    wsum = np.bincount(row, w, minlength=len(rows))
    share = np.divide(w, wsum[row], out=np.zeros(n), where=wsum[row] > 0)
    size = np.where(ok, np.floor(share * ok_total[row]), ERROR_BODY_BYTES).astype(np.int64)
    rem = ok_total - np.bincount(row, np.where(ok, size, 0), minlength=len(rows)).astype(np.int64)
    first_ok = first + n4 + n5
    has_ok = req > n4 + n5
    np.add.at(size, first_ok[has_ok], rem[has_ok])

    bin_mean = np.array([x.route.bytes_in_mean for x in series], dtype=float)[s]
    bytes_in = np.rint(bin_mean * np.exp(0.4 * rng.standard_normal(n))).astype(np.int64)
    client = np.minimum((rng.pareto(1.1, n) * 40).astype(np.int64), CLIENT_POOL - 1).astype(np.int32)

    o = np.argsort(ts, kind="stable")
    return Block(series, s[o], ts[o], status[o], latency[o], integration[o], size[o], bytes_in[o], client[o], rng)
