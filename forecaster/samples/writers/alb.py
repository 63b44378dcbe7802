"""AWS Application Load Balancer access log entries, fields in the documented order
(https://docs.aws.amazon.com/elasticloadbalancing/latest/application/load-balancer-access-logs.html):

type time elb client:port target:port request_processing_time target_processing_time
response_processing_time elb_status_code target_status_code received_bytes sent_bytes "request"
"user_agent" ssl_cipher ssl_protocol target_group_arn "trace_id" "domain_name" "chosen_cert_arn"
matched_rule_priority request_creation_time "actions_executed" "redirect_url" "error_reason"
"target:port_list" "target_status_code_list" "classification" "classification_reason" conn_trace_id

``time`` is when the response was sent (request_creation_time + the three processing times).
``sent_bytes`` is the response body here (real ALBs add headers), so logs and counts agree.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from .. import text
from ..expand import Block
from .base import Pools, SampleWriter, register, user_agents

ACCOUNT = "123456789012"
CERT_ID = "4f2a7c1e-9b3d-4e8a-a6c5-2d1f0b9e8c7a"


def _hex_epoch(secs: np.ndarray) -> pa.Array:
    digits = (np.asarray(secs, dtype=np.int64)[:, None] >> (4 * np.arange(7, -1, -1))) & 15
    return text.from_matrix(np.frombuffer(b"0123456789abcdef", dtype=np.uint8)[digits])


def alb(b: Block, pools: Pools) -> pa.Array:
    n, rng = len(b), b.rng
    req_ms = rng.integers(0, 3, n)
    resp_ms = rng.integers(0, 2, n)
    target_ms = np.maximum(b.latency_ms - req_ms - resp_ms, 0)
    created_us = b.ts_ms * 1000
    done_us = created_us + (req_ms + target_ms + resp_ms) * 1000 + rng.integers(0, 1000, n)
    target = text.join(pools.hosts.take(pa.array(b.client % 6)), ":8080")
    status = text.ints(b.status)
    region = b.attr("region")
    priority = b.per_series([str(i % 9 + 1) for i, _ in enumerate(b.series)])
    return text.join(
        "https ", text.iso_us(done_us), " ", b.attr("api_id"), " ", pools.ips.take(pa.array(b.client)), ":",
        text.ints(rng.integers(1024, 65536, n)), " ", target, " ", text.millis_as_seconds(req_ms), " ",
        text.millis_as_seconds(target_ms), " ", text.millis_as_seconds(resp_ms), " ", status, " ", status, " ",
        text.ints(b.bytes_in), " ", text.ints(b.bytes_out), ' "', b.attr("method"), " https://", b.attr("host"),
        ":443", b.paths(), ' HTTP/1.1" "', user_agents(b, pools), '" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 ',
        "arn:aws:elasticloadbalancing:", region, f":{ACCOUNT}:targetgroup/edge-targets/73e2d6bc24d8a067",
        ' "Root=1-', _hex_epoch(b.ts_ms // 1000), "-", text.hex_ids(rng, n, 24), '" "', b.attr("host"),
        '" "arn:aws:acm:', region, f":{ACCOUNT}:certificate/{CERT_ID}", '" ', priority, " ", text.iso_us(created_us),
        ' "forward" "-" "-" "', target, '" "', status, '" "-" "-" TID_', text.hex_ids(rng, n, 32), "\n",
    )


register(SampleWriter("alb", "alb.log", "AWS Application Load Balancer access log", alb))
