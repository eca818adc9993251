"""What a built-in dataset declares: :class:`DatasetSpec` (each dataset module defines its
``SPEC``; :mod:`omicsformer.data.datasets` registers them)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anndata as ad

from omicsformer.config import from_dict
from omicsformer.errors import DataError


@dataclass(frozen=True)
class DatasetSpec:
    """A built-in dataset.

    Attributes
    ----------
    name
        Registry name, used with ``--data``.
    description
        One line for ``omicsformer datasets``.
    source, licence
        Where the data comes from and under which licence it is shipped.
    targets
        Named targets (obs columns, or "time, event" pairs) and what each means.
    default_targets
        The target column(s) used for a task when none is given, per task name; the first
        task is the dataset's default task.
    load
        ``load(options) -> AnnData`` (``load() -> AnnData`` for a dataset without options).
    shape
        (samples, genes) with default parameters, for listings; a range as text
        (``"78-912"``) when they depend on a required parameter.
    options
        The dataclass of its parameters (``name:key=value,...``), None if it has none.
    positional
        The parameter that may be given without its key: ``name:VALUE`` is
        ``name:positional=VALUE`` (the whole rest is its value); None: keys always.
    choices
        The values of ``positional``, each with one line for ``omicsformer datasets``.
    """

    name: str
    description: str
    source: str
    licence: str
    targets: dict[str, str]
    default_targets: dict[str, str | tuple[str, str]]
    load: Callable[..., ad.AnnData]
    shape: tuple[int | str, int | str]
    options: type | None = None
    positional: str | None = None
    choices: dict[str, str] = field(default_factory=dict)

    @property
    def params(self) -> tuple[str, ...]:
        """The names of its parameters."""
        return tuple(f.name for f in dataclasses.fields(self.options)) if self.options else ()

    def parse_options(self, params: dict[str, Any]) -> Any:
        """Its options dataclass from ``{key: value}`` (text or typed), checked once: unknown
        keys (listing the valid ones), types and ranges; None for a dataset without options."""
        unknown = sorted(set(params) - set(self.params))
        if unknown:
            valid = ", ".join(self.params) or "(none)"
            raise DataError(
                f"dataset {self.name!r} has no parameter(s) {', '.join(unknown)}; valid: {valid}"
            )
        return (
            from_dict(self.options, params, f"parameters of dataset {self.name!r}")
            if self.options
            else None
        )
