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
=========  ========  ==========================================  ==============================

Every augmenter is fitted on the training split only; batch augmenters run inside the training
loop of neural models on training batches only, seeded by (seed, epoch); dataset augmenters add
synthetic patients to the training set (any model). Parameters follow the name, separated by
colons: ``--augment noise:sigma=0.2,mixup:alpha=0.4:within_class=true``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, get_type_hints

import numpy as np
import torch
from torch import Tensor

from omicsformer.augment.base import AugmentContext, Augmenter
from omicsformer.augment.cvae import CVAEAugmenter
from omicsformer.augment.mixup import Mixup
from omicsformer.augment.simple import GaussianNoise, GeneMask, LibrarySizeScaling
from omicsformer.augment.smote import Smote
from omicsformer.config import coerce, yaml_value
from omicsformer.errors import ConfigError
from omicsformer.registry import Registry

AUGMENTERS: Registry[type[Augmenter]] = Registry("augmentation")
for _cls in (GaussianNoise, GeneMask, LibrarySizeScaling, Mixup, Smote, CVAEAugmenter):
    AUGMENTERS.add(_cls.name, _cls)


def parse_augment(spec: str) -> tuple[str, dict[str, Any]]:
    """``name:key=value:key=value`` -> (name, typed parameters)."""
    name, *items = [part.strip() for part in spec.split(":")]
    cls = AUGMENTERS.get(name)
    hints = get_type_hints(cls.__init__)
    valid = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    params: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"augmentation parameter {item!r} must be KEY=VALUE (in {spec!r})")
        if key not in valid:
            raise ConfigError(
                f"augmentation {name!r} has no parameter {key!r}; valid: {', '.join(valid)}"
            )
        params[key] = coerce(yaml_value(value), hints[key], f"{name}.{key}")
    return name, params


def build_augmenters(specs: list[str]) -> list[Augmenter]:
    """Augmenters from their specs (``none`` and empty entries are skipped)."""
    result = []
    for spec in specs:
        if spec.strip() in ("", "none"):
            continue
        name, params = parse_augment(spec)
        result.append(AUGMENTERS.get(name)(**params))
    return result


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
    "Augmenter",
    "batch_pipeline",
    "build_augmenters",
    "expand_dataset",
    "parse_augment",
]
