"""One registry type for everything that registers by name (models, metrics, log formats, sample
writers, cost and carbon components, source schemes, engines, events readers...).

Built-ins and extensions go through the same door (datasette's default plugins are plugins too),
so they all behave alike: registering a name twice raises :class:`~forecaster.errors.DuplicateName`,
asking for an unknown one raises :class:`~forecaster.errors.UnknownName` listing the known ones.

    MODELS: Registry[type[ForecastModel]] = Registry("model")

    @MODELS.register("ets")          # as a decorator
    class ETS(ForecastModel): ...

    MODELS.register("naive", Naive)  # or directly
    MODELS.get("ets")                # -> ETS; MODELS.get("nope") raises UnknownName
"""

from __future__ import annotations

from typing import Any, Callable, Generic, Iterator, TypeVar, overload

from .errors import DuplicateName, UnknownName

T = TypeVar("T")
_NOTHING: Any = object()


class Registry(Generic[T]):
    """Named items of one ``kind``, in registration order."""

    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    @overload
    def register(self, name: str) -> Callable[[T], T]: ...

    @overload
    def register(self, name: str, item: T) -> T: ...

    def register(self, name: str, item: T = _NOTHING) -> T | Callable[[T], T]:
        """Register ``item`` as ``name`` and return it; without ``item``, a decorator that does."""
        if item is _NOTHING:
            return lambda it: self.register(name, it)
        if name in self._items:
            raise DuplicateName(self.kind, name)
        self._items[name] = item
        return item

    def unregister(self, name: str) -> None:
        """Forget ``name`` (absent: nothing to do); for entries declared by configuration and re-declared."""
        self._items.pop(name, None)

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise UnknownName(self.kind, name, list(self._items)) from None

    def names(self) -> list[str]:
        """The registered names, in registration order."""
        return list(self._items)

    def items(self) -> list[tuple[str, T]]:
        """(name, item) pairs, in registration order."""
        return list(self._items.items())

    def values(self) -> list[T]:
        return list(self._items.values())

    def as_dict(self) -> dict[str, T]:
        """A copy of the registry: name -> item, in registration order."""
        return dict(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}: {', '.join(self._items)})"
