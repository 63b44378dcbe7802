"""Kong Gateway File Log plugin lines (https://docs.konghq.com/hub/kong-inc/file-log/).

One JSON object per request; sizes and latencies are numbers, ``started_at`` is epoch ms.
``request.size`` and ``response.size`` are the bodies (so they add up to the counts' bytes).
"""

from __future__ import annotations

import json

import pyarrow as pa

from .. import text
from ..expand import Block
from .base import Pools, SampleWriter, register, user_agents


def _route_name(method: str, template: str) -> str:
    words = [p for p in template.split("/") if p and "{" not in p]
    return f"{words[-1] if words else 'root'}-{'read' if method == 'GET' else 'write'}"


def _route_paths(template: str) -> str:
    return json.dumps([template.split("/{", 1)[0] or "/"])


def kong(b: Block, pools: Pools) -> pa.Array:
    route_json = b.per_series([
        f'{{"name":"{_route_name(s.route.method, s.route.template)}","paths":{_route_paths(s.route.template)},'
        f'"protocols":["http","https"],"strip_path":false}}' for s in b.series])
    service = b.per_series([f'{{"name":"{s.api.api_id}","host":"{s.api.api_id}-upstream","port":8080,'
                            f'"protocol":"http"}}' for s in b.series])
    path = b.paths(with_query=True)
    kong_ms = b.latency_ms - b.integration_ms
    return text.join(
        '{"request":{"id":"', text.hex_ids(b.rng, len(b), 32), '","method":"', b.attr("method"), '","uri":"', path,
        '","url":"http://', b.attr("host"), ':8000', path, '","size":', text.ints(b.bytes_in),
        ',"querystring":{},"headers":{"host":"', b.attr("host"), ':8000","user-agent":"', user_agents(b, pools),
        '","accept":"application/json"}},"upstream_uri":"', path, '","response":{"status":', text.ints(b.status),
        ',"size":', text.ints(b.bytes_out), ',"headers":{"content-type":"application/json","content-length":"',
        text.ints(b.bytes_out), '"}},"latencies":{"request":', text.ints(b.latency_ms), ',"kong":',
        text.ints(kong_ms), ',"proxy":', text.ints(b.integration_ms), '},"route":', route_json, ',"service":',
        service, ',"consumer":{"username":"merchant-', text.ints(b.client % 200), '"},"client_ip":"',
        pools.ips.take(pa.array(b.client)), '","started_at":', text.ints(b.ts_ms), "}\n",
    )


register(SampleWriter("kong", "kong.log", "Kong Gateway File Log plugin JSON", kong))
