"""A token-bucket model of the gateway's throttle, replayed step by step over recorded traffic.

Within a step of ``step_s`` seconds the arrivals are taken as uniform (a fluid model): the bucket
(``burst`` tokens at most) refills at ``limit`` per second and each request takes one token; what
finds the bucket empty is throttled (HTTP 429). Where the logs give the busiest second of a step
(``peak``), that second is checked too: it can take at most ``limit + tokens`` requests, so a burst
the minute's mean hides is still shed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class BucketResult:
    admitted: np.ndarray     # per step
    throttled: np.ndarray    # per step


def replay_bucket(demand: np.ndarray, limit_rps: np.ndarray, burst: np.ndarray, step_s: float,
                  peak: np.ndarray | None = None) -> BucketResult:
    """Admitted and throttled requests per step for ``demand`` under per-step limits and bursts."""
    n = len(demand)
    adm = np.zeros(n)
    thr = np.zeros(n)
    tokens = float(burst[0]) if n else 0.0      # a bucket starts full
    d = np.nan_to_num(np.asarray(demand, dtype=float))
    for i in range(n):
        lim, b, x = float(limit_rps[i]), float(burst[i]), d[i]
        tokens = min(tokens, b)
        cap = tokens + lim * step_s
        shed = 0.0
        if peak is not None and peak[i] == peak[i] and peak[i] > 0:     # not NaN
            shed = max(0.0, float(peak[i]) - (tokens + lim))
        a = min(x - shed, cap)
        shed = x - a
        tokens = min(b, cap - a)
        adm[i], thr[i] = a, shed
    return BucketResult(adm, thr)
