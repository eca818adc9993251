"""Classification: targets are class names; models output class probabilities ``(N, C)``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor

from omicsformer.errors import DataError, RunError
from omicsformer.metrics.classification import classification_metrics, confusion_matrix
from omicsformer.tasks.base import TargetInfo, pooled_as_one_test_set

if TYPE_CHECKING:
    from omicsformer.report.html import Section


def class_text(series: pd.Series) -> pd.Series:
    """Class names as text; whole floats lose their '.0' (1.0 -> '1')."""

    def text(value: object) -> str:
        if isinstance(value, float) and value.is_integer():
            return str(int(value))
        return str(value).strip()

    return series.map(text)


ABSENT_LOGIT = -30.0  # a class the linear base never saw: softmax probability ~1e-13


class ClassificationTask:
    name = "classification"
    main_metric = "balanced_accuracy"
    metric_names = ("balanced_accuracy", "accuracy", "macro_f1", "auroc")
    lower_is_better: frozenset[str] = frozenset()
    default_batch_size = 8
    drops_missing = True
    linear_baseline = "logreg"

    def encode(self, obs: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, TargetInfo]:
        (column,) = columns
        labels = class_text(obs[column])
        classes = sorted(labels.unique())
        if len(classes) < 2:
            raise DataError(
                f"target {column!r} has fewer than 2 classes ({', '.join(classes)}); "
                "classification needs at least 2"
            )
        codes = pd.Categorical(labels, categories=classes).codes.astype(np.int64)
        return codes, TargetInfo(task=self.name, columns=[column], classes=classes)

    def encode_like(self, obs: pd.DataFrame, info: TargetInfo) -> np.ndarray:
        (column,) = info.columns
        labels = class_text(obs[column])
        unknown = sorted(set(labels) - set(info.classes))
        if unknown:
            raise DataError(
                f"target {column!r} has classes the model was not trained on: {', '.join(unknown)} "
                f"(trained on: {', '.join(info.classes)})"
            )
        return pd.Categorical(labels, categories=info.classes).codes.astype(np.int64)

    def strata(self, y: np.ndarray, info: TargetInfo) -> np.ndarray:
        return np.asarray(info.classes, dtype=object)[y]

    def check_parts(
        self, y: np.ndarray, split: dict[str, np.ndarray], where: str = "", remedy: str = ""
    ) -> None:
        """Nothing beyond the split's own checks (every class in every part)."""

    def fit_state(self, y_train: np.ndarray, settings: Any) -> dict[str, Any]:
        return {}

    def calibrate(
        self, state: dict[str, Any], y_train: np.ndarray, output_train: np.ndarray
    ) -> dict[str, Any]:
        return state

    def metrics(self, y: np.ndarray, output: np.ndarray, state: dict[str, Any]) -> dict[str, Any]:
        return classification_metrics(y, output)

    def epoch_metrics(self, y: np.ndarray, output: np.ndarray) -> dict[str, Any]:
        return classification_metrics(y, output)

    def prediction_columns(
        self, y: np.ndarray | None, output: np.ndarray, info: TargetInfo, state: dict[str, Any]
    ) -> dict[str, Any]:
        classes = np.asarray(info.classes, dtype=object)
        columns: dict[str, Any] = {}
        if y is not None:
            columns["true"] = classes[y]
        columns["predicted"] = classes[output.argmax(axis=1)]
        for c, name in enumerate(info.classes):
            columns[f"prob_{name}"] = output[:, c]
        return columns

    # ------------------------------------------------------------------ scikit-learn side
    sklearn_scoring = "balanced_accuracy"

    def sklearn_target(self, y: np.ndarray) -> np.ndarray:
        return y

    def inner_strata(self, y: np.ndarray) -> np.ndarray | None:
        return y

    def balanced_weights(self, y: np.ndarray) -> np.ndarray | None:
        from sklearn.utils.class_weight import compute_sample_weight

        return compute_sample_weight("balanced", y)

    def base_map(
        self,
        weight: np.ndarray,
        bias: np.ndarray,
        info: TargetInfo,
        state: dict[str, Any],
        present: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """A decision function's rows as logits over every class: a binary model's one row is
        the second class's logit against 0 for the first (softmax of (0, d) is the logistic of
        d). ``present``: the classes (codes) the model was fitted on, if not all; a class
        absent from its training rows gets the logit ``ABSENT_LOGIT`` (probability ~0, as the
        model gives it none)."""
        present = np.arange(len(info.classes)) if present is None else np.asarray(present)
        if weight.shape[0] == 1 and len(present) == 2:
            weight, bias = np.vstack([np.zeros_like(weight), weight]), np.concatenate([[0], bias])
        if weight.shape[0] != len(present):
            raise ValueError(f"the linear baseline has {weight.shape[0]} outputs for {present}")
        full_weight = np.zeros((len(info.classes), weight.shape[1]))
        full_bias = np.full(len(info.classes), ABSENT_LOGIT)
        full_weight[present], full_bias[present] = weight, bias
        return full_weight, full_bias

    def sklearn_output(self, estimator: Any, x: np.ndarray, info: TargetInfo) -> np.ndarray:
        proba = estimator.predict_proba(x)
        if proba.shape[1] != len(info.classes):  # a class missing from training data: refuse
            raise RunError(f"model predicts {proba.shape[1]} classes, expected {len(info.classes)}")
        return proba.astype(np.float64)

    # ------------------------------------------------------------------ augmentation, plots
    def mix_targets(self, y: Tensor, partner: Tensor, lam: Tensor, n_classes: int) -> Tensor:
        """Class probabilities mixed like the samples (they still sum to one)."""
        probabilities = F.one_hot(y.long(), n_classes).float()
        lam = lam.to(probabilities.device)
        return lam * probabilities + (1 - lam) * probabilities[partner]

    def plots(self, y: np.ndarray, output: np.ndarray) -> dict[str, Any]:
        return {}

    # ------------------------------------------------------------------ reports
    def from_prediction_columns(
        self, frame: pd.DataFrame, info: TargetInfo
    ) -> tuple[np.ndarray, np.ndarray]:
        codes = pd.Categorical(frame["true"], categories=info.classes).codes.astype(np.int64)
        if (codes < 0).any():
            raise ValueError("a true class the run was not trained on")
        output = frame[[f"prob_{name}" for name in info.classes]].astype(float).to_numpy()
        return codes, output

    def pooled_report(
        self, frame: pd.DataFrame, info: TargetInfo, *, seed: int = 0
    ) -> list[Section]:
        """The classification metrics need no fitted state: one test set."""
        return pooled_as_one_test_set(self, frame, info, seed)

    def report(
        self,
        y: np.ndarray,
        output: np.ndarray,
        info: TargetInfo,
        state: dict[str, Any],
        *,
        seed: int = 0,
    ) -> list[Section]:
        """Metrics with 95% intervals; ROC and precision-recall curves, the confusion matrix
        and a reliability diagram (one-vs-rest per class; binary: the positive class)."""
        from omicsformer.report import plots
        from omicsformer.report.html import Figure, Section, Table
        from omicsformer.report.intervals import task_metrics_table

        classes, predicted = info.classes, output.argmax(axis=1)
        which = f"the positive class {classes[1]!r}" if len(classes) == 2 else "each class"
        counts = pd.DataFrame(
            confusion_matrix(y, predicted, len(classes)),
            index=classes,
            columns=classes,
        )
        return [
            Section("Metrics", [task_metrics_table(self, y, output, state, seed=seed)]),
            Section(
                "ROC and precision-recall curves",
                [
                    Figure.of(
                        plots.roc_pr_figure(y, output, classes),
                        f"One-vs-rest curves of {which}: ROC with its AUC, precision-recall "
                        "with its average precision (AP).",
                    )
                ],
            ),
            Section(
                "Confusion matrix",
                [
                    Figure.of(
                        plots.confusion_figure(y, predicted, classes),
                        "Predicted class = the most probable. Left: counts; right: each row "
                        "divided by its true class's size.",
                    ),
                    Table(
                        counts,
                        caption="Counts: rows are the true classes, columns the predicted ones.",
                        index=True,
                    ),
                ],
            ),
            Section(
                "Calibration",
                [
                    Figure.of(
                        plots.calibration_figure(y, output, classes),
                        f"Reliability diagram of {which} (10 equal-width bins; scikit-learn's "
                        "calibration_curve) with the Brier score; below, how the predicted "
                        "probabilities are spread.",
                    )
                ],
            ),
        ]

    # ------------------------------------------------------------------ neural-network side
    def target_tensor(self, y: np.ndarray) -> Tensor:
        return torch.as_tensor(y, dtype=torch.long)

    def loss_function(
        self, y_train: np.ndarray, info: TargetInfo, class_weight: str, state: dict[str, Any]
    ) -> Callable[[Tensor, Tensor], Tensor]:
        """Cross-entropy; with ``balanced`` class weights n / (C * n_c) from the training labels."""
        weight = None
        if class_weight == "balanced":
            counts = np.bincount(y_train, minlength=len(info.classes)).astype(np.float64)
            weight = torch.as_tensor(
                len(y_train) / (len(info.classes) * np.maximum(counts, 1)), dtype=torch.float32
            )

        def loss(logits: Tensor, y: Tensor) -> Tensor:
            w = weight.to(logits.device) if weight is not None else None
            return F.cross_entropy(logits.float(), y, weight=w)

        return loss

    def output(self, logits: Tensor, state: dict[str, Any]) -> np.ndarray:
        """Class probabilities (N, C) from logits."""
        return torch.softmax(logits.float(), dim=-1).double().cpu().numpy()
