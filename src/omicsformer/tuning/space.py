"""Search spaces, declared beside each option with ``bounded(..., search=...)``.

A model's options dataclass (and :class:`~omicsformer.config.TrainConfig`) says which of its
fields are worth searching and with which prior::

    dropout: float = bounded(0.3, **PROBABILITY, search=Float(0.0, 0.6))
    lr: float | None = bounded(None, low=0, open_low=True, search=Float(1e-5, 1e-2, log=True))

:func:`declared` lists them; :func:`suggest` asks an Optuna trial for a value of each. A list
option searched with a scalar space (``C: list[float]``, the grid of an inner search) gets a
one-element list: the trial fixes the value the inner grid would otherwise choose.
Nothing here imports Optuna; a ``trial`` is anything with Optuna's ``suggest_*`` methods.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, get_origin, get_type_hints


@dataclass(frozen=True)
class Float:
    """A real value in [low, high]; ``log`` draws it uniformly on the log scale."""

    low: float
    high: float
    log: bool = False

    def suggest(self, trial: Any, name: str) -> float:
        return trial.suggest_float(name, self.low, self.high, log=self.log)

    def __str__(self) -> str:
        return f"{self.low:g}..{self.high:g}{' (log)' if self.log else ''}"


@dataclass(frozen=True)
class Int:
    """An integer in [low, high]; ``log`` draws it uniformly on the log scale."""

    low: int
    high: int
    log: bool = False

    def suggest(self, trial: Any, name: str) -> int:
        return trial.suggest_int(name, self.low, self.high, log=self.log)

    def __str__(self) -> str:
        return f"{self.low}..{self.high}{' (log)' if self.log else ''}"


@dataclass(frozen=True)
class Choice:
    """One of ``options``. Optuna stores categories as plain values, so a list-valued option
    (``hidden: [256, 64]``) is offered as its text ``"256,64"`` and turned back here."""

    options: tuple[Any, ...]

    def suggest(self, trial: Any, name: str) -> Any:
        labels = [_label(o) for o in self.options]
        chosen = trial.suggest_categorical(name, labels)
        return self.options[labels.index(chosen)]

    def __str__(self) -> str:
        return " | ".join(str(_label(o)) for o in self.options)


Space = Float | Int | Choice


def _label(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return ",".join(map(str, value))
    return value


def declared(cls: type) -> dict[str, Space]:
    """The searchable fields of options dataclass ``cls`` and their spaces."""
    return {
        f.name: f.metadata["search"]
        for f in dataclasses.fields(cls)
        if f.metadata.get("search") is not None
    }


def suggest(
    trial: Any, cls: type, prefix: str = "", pinned: set[str] | frozenset[str] = frozenset()
) -> dict[str, Any]:
    """A value for every searchable field of ``cls`` not in ``pinned``, as plain option values.

    ``prefix`` namespaces the parameter names in the study (``train.lr``, ``model.dropout``).
    """
    hints = get_type_hints(cls)
    values = {}
    for name, space in declared(cls).items():
        if name in pinned:
            continue
        value = space.suggest(trial, f"{prefix}{name}")
        if get_origin(hints[name]) is list and not isinstance(value, list | tuple):
            value = [value]  # a grid option fixed to the trial's value
        values[name] = list(value) if isinstance(value, tuple) else value
    return values


def describe(cls: type) -> list[tuple[str, str]]:
    """(option, space) rows for documentation and ``omicsformer models``."""
    return [(name, str(space)) for name, space in declared(cls).items()]
