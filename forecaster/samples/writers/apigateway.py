"""AWS API Gateway access logs: REST (JSON and CLF templates), HTTP API and WebSocket API.

Layouts follow the ``$context`` templates AWS documents
(https://docs.aws.amazon.com/apigateway/latest/developerguide/set-up-logging.html,
https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-logging-variables.html,
https://docs.aws.amazon.com/apigateway/latest/developerguide/websocket-api-logging.html).
Every JSON value is a string, as in real logs. AWS logs carry no region, so the JSON layouts
add ``"region"`` (one file holds every region); the CLF layout has no room for it.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import text
from ..expand import Block
from .base import Pools, SampleWriter, cached, register


def _request_ids(b: Block) -> pa.Array:
    return cached(b, "uuid", lambda: text.uuid4(b.rng, len(b)))


def _short_ids(b: Block) -> pa.Array:
    return cached(b, "short_id", lambda: text.b64_ids(b.rng, len(b)))


def _common(b: Block, pools: Pools) -> dict[str, pa.Array]:
    return {
        "ip": pools.ips.take(pa.array(b.client)),
        "time": cached(b, "clf_time", lambda: text.clf_time(b.ts_ms)),
        "epoch": text.ints(b.ts_ms),
        "status": text.ints(b.status),
        "bytes": text.ints(b.bytes_out),
        "latency": text.ints(b.latency_ms),
        "integration": text.ints(b.integration_ms),
    }


def rest_json(b: Block, pools: Pools) -> pa.Array:
    c = _common(b, pools)
    return text.join(
        '{"requestId":"', _request_ids(b), '","ip":"', c["ip"], '","caller":"-","user":"-","requestTime":"', c["time"],
        '","requestTimeEpoch":"', c["epoch"], '","httpMethod":"', b.attr("method"), '","resourcePath":"',
        b.attr("template"), '","path":"/', b.attr("stage"), b.paths(), '","status":"', c["status"],
        '","protocol":"HTTP/1.1","responseLength":"', c["bytes"], '","responseLatency":"', c["latency"],
        '","integrationLatency":"', c["integration"], '","apiId":"', b.attr("api_id"), '","stage":"', b.attr("stage"),
        '","apiKeyId":"key-', text.ints(b.client % 50), '","region":"', b.attr("region"), '"}\n',
    )


def rest_clf(b: Block, pools: Pools) -> pa.Array:
    c = _common(b, pools)
    return text.join(
        c["ip"], " - - [", c["time"], '] "', b.attr("method"), " ", b.attr("template"), ' HTTP/1.1" ', c["status"], " ",
        c["bytes"], " ", _request_ids(b), " ", _short_ids(b), "\n",
    )


def http(b: Block, pools: Pools) -> pa.Array:
    c = _common(b, pools)
    return text.join(
        '{"requestId":"', _short_ids(b), '","ip":"', c["ip"], '","requestTime":"', c["time"], '","requestTimeEpoch":"',
        c["epoch"], '","httpMethod":"', b.attr("method"), '","routeKey":"', b.attr("route"), '","path":"', b.paths(),
        '","status":"', c["status"], '","protocol":"HTTP/1.1","responseLength":"', c["bytes"],
        '","integrationLatency":"', c["integration"], '","responseLatency":"', c["latency"], '","apiId":"',
        b.attr("api_id"), '","stage":"', b.attr("stage"), '","region":"', b.attr("region"), '"}\n',
    )


_EVENT_TYPE = {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}


def websocket(b: Block, pools: Pools) -> pa.Array:
    c = _common(b, pools)
    kinds = [_EVENT_TYPE.get(s.route.template, "MESSAGE") for s in b.series]
    event = b.per_series(kinds)
    is_msg = np.array([k == "MESSAGE" for k in kinds])[b.sid]
    message = pc.if_else(pa.array(is_msg), text.b64_ids(b.rng, len(b)), pa.scalar("-"))
    return text.join(
        '{"requestId":"', _short_ids(b), '","requestTimeEpoch":"', c["epoch"], '","requestTime":"', c["time"],
        '","eventType":"', event, '","routeKey":"', b.attr("template"), '","connectionId":"',
        pools.connections.take(pa.array(b.client)), '","messageId":"', message, '","status":"', c["status"], '","apiId":"',
        b.attr("api_id"), '","stage":"', b.attr("stage"), '","integrationLatency":"', c["integration"],
        '","responseLength":"', c["bytes"], '","region":"', b.attr("region"), '"}\n',
    )


register(SampleWriter("apigw_rest_json", "apigw_rest_json.log",
                      "API Gateway REST API, JSON access-log template (+ region)", rest_json))
register(SampleWriter("apigw_rest_clf", "apigw_rest_clf.log",
                      "API Gateway REST API, CLF access-log template with requestId and extendedRequestId", rest_clf))
register(SampleWriter("apigw_http", "apigw_http.log", "API Gateway HTTP API, JSON access log (+ region)", http))
register(SampleWriter("apigw_websocket", "apigw_websocket.log",
                      "API Gateway WebSocket API, JSON access log (+ region)", websocket))
