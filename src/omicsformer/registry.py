"""A small name -> object registry, used for models, attention backends, tasks and datasets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from omicsformer.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to objects; an unknown name raises a :class:`ConfigError` listing valid names.

    Parameters
    ----------
    kind
        What the registry holds ("model", "dataset", ...), used in error messages.
    """

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}

    def add(self, name: str, item: T) -> T:
        """Register ``item`` under ``name``; names are unique."""
        if name in self._items:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._items[name] = item
        return item

    def get(self, name: str) -> T:
        """Return the object registered as ``name``."""
        try:
            return self._items[name]
        except KeyError:
            valid = ", ".join(self._items) or "(none)"
            raise ConfigError(f"unknown {self.kind} {name!r}; choose from: {valid}") from None

    def names(self) -> list[str]:
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def items(self) -> list[tuple[str, T]]:
        return list(self._items.items())
