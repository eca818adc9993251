"""Built-in datasets, registered by name.

Each :class:`DatasetSpec` says where its data comes from (source, licence), which tasks and
named targets it offers, its parameters (an options dataclass, given as
``--data name:key=value,...``, the one option language of :func:`omicsformer.config.parse_spec`)
and how to load it as an AnnData. Each dataset module defines its ``SPEC``; this package adds
them to :data:`DATASETS` under the names they declare, as the models and tasks are added.
``omicsformer datasets`` lists them.
"""

from __future__ import annotations

from typing import Any

import anndata as ad

from omicsformer.config import parse_spec
from omicsformer.data.datasets import all_leukemia, breast, survset, synthetic
from omicsformer.data.datasets.spec import DatasetSpec
from omicsformer.registry import Registry

DATASETS: Registry[DatasetSpec] = Registry("dataset")
# every dataset under the name its spec declares, in the order `omicsformer datasets` lists them
for _spec in (all_leukemia.SPEC, breast.SPEC, survset.SPEC, synthetic.SPEC):
    DATASETS.add(_spec.name, _spec)

__all__ = ["DATASETS", "DatasetSpec", "dataset_for", "load_builtin", "parse_source"]


def parse_source(source: str) -> tuple[DatasetSpec, Any]:
    """``name`` or ``name:key=value,key=value`` (``name:VALUE`` for a dataset with a
    positional parameter) -> the dataset and its typed options."""
    head = source.strip().partition(":")[0].strip()
    positional = DATASETS.get(head).positional if head in DATASETS else None
    name, params = parse_spec(source, positional=positional, what="dataset")
    spec = DATASETS.get(name)
    return spec, spec.parse_options(params)


def load_builtin(source: str) -> ad.AnnData:
    """Load a built-in dataset from ``name`` or ``name:key=value,...``."""
    spec, options = parse_source(source)
    adata = spec.load(options) if spec.options is not None else spec.load()
    adata.uns["dataset"] = spec.name
    return adata


def dataset_for(source: str) -> DatasetSpec | None:
    """The built-in spec behind ``source``, or None for a user's file."""
    name = source.split(":", 1)[0]
    return DATASETS.get(name) if name in DATASETS else None
