"""Lambda behind a route: which routes run on Lambda, with what memory and architecture.

Billed duration comes from the log: ``traffic_1m.billed_ms_sum`` holds sum(ceil(integration
latency ms)), Lambda's 1 ms rounding. GB-seconds are carried as an integer "MB-ms" weight
(billed ms x memory MB) so that allocation stays exact; GB-s = MB-ms / 1024 / 1000.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Mapping, TypeVar

from ..config import Settings

MB_MS_PER_GB_S = Decimal(1024 * 1000)
AWS_LAMBDA_API_TYPES = ("rest", "http", "websocket")   # API Gateway types whose integration may be Lambda

T = TypeVar("T")


@dataclasses.dataclass(frozen=True)
class LambdaSetup:
    """How one route's integration is billed."""

    integration: str            # lambda | none
    memory_mb: int
    arch: str                   # x86_64 | arm64
    provisioned: int = 0        # provisioned concurrency kept enabled

    @property
    def memory_gb(self) -> Decimal:
        return Decimal(self.memory_mb) / 1024


def route_lookup(table: Mapping[str, T], api: str, stage: str, route: str, default: T) -> T:
    """Most specific of 'api|stage|route', 'api|route', 'api' in ``table``, else ``default``."""
    for key in (f"{api}|{stage}|{route}", f"{api}|{route}", api):
        if key in table:
            return table[key]
    return default


def lambda_setup(settings: Settings, api: str, stage: str, route: str) -> LambdaSetup:
    """The Lambda setup of a route from the settings (per-route entries win over defaults)."""
    return LambdaSetup(
        integration=route_lookup(settings.lambda_integration_by_route, api, stage, route,
                                 settings.lambda_integration_default),
        memory_mb=int(route_lookup(settings.lambda_memory_by_route, api, stage, route, settings.lambda_memory_mb)),
        arch=route_lookup(settings.lambda_arch_by_route, api, stage, route, settings.lambda_arch),
        provisioned=int(route_lookup(settings.lambda_provisioned_by_route, api, stage, route, 0)),
    )
