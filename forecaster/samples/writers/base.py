"""The sample-writer protocol and registry, plus the client pools writers share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pyarrow as pa

from ...registry import Registry
from .. import text
from ..expand import CLIENT_POOL, Block


@dataclass(frozen=True)
class Pools:
    """Deterministic pools of client-side values, indexed by ``Block.client``."""

    ips: pa.Array             # public client addresses
    hosts: pa.Array           # private addresses (targets, upstreams, mesh callers)
    user_agents: pa.Array
    referers: pa.Array
    connections: pa.Array     # WebSocket connection ids, one per client

    @classmethod
    def make(cls, rng: np.random.Generator) -> "Pools":
        return cls(text.ip_pool(rng, CLIENT_POOL), text.ip_pool(rng, 64, private=True),
                   pa.array(USER_AGENTS), pa.array(REFERERS), text.b64_ids(rng, CLIENT_POOL))


USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
    "okhttp/4.12.0",
    "python-requests/2.32.3",
    "curl/8.5.0",
)
REFERERS = ("-", "https://www.example.com/", "https://www.google.com/", "https://www.example.com/blog/",
            "https://t.co/")


def user_agents(b: Block, pools: Pools) -> pa.Array:
    """Each client keeps one user agent (client index modulo the pool)."""
    return pools.user_agents.take(pa.array(b.client % len(pools.user_agents)))


def cached(b: Block, key: str, make: Callable[[], pa.Array]) -> pa.Array:
    """A column drawn once per block, so two formats of the same requests share ids."""
    if key not in b.cache:
        b.cache[key] = make()
    return b.cache[key]


Render = Callable[[Block, Pools], pa.Array]


@dataclass(frozen=True)
class SampleWriter:
    """A log format the generator writes. ``render`` returns one text line per request (with '\\n');
    an ``aggregated`` writer (counts) writes count rows instead and has no ``render``."""

    name: str
    file_name: str
    description: str
    render: Render | None = None
    aggregated: bool = False


WRITERS: Registry[SampleWriter] = Registry("sample format")


def register(w: SampleWriter) -> SampleWriter:
    return WRITERS.register(w.name, w)


def get_writer(name: str) -> SampleWriter:
    return WRITERS.get(name)


def all_writers() -> dict[str, SampleWriter]:
    return WRITERS.as_dict()
