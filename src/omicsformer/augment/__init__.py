"""Data augmentation for small cohorts (``--augment NAME[:key=value...],...``).

=========  ========  ==========================================  ==============================
name       applies   what                                        tasks
=========  ========  ==========================================  ==============================
noise      batches   Gaussian noise on z-scores (sigma)          all
mask       batches   gene dropout to the mean (rate)             all
scale      batches   library-size-like multiplicative noise      all
mixup      batches   convex mixing of pairs (alpha, within_class) classification, regression
smote      batches   interpolation to same-class neighbours      classification
cvae       dataset   conditional VAE samples per class (ratio)   classification
wgan       dataset   conditional WGAN-GP samples (ratio or n)    classification, survival
=========  ========  ==========================================  ==============================

Every augmenter is fitted on the training split only; batch augmenters run inside the training
loop of neural models on training batches only, seeded by (seed, epoch); dataset augmenters add
synthetic patients to the training set (any model). Parameters follow the name in the one option
language (:func:`omicsformer.config.parse_spec`): ``noise:sigma=0.2``, ``mixup:alpha=0.4,
within_class=true``; in a comma-separated list a ``key=value`` item belongs to the augmentation
before it (``--augment noise:sigma=0.2,mixup:alpha=0.4,within_class=true``). The older colon form
(``mixup:alpha=0.4:within_class=true``, in saved configs) is read too.

:func:`parse_specs` reads the list once into :class:`AugmentSpec` (name + the augmenter's typed
options); a spec tells its ``kind`` without building anything, and :meth:`AugmentSpec.build`
makes the (unfitted) augmenter.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from omicsformer.augment.base import AugmentContext, Augmenter
from omicsformer.augment.cvae import CVAEAugmenter
from omicsformer.augment.mixup import Mixup
from omicsformer.augment.simple import GaussianNoise, GeneMask, LibrarySizeScaling
from omicsformer.augment.smote import Smote
from omicsformer.augment.wgan import WGANAugmenter
from omicsformer.config import from_dict, parse_spec
from omicsformer.errors import ConfigError
from omicsformer.registry import Registry

AUGMENTERS: Registry[type[Augmenter]] = Registry("augmentation")
_IN_BATCHES = (GaussianNoise, GeneMask, LibrarySizeScaling, Mixup, Smote)
_GENERATORS = (CVAEAugmenter, WGANAugmenter)  # add synthetic patients before training
for _cls in (*_IN_BATCHES, *_GENERATORS):
    AUGMENTERS.add(_cls.name, _cls)


@dataclass(frozen=True)
class AugmentSpec:
    """One augmentation as configured: its registry name and typed options."""

    name: str
    options: Any

    @property
    def augmenter(self) -> type[Augmenter]:
        return AUGMENTERS.get(self.name)

    @property
    def kind(self) -> str:
        """``batch`` or ``dataset``, without building the augmenter."""
        return self.augmenter.kind

    def build(self) -> Augmenter:
        """A new, unfitted augmenter."""
        return self.augmenter(self.options)


def parse_specs(methods: list[str]) -> list[AugmentSpec]:
    """Read ``--augment`` entries (``config.augment.methods``) once: names checked against the
    registry, options typed and range-checked by each augmenter's ``Options``. ``none`` and
    empty entries are skipped; a ``key=value`` entry continues the augmentation before it."""
    return [_parse_one(text) for text in _grouped(methods)]


def split_specs(text: str) -> list[str]:
    """A comma-separated ``--augment`` value as one text per augmentation:
    ``noise,mixup:alpha=0.2,within_class=true`` -> ``["noise", "mixup:alpha=0.2,within_class=
    true"]`` (``none`` kept, for lists of alternatives)."""
    return _grouped(text.split(","), keep_none=True)


def _grouped(entries: list[str], keep_none: bool = False) -> list[str]:
    texts: list[str] = []
    for entry in (e.strip() for e in entries):
        if not entry or (entry == "none" and not keep_none):
            continue
        if "=" in entry and ":" not in entry.split("=", 1)[0]:  # key=value of the one before
            if not texts or texts[-1] == "none":
                raise ConfigError(f"augmentation parameter {entry!r} follows no augmentation")
            texts[-1] += ("," if ":" in texts[-1] else ":") + entry
        else:
            texts.append(entry)
    return texts


def _parse_one(text: str) -> AugmentSpec:
    """One ``name:key=value,...`` augmentation (or the older ``name:key=value:key=value``)."""
    name, sep, rest = text.partition(":")
    name, params = parse_spec(name + sep + rest.replace(":", ","), what="augmentation")
    cls = AUGMENTERS.get(name)
    return AugmentSpec(name, from_dict(cls.Options, params, f"augmentation {name!r}"))


def build_augmenters(methods: list[str]) -> list[Augmenter]:
    """New, unfitted augmenters from ``--augment`` entries (with specs already parsed by
    :func:`parse_specs`, build each: ``[spec.build() for spec in specs]``)."""
    return [spec.build() for spec in parse_specs(methods)]


def batch_pipeline(augmenters: list[Augmenter]) -> Callable[..., tuple[Tensor, Tensor]] | None:
    """The batch augmenters chained in order, or None if there are none."""
    steps = [a for a in augmenters if a.kind == "batch"]
    if not steps:
        return None

    def apply(
        x: Tensor, y: Tensor, generator: torch.Generator, rows: Tensor
    ) -> tuple[Tensor, Tensor]:
        for step in steps:
            x, y = step.batch(x, y, generator, rows)
        return x, y

    return apply


def expand_dataset(
    augmenters: list[Augmenter], x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Apply the dataset augmenters in order to the training arrays."""
    for augmenter in augmenters:
        if augmenter.kind == "dataset":
            x, y = augmenter.expand(x, y)
    return x, y


__all__ = [
    "AUGMENTERS",
    "AugmentContext",
    "AugmentSpec",
    "Augmenter",
    "batch_pipeline",
    "build_augmenters",
    "expand_dataset",
    "parse_specs",
    "split_specs",
]
