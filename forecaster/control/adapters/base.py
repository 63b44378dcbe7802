"""What every control-plane adapter provides, and the registry that names them.

An adapter knows one kind of cloud resource (a REST API stage, a usage plan, ...). Given a
recommendation and the ``[[targets]]`` entry that serves it, it says which part of the resource
the recommendation sets (``key``) and to what (``desired``), reads the live values of that part
(``read``), builds the request that changes them (``request``, pure, also what a dry run records),
and sends it (``send``), returning the values read back after the change. Values use the
recommendation's own vocabulary (``rate_limit_rps``, ``burst_limit``, ``weights``...), so the plan
diff and the guardrails compare like with like; ``None`` means "not set on the resource".
"""

from __future__ import annotations

from typing import Any, ClassVar

from ...config import Settings, Target
from ...errors import UnknownName
from ..aws import Clients

COMMON = ("api", "stage", "route")


class Adapter:
    name: ClassVar[str]
    handles: ClassVar[tuple[str, ...]]   # recommendation kinds it can push

    def matches(self, target: Target, rec: dict) -> bool:
        """Whether this target serves the recommendation (same api, stage, route as configured)."""
        p = rec["params"]
        return rec["kind"] in self.handles and target.api == p.get("api")

    def label(self, target: Target) -> str:
        """The resource, readably (e.g. ``rest-api a1b2c3/prod``)."""
        raise NotImplementedError

    def key(self, target: Target, rec: dict) -> str:
        """Which part of the resource the recommendation sets (``*/*``, a route, a window...)."""
        raise NotImplementedError

    def desired(self, target: Target, rec: dict, settings: Settings) -> dict:
        """The values the recommendation wants on that part."""
        return {k: v for k, v in rec["params"].items() if k not in COMMON}

    def read(self, clients: Clients, target: Target, keys: list[str]) -> dict[str, dict | None]:
        """Live values of each key (None: nothing set there)."""
        raise NotImplementedError

    def request(self, target: Target, key: str, before: dict | None, after: dict | None) -> dict:
        """The call that takes ``key`` from ``before`` to ``after`` (None: remove the setting)."""
        raise NotImplementedError

    def send(self, clients: Clients, target: Target, key: str, request: dict) -> dict | None:
        """Make the call; the key's values as the service reports them afterwards."""
        raise NotImplementedError


ADAPTERS: dict[str, Adapter] = {}


def register(cls: type[Adapter]) -> type[Adapter]:
    if cls.name in ADAPTERS:
        raise ValueError(f"control adapter {cls.name!r} registered twice")
    ADAPTERS[cls.name] = cls()
    return cls


def get(name: str) -> Adapter:
    from . import load_all

    load_all()
    try:
        return ADAPTERS[name]
    except KeyError:
        raise UnknownName("control adapter", name, list(ADAPTERS)) from None


def same(a: Any, b: Any) -> bool:
    """Values equal as the gateway sees them (100 == 100.0; dicts key by key)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return float(a) == float(b)
    return a == b


def num(v: Any) -> str:
    """A number as a patch-operation string: 100.0 -> '100' (API Gateway and moto parse both)."""
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def covers(state: dict | None, want: dict | None) -> bool:
    """Whether ``state`` holds every value of ``want`` (``want`` None: nothing is set)."""
    if want is None:
        return state is None
    return state is not None and all(same(state.get(k), v) for k, v in want.items())
