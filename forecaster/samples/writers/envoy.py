"""Envoy access log, default format
(https://www.envoyproxy.io/docs/envoy/latest/configuration/observability/access_log/usage#default-format-string):

``[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE%
%RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%
"%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"``
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import text
from ..expand import Block
from .base import Pools, SampleWriter, register

CALLERS = ("nsq2http", "checkout-svc", "inventory-worker", "grpc-go/1.68.0", "courier-api")
_FLAGS = {503: "UF", 504: "UT"}   # upstream connection failure, upstream request timeout


def envoy(b: Block, pools: Pools) -> pa.Array:
    flags_np = np.full(len(b), "-", dtype=object)
    for code, flag in _FLAGS.items():
        flags_np[b.status == code] = flag
    failed = pa.array(flags_np != "-")
    upstream_time = pc.if_else(failed, pa.scalar("-"), text.ints(b.integration_ms))
    callers = pa.array(CALLERS).take(pa.array(b.client % len(CALLERS)))
    upstream = pools.hosts.take(pa.array(b.client % 8))
    return text.join(
        "[", text.iso_ms(b.ts_ms), '] "', b.attr("method"), " ", b.paths(), ' HTTP/2" ', text.ints(b.status), " ",
        pa.array(flags_np, pa.string()), " ", text.ints(b.bytes_in), " ", text.ints(b.bytes_out), " ",
        text.ints(b.latency_ms), " ", upstream_time, ' "', pools.hosts.take(pa.array(b.client % len(pools.hosts))),
        '" "', callers, '" "', text.uuid4(b.rng, len(b)), '" "', b.attr("api_id"), '" "tcp://', upstream, ':80"\n',
    )


register(SampleWriter("envoy", "envoy.log", "Envoy access log, default format", envoy))
