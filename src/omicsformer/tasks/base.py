"""The contract every task implements.

A task turns clinical columns into targets, says how splits are stratified, what a model outputs
and how that output is scored. Some tasks need numbers fitted on the training split (a target
scale for regression; the censoring distribution, horizons and a Breslow baseline hazard for
survival): they live in a JSON-ready ``state`` dict, made by :meth:`Task.fit_state` before the
model is trained and completed by :meth:`Task.calibrate` after it, and saved with the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd
from torch import Tensor

if TYPE_CHECKING:
    from omicsformer.report.html import Section


@dataclass
class TargetInfo:
    """What a model needs to know about the target, saved with the model.

    ``columns`` are the obs columns the target came from (survival: time, event); ``classes``
    the class names in code order (classification only).
    """

    task: str
    columns: list[str]
    classes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"task": self.task, "columns": self.columns, "classes": self.classes}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TargetInfo:
        return cls(task=data["task"], columns=list(data["columns"]), classes=list(data["classes"]))

    @property
    def n_outputs(self) -> int:
        """Width of the model's output layer."""
        return len(self.classes) if self.task == "classification" else 1


class Task(Protocol):
    name: str
    main_metric: str  # used for summaries and model selection
    metric_names: tuple[str, ...]
    lower_is_better: frozenset[str]
    drops_missing: bool  # samples with a missing target are dropped (else: an error)
    default_batch_size: int  # neural training batch when --batch-size is not given

    def encode(self, obs: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, TargetInfo]:
        """Targets from the clinical table: (encoded array, info); bad values are an error."""
        ...

    def encode_like(self, obs: pd.DataFrame, info: TargetInfo) -> np.ndarray:
        """Encode new data's targets consistently with a trained model's ``info``."""
        ...

    def strata(self, y: np.ndarray, info: TargetInfo) -> np.ndarray:
        """Readable labels the splits are stratified on (named in split errors)."""
        ...

    def check_parts(
        self, y: np.ndarray, split: dict[str, np.ndarray], where: str = "", remedy: str = ""
    ) -> None:
        """Refuse (``DataError``) a split with a part too small to be scored (survival: too few
        events); ``where`` names the split in the message, ``remedy`` says the way out."""
        ...

    def fit_state(self, y_train: np.ndarray, settings: Any) -> dict[str, Any]:
        """Task numbers fitted on the training targets before the model is trained."""
        ...

    def calibrate(
        self, state: dict[str, Any], y_train: np.ndarray, output_train: np.ndarray
    ) -> dict[str, Any]:
        """Complete ``state`` from the trained model's training-set outputs."""
        ...

    def metrics(
        self, y: np.ndarray, output: np.ndarray, state: dict[str, Any]
    ) -> dict[str, Any]: ...

    def epoch_metrics(self, y: np.ndarray, output: np.ndarray) -> dict[str, Any]:
        """Cheap metrics that need no fitted state (reported each epoch of training)."""
        ...

    def prediction_columns(
        self, y: np.ndarray | None, output: np.ndarray, info: TargetInfo, state: dict[str, Any]
    ) -> dict[str, Any]:
        """Columns for predictions.csv (besides sample_id and split)."""
        ...

    # scikit-learn baselines
    sklearn_scoring: str | None  # score of the inner search; None: the estimator's own

    def sklearn_target(self, y: np.ndarray) -> np.ndarray:
        """``y`` as scikit-learn (or scikit-survival) estimators take it."""
        ...

    def inner_strata(self, y: np.ndarray) -> np.ndarray | None:
        """(N,) integer labels inner folds are stratified on; None: plain folds."""
        ...

    def balanced_weights(self, y: np.ndarray) -> np.ndarray | None:
        """(N,) sample weights that balance the classes; None where the task has none."""
        ...

    def sklearn_output(self, estimator: Any, x: np.ndarray, info: TargetInfo) -> np.ndarray:
        """The task output of a fitted estimator for ``x``."""
        ...

    # the base of neural models (omicsformer.models.residual)
    linear_baseline: str  # the registered penalised linear model of the task

    def base_map(
        self,
        weight: np.ndarray,
        bias: np.ndarray,
        info: TargetInfo,
        state: dict[str, Any],
        present: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """The linear baseline's raw output map ``x @ weight.T + bias`` (its decision
        function, linear predictor or prediction) in the network's output units: weight
        (n_outputs, G), bias (n_outputs,). ``present``: the classes the baseline was fitted on
        (classification; None: all)."""
        ...

    # augmentation
    def mix_targets(self, y: Tensor, partner: Tensor, lam: Tensor, n_classes: int) -> Tensor:
        """Targets of mixed samples ``lam * x + (1 - lam) * x[partner]`` (mixup); ``lam``
        (B, 1). Raises ConfigError where mixing targets has no meaning."""
        ...

    # reports
    def from_prediction_columns(
        self, frame: pd.DataFrame, info: TargetInfo
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(y, output)`` back from predictions.csv rows (read as text): the inverse of
        :meth:`prediction_columns`. A missing column raises ``KeyError``."""
        ...

    def report(
        self,
        y: np.ndarray,
        output: np.ndarray,
        info: TargetInfo,
        state: dict[str, Any],
        *,
        seed: int = 0,
    ) -> list[Section]:
        """The report sections of a set of patients' predictions: the task's metrics with
        bootstrap 95% intervals (patients resampled, ``seed``), then the task's figures."""
        ...

    def pooled_report(
        self, frame: pd.DataFrame, info: TargetInfo, *, seed: int = 0
    ) -> list[Section]:
        """The report sections of out-of-fold predictions pooled over the folds of one
        repetition (compare's predictions.csv rows of one model, with a ``fold`` column)."""
        ...

    # the run folder
    def plots(self, y: np.ndarray, output: np.ndarray) -> dict[str, Any]:
        """The task's figures of the test patients: file name -> writer(tmp_path)."""
        ...

    # neural networks
    def target_tensor(self, y: np.ndarray) -> Tensor: ...

    def loss_function(
        self, y_train: np.ndarray, info: TargetInfo, class_weight: str, state: dict[str, Any]
    ) -> Callable[[Tensor, Tensor], Tensor]: ...

    def output(self, logits: Tensor, state: dict[str, Any]) -> np.ndarray:
        """The task output (probabilities, risk, value) from the network's raw output."""
        ...


def pooled_as_one_test_set(
    task: Task, frame: pd.DataFrame, info: TargetInfo, seed: int
) -> list[Section]:
    """Out-of-fold predictions reported as one test set: each patient's prediction comes from
    the model of its own test fold, and a task whose metrics need no fitted state (its outputs
    are probabilities or values on one scale across folds) can score them together."""
    y, output = task.from_prediction_columns(frame, info)
    return task.report(y, output, info, {}, seed=seed)
