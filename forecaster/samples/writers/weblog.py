"""nginx / Apache access logs: Combined Log Format with nginx ``$request_time``, and Common Log Format.

nginx: ``log_format main '$remote_addr - $remote_user [$time_local] "$request" $status
$body_bytes_sent "$http_referer" "$http_user_agent" $request_time'``
(http://nginx.org/en/docs/http/ngx_http_log_module.html); Apache ``common`` is the first seven
fields (https://httpd.apache.org/docs/2.4/logs.html). Times are written in UTC (+0000).
"""

from __future__ import annotations

import pyarrow as pa

from .. import text
from ..expand import Block
from .base import Pools, SampleWriter, cached, register, user_agents


def _head(b: Block, pools: Pools) -> pa.Array:
    t = cached(b, "clf_time", lambda: text.clf_time(b.ts_ms))
    return text.join(pools.ips.take(pa.array(b.client)), " - - [", t, '] "', b.attr("method"), " ",
                     b.paths(with_query=True), ' HTTP/1.1" ', text.ints(b.status), " ", text.ints(b.bytes_out))


def combined(b: Block, pools: Pools) -> pa.Array:
    ref = pools.referers.take(pa.array(b.client % len(pools.referers)))
    return text.join(_head(b, pools), ' "', ref, '" "', user_agents(b, pools), '" ',
                     text.millis_as_seconds(b.latency_ms), "\n")


def clf(b: Block, pools: Pools) -> pa.Array:
    return text.join(_head(b, pools), "\n")


register(SampleWriter("combined", "combined.log",
                      "nginx/Apache Combined Log Format with nginx $request_time (seconds) appended", combined))
register(SampleWriter("clf", "clf.log", "Common Log Format (Apache 'common')", clf))
