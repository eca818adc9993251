"""What one run hands from step to step, below the steps themselves: :class:`PreparedData` (a
cohort read and its target encoded, :func:`omicsformer.pipeline.prepare_data`),
:class:`SplitArrays` (every sample preprocessed by a preprocessor fitted on one split's training
part, :func:`omicsformer.pipeline.preprocess_split`) and :class:`FitResult` (one fitted model with
its outputs and scores, :func:`omicsformer.pipeline.fit_model`).

They sit below the run and its parts (:mod:`omicsformer.pipeline`, :mod:`omicsformer.runs`,
:mod:`omicsformer.tasks.resolve`, :mod:`omicsformer.augment.training`, :mod:`omicsformer.crossval`),
so that every one of those imports them from here, and none reaches up for a type.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from omicsformer.config import RunConfig
from omicsformer.data.batch import batch_labels
from omicsformer.data.preprocess import Preprocessor
from omicsformer.data.splits import Split
from omicsformer.models import Model, ModelSpec
from omicsformer.tasks import TASKS, TargetInfo, Task


@dataclass
class PreparedData:
    """A cohort ready for splitting: float32 matrix, encoded target, and its description."""

    adata: ad.AnnData
    y: np.ndarray
    target: TargetInfo
    task: Task
    group_by: str | None = None  # the grouping column of the splits: --group-by, or "patient"

    @property
    def values(self) -> np.ndarray:
        return np.asarray(self.adata.X)

    @property
    def genes(self) -> list[str]:
        return list(self.adata.var_names)

    @property
    def sample_ids(self) -> np.ndarray:
        return np.asarray(self.adata.obs_names)

    def groups(self, config: RunConfig) -> np.ndarray | None:
        """(N,) the group of every sample (``--group-by``, or the patient when
        :func:`omicsformer.pipeline.prepare_data` chose it), or None for ungrouped splits."""
        column = self.group_by if self.group_by is not None else config.data.group_by
        return None if column is None else self.adata.obs[column].astype(str).to_numpy()

    def without_values(self) -> PreparedData:
        """The same samples and targets without the expression matrix: what a run's record
        (splits, predictions) needs, kept by a fitted estimator instead of the data."""
        obs = pd.DataFrame(index=self.adata.obs_names)
        return dataclasses.replace(self, adata=ad.AnnData(obs=obs))

    def batches(self, config: RunConfig) -> np.ndarray | None:
        """(N,) the ``--batch-key`` value of every sample, or None."""
        column = config.data.batch_key
        return None if column is None else batch_labels(self.adata.obs[column])


@dataclass
class SplitArrays:
    """Every sample preprocessed (by a preprocessor fitted on the training part) and the split."""

    preprocessor: Preprocessor
    x_all: np.ndarray
    y_all: np.ndarray
    split: Split

    def x(self, part: str) -> np.ndarray:
        return self.x_all[self.split[part]]

    def y(self, part: str) -> np.ndarray:
        return self.y_all[self.split[part]]


@dataclass
class FitResult:
    """One fitted model on one split, with its outputs and scores per part."""

    preprocessor: Preprocessor
    model: Model
    spec: ModelSpec
    options: Any
    fitted: dict[str, Any]
    outputs: dict[str, np.ndarray]
    metrics: dict[str, dict[str, Any]]
    fit_seconds: float
    predict_seconds: float
    task_state: dict[str, Any]
    augmenters: list[Any] = dataclasses.field(default_factory=list)  # fitted on training data
    # a network with a base (omicsformer.models.residual): the base alone's scores per part
    base_metrics: dict[str, dict[str, Any]] | None = None

    @property
    def task(self) -> Task:
        return TASKS.get(self.model.context.target.task)
