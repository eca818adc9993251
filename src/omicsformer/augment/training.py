"""Augmentation in a training run: the augmenters of ``--augment`` fitted on the training part
only, dataset-level synthetic patients added to the training arrays, batch-level ones handed to
the training loop of a neural model, and a resampling one (SMOTE) handed to an estimator, which
resamples the rows of each of its fits (training part, inner search folds) itself."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from omicsformer.augment import (
    AugmentContext,
    AugmentSpec,
    batch_pipeline,
    expand_dataset,
    parse_specs,
)
from omicsformer.cohort import PreparedData, SplitArrays
from omicsformer.config import RunConfig
from omicsformer.data.transforms import log_base
from omicsformer.errors import ConfigError
from omicsformer.models import MODELS, ModelSpec, Runtime
from omicsformer.train.engine import resolve_device


def augment_context(
    config: RunConfig, data: PreparedData, arrays: SplitArrays, progress: bool = False
) -> AugmentContext:
    device = resolve_device(config.train.device)  # a baseline's run checks it here too
    return AugmentContext(
        task=data.task.name,
        n_classes=len(data.target.classes),
        seed=config.seed,
        gene_scale=arrays.preprocessor.scale,
        log_base=log_base(config.preprocess.transform),
        classes=tuple(data.target.classes),
        device=device,
        progress=progress,
    )


def augment_training(
    config: RunConfig, data: PreparedData, arrays: SplitArrays, runtime: Runtime, spec: ModelSpec
) -> tuple[np.ndarray, np.ndarray, Runtime, list[Any]]:
    """Fit the augmenters on the training part only; add dataset-level synthetic patients to
    the training arrays and hand batch-level ones to the training loop of ``spec``'s model, or,
    for a model not trained in batches, the resampling one to its fits."""
    x_train, y_train = arrays.x("train"), arrays.y("train")
    specs = parse_specs(config.augment.methods)
    _check_for(spec, specs, config.seed)  # again here: the Python API's fits come here directly
    augmenters = [s.build() for s in specs]
    if not augmenters:
        return x_train, y_train, runtime, []
    context = augment_context(config, data, arrays, runtime.progress)
    # dataset augmenters learn from the real patients; batch augmenters see the training set
    # the loop draws from, synthetic patients included (SMOTE's neighbours index into it)
    for augmenter in (a for a in augmenters if a.kind == "dataset"):
        augmenter.fit(x_train, y_train, context)
    x_train, y_train = expand_dataset(augmenters, x_train, y_train)
    if not _in_batches(spec):  # _check_for let only one resampling batch augmenter pass
        for augmenter in (a for a in augmenters if a.kind == "batch"):
            runtime = dataclasses.replace(runtime, resample=augmenter.prepare(context))
        return x_train, y_train, runtime, augmenters
    for augmenter in (a for a in augmenters if a.kind == "batch"):
        augmenter.fit(x_train, y_train, context)
    runtime = dataclasses.replace(runtime, augment=batch_pipeline(augmenters))
    return x_train, y_train, runtime, augmenters


def _in_batches(spec: ModelSpec) -> bool:
    return spec.family == "neural"


def check_augmentation(config: RunConfig, model_name: str) -> None:
    """Batch augmentations need a model trained in batches (a neural one); a model that is not
    (a baseline) takes one resampling augmentation (smote), whose options are checked here,
    before any data is read."""
    _check_for(MODELS.get(model_name), parse_specs(config.augment.methods), config.seed)


def _check_for(spec: ModelSpec, specs: list[AugmentSpec], seed: int) -> None:
    batch = [s for s in specs if s.kind == "batch"]
    if _in_batches(spec) or not batch:
        return
    refused = [s.name for s in batch if not s.augmenter.resamples]
    if refused:
        raise ConfigError(
            f"{', '.join(refused)} augment(s) training batches of neural models; {spec.name!r} "
            "is not trained in batches (smote and cvae work with every classification model, "
            "wgan with every classification or survival one)"
        )
    if len(batch) > 1:
        raise ConfigError(
            f"{spec.name!r} takes one resampling augmentation, got {len(batch)}: "
            f"{', '.join(s.name for s in batch)}"
        )
    for s in batch:
        s.augmenter.sampler_params(s.options, seed)
