"""The one registry type: every registry of the package behaves alike on duplicates and unknown names."""

from __future__ import annotations

import pytest

from forecaster.errors import Conflict, DuplicateName, UnknownName
from forecaster.registry import Registry


def test_register_get_names_in_order():
    reg: Registry[int] = Registry("thing")
    assert reg.register("b", 2) == 2

    @reg.register("a")
    def a() -> int:
        return 1

    assert reg.get("a") is a and reg.get("b") == 2
    assert reg.names() == ["b", "a"] and list(reg) == ["b", "a"] and len(reg) == 2
    assert reg.items() == [("b", 2), ("a", a)] and reg.values() == [2, a] and reg.as_dict() == {"b": 2, "a": a}
    assert "a" in reg and "z" not in reg
    reg.unregister("a")
    reg.unregister("a")  # absent: nothing to do
    assert reg.names() == ["b"]


def test_unknown_names_list_the_known_ones():
    reg: Registry[int] = Registry("thing")
    reg.register("one", 1)
    reg.register("two", 2)
    with pytest.raises(UnknownName, match=r"unknown thing 'three'; known: one, two") as e:
        reg.get("three")
    assert e.value.status == 400 and isinstance(e.value, ValueError)


def test_a_duplicate_raises_and_keeps_the_first():
    reg: Registry[int] = Registry("thing")
    reg.register("one", 1)
    with pytest.raises(DuplicateName, match="thing 'one' is already registered") as e:
        reg.register("one", 11)
    assert isinstance(e.value, Conflict) and isinstance(e.value, ValueError) and e.value.status == 409
    assert reg.get("one") == 1


def _registries():
    from forecaster.carbon.footprint import COMPONENTS as CARBON
    from forecaster.forecast.engines import ENGINES
    from forecaster.forecast.events import READERS
    from forecaster.forecast.metrics import METRICS
    from forecaster.forecast.models.base import MODELS
    from forecaster.ingest.formats.base import FORMATS
    from forecaster.ingest.sources import SCHEMES
    from forecaster.pricing.usage import COMPONENTS as COSTS
    from forecaster.samples.writers.base import WRITERS
    import forecaster.ingest.s3, forecaster.ingest.cwlogs  # noqa: E401,F401  (register their schemes)

    return [MODELS, METRICS, FORMATS, WRITERS, CARBON, COSTS, SCHEMES, ENGINES, READERS]


@pytest.mark.parametrize("index", range(9))
def test_every_registry_of_the_package_is_one(index):
    reg = _registries()[index]
    assert isinstance(reg, Registry) and len(reg) > 0
    first = reg.names()[0]
    with pytest.raises(DuplicateName, match="already registered"):
        reg.register(first, reg.get(first))
    with pytest.raises(UnknownName, match="known: "):
        reg.get("no such name")
