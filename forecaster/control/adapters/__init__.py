"""Control-plane adapters, registered by name (``base.get(name)``; unknown names raise UnknownName)."""

from __future__ import annotations

import importlib

from .base import ADAPTERS, Adapter, get, register

MODULES = ("rest_stage", "usage_plan", "http_stage", "lambda_pc", "route53", "webhook")


def load_all() -> None:
    for m in MODULES:
        importlib.import_module(f"{__name__}.{m}")


__all__ = ["ADAPTERS", "Adapter", "get", "register", "load_all"]
