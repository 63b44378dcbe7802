"""Decisions: forecasts, rollups, prices and carbon in; recommendation records out.

Policies (``policies/``: throttle, prewarm, route, cache, websocket) are pure functions registered
by name; ``guardrails`` checks every record before it is stored (and the control plane checks again
at apply time); ``service`` runs a decide run and writes the records; ``replay`` proves throttle
policies on recorded traffic through a token-bucket model of the gateway.
"""

from __future__ import annotations

from typing import Any

__all__ = ["decide"]


def __getattr__(name: str) -> Any:
    if name in ("decide", "DecideResult"):
        from . import service
        return getattr(service, name)
    raise AttributeError(name)
