"""Built-in datasets, registered by name.

Each :class:`DatasetSpec` says where its data comes from (source, licence), which tasks and
named targets it offers, and how to load it as an AnnData. ``omicsformer datasets`` lists them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import anndata as ad

from omicsformer.config import yaml_value
from omicsformer.errors import DataError
from omicsformer.registry import Registry


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
        ``load(**params) -> AnnData``; params come from ``name:key=value,...``.
    shape
        (samples, genes) with default parameters, for listings.
    """

    name: str
    description: str
    source: str
    licence: str
    targets: dict[str, str]
    default_targets: dict[str, str | tuple[str, str]]
    load: Callable[..., ad.AnnData]
    shape: tuple[int, int]
    params: tuple[str, ...] = field(default=())


DATASETS: Registry[DatasetSpec] = Registry("dataset")


def parse_source(source: str) -> tuple[str, dict[str, object]]:
    """Split ``name:key=value,key=value`` into the name and typed parameters."""
    name, _, rest = source.partition(":")
    params: dict[str, object] = {}
    for item in filter(None, (p.strip() for p in rest.split(","))):
        key, sep, value = item.partition("=")
        if not sep:
            raise DataError(f"dataset parameter {item!r} must be KEY=VALUE (in {source!r})")
        params[key.strip()] = yaml_value(value.strip())
    return name, params


def load_builtin(source: str) -> ad.AnnData:
    """Load a built-in dataset from ``name`` or ``name:key=value,...``."""
    name, params = parse_source(source)
    spec = DATASETS.get(name)
    unknown = sorted(set(params) - set(spec.params))
    if unknown:
        valid = ", ".join(spec.params) or "(none)"
        raise DataError(
            f"dataset {name!r} has no parameter(s) {', '.join(unknown)}; valid: {valid}"
        )
    adata = spec.load(**params)
    adata.uns["dataset"] = name
    return adata


def dataset_for(source: str) -> DatasetSpec | None:
    """The built-in spec behind ``source``, or None for a user's file."""
    name = source.split(":", 1)[0]
    return DATASETS.get(name) if name in DATASETS else None


# Registration happens on import of the modules below.
from omicsformer.data.datasets import all_leukemia, breast, synthetic  # noqa: E402, F401
