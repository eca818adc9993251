"""Augmentation in a training run: the augmenters of ``--augment`` fitted on the training part
only, dataset-level synthetic patients added to the training arrays and batch-level ones handed
to the training loop."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import numpy as np

from omicsformer.augment import AugmentContext, batch_pipeline, expand_dataset, parse_specs
from omicsformer.config import RunConfig
from omicsformer.errors import ConfigError
from omicsformer.models import MODELS, Runtime

if TYPE_CHECKING:
    from omicsformer.pipeline import PreparedData, SplitArrays


def augment_context(config: RunConfig, data: PreparedData, arrays: SplitArrays) -> AugmentContext:
    bases = {"log1p": float(np.e), "log2p1": 2.0}
    return AugmentContext(
        task=data.task.name,
        n_classes=len(data.target.classes),
        seed=config.seed,
        gene_scale=arrays.preprocessor.scale,
        log_base=bases.get(config.preprocess.transform),
    )


def augment_training(
    config: RunConfig, data: PreparedData, arrays: SplitArrays, runtime: Runtime
) -> tuple[np.ndarray, np.ndarray, Runtime, list[Any]]:
    """Fit the augmenters on the training part only; add dataset-level synthetic patients to
    the training arrays and hand batch-level ones to the training loop."""
    x_train, y_train = arrays.x("train"), arrays.y("train")
    augmenters = [spec.build() for spec in parse_specs(config.augment.methods)]
    if not augmenters:
        return x_train, y_train, runtime, []
    context = augment_context(config, data, arrays)
    # dataset augmenters learn from the real patients; batch augmenters see the training set
    # the loop draws from, synthetic patients included (SMOTE's neighbours index into it)
    for augmenter in (a for a in augmenters if a.kind == "dataset"):
        augmenter.fit(x_train, y_train, context)
    x_train, y_train = expand_dataset(augmenters, x_train, y_train)
    for augmenter in (a for a in augmenters if a.kind == "batch"):
        augmenter.fit(x_train, y_train, context)
    runtime = dataclasses.replace(runtime, augment=batch_pipeline(augmenters))
    return x_train, y_train, runtime, augmenters


def check_augmentation(config: RunConfig, model_name: str) -> None:
    """Batch augmentations need a model trained in batches (a neural one)."""
    spec = MODELS.get(model_name)
    batch = [s.name for s in parse_specs(config.augment.methods) if s.kind == "batch"]
    if batch and spec.family != "neural":
        raise ConfigError(
            f"{', '.join(batch)} augment(s) training batches of neural models; {model_name!r} "
            "is not trained in batches (cvae works with every model)"
        )
