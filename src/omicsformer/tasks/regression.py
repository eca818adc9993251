"""Regression (e.g. treatment response as a drug IC50): a continuous target; models output a value.

Samples with a missing target are dropped (with a count); a non-numeric value is an error.
Neural models learn the target standardized with the training mean and standard deviation (kept
in the task state) and report it on the original scale; the loss is MSE or Huber.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import Tensor

from omicsformer.errors import DataError
from omicsformer.metrics.regression import regression_metrics
from omicsformer.tasks.base import TargetInfo, pooled_as_one_test_set

if TYPE_CHECKING:
    from omicsformer.report.html import Section


class RegressionTask:
    name = "regression"
    main_metric = "r2"
    metric_names = ("r2", "rmse", "mae", "pearson", "spearman")
    lower_is_better = frozenset({"rmse", "mae"})
    default_batch_size = 8
    drops_missing = True
    linear_baseline = "ridge"

    def encode(self, obs: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, TargetInfo]:
        (column,) = columns
        values = pd.to_numeric(obs[column], errors="coerce")
        bad = values.isna() & obs[column].notna()
        if bad.any():
            shown = ", ".join(map(repr, obs[column][bad].astype(str).unique()[:5]))
            raise DataError(f"regression target {column!r} has non-numeric values: {shown}")
        y = values.to_numpy(dtype=float)
        if not np.isfinite(y).all():
            raise DataError(f"regression target {column!r} has infinite values")
        if np.std(y) == 0:
            raise DataError(f"regression target {column!r} is constant")
        return y, TargetInfo(task=self.name, columns=[column])

    def encode_like(self, obs: pd.DataFrame, info: TargetInfo) -> np.ndarray:
        return self.encode(obs, info.columns)[0]

    def strata(self, y: np.ndarray, info: TargetInfo) -> np.ndarray:
        """Quartile bins of the target, so every split covers its range."""
        edges = np.quantile(y, [0.25, 0.5, 0.75])
        return np.array([f"quartile {q + 1}" for q in np.searchsorted(edges, y, side="right")])

    def check_parts(
        self, y: np.ndarray, split: dict[str, np.ndarray], where: str = "", remedy: str = ""
    ) -> None:
        """Nothing beyond the split's own checks."""

    def fit_state(self, y_train: np.ndarray, settings: Any) -> dict[str, Any]:
        std = float(np.std(y_train)) or 1.0
        return {
            "y_mean": float(np.mean(y_train)),
            "y_std": std,
            "loss": getattr(settings, "regression_loss", "mse"),
        }

    def calibrate(
        self, state: dict[str, Any], y_train: np.ndarray, output_train: np.ndarray
    ) -> dict[str, Any]:
        return state

    def metrics(self, y: np.ndarray, output: np.ndarray, state: dict[str, Any]) -> dict[str, Any]:
        return regression_metrics(y, output)

    def epoch_metrics(self, y: np.ndarray, output: np.ndarray) -> dict[str, Any]:
        return regression_metrics(y, output)

    def prediction_columns(
        self, y: np.ndarray | None, output: np.ndarray, info: TargetInfo, state: dict[str, Any]
    ) -> dict[str, Any]:
        columns: dict[str, Any] = {}
        if y is not None:
            columns["true"] = y
        columns["predicted"] = output
        return columns

    # ------------------------------------------------------------------ scikit-learn side
    sklearn_scoring = "r2"

    def sklearn_target(self, y: np.ndarray) -> np.ndarray:
        return y

    def inner_strata(self, y: np.ndarray) -> np.ndarray | None:
        return None

    def balanced_weights(self, y: np.ndarray) -> np.ndarray | None:
        return None

    def base_map(
        self,
        weight: np.ndarray,
        bias: np.ndarray,
        info: TargetInfo,
        state: dict[str, Any],
        present: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """A prediction in target units as the standardized target the network predicts."""
        mean, std = state["y_mean"], state["y_std"]
        return weight.reshape(1, -1) / std, (np.reshape(bias, 1) - mean) / std

    def sklearn_output(self, estimator: Any, x: np.ndarray, info: TargetInfo) -> np.ndarray:
        return np.asarray(estimator.predict(x), dtype=np.float64)

    # ------------------------------------------------------------------ augmentation, plots
    def mix_targets(self, y: Tensor, partner: Tensor, lam: Tensor, n_classes: int) -> Tensor:
        lam = lam.squeeze(1).to(y.device, y.dtype)
        return lam * y + (1 - lam) * y[partner]

    def plots(self, y: np.ndarray, output: np.ndarray) -> dict[str, Any]:
        from omicsformer.report.plots import predicted_vs_observed

        return {"predicted_vs_observed.png": lambda tmp: predicted_vs_observed(y, output, tmp)}

    # ------------------------------------------------------------------ reports
    def from_prediction_columns(
        self, frame: pd.DataFrame, info: TargetInfo
    ) -> tuple[np.ndarray, np.ndarray]:
        return frame["true"].astype(float).to_numpy(), frame["predicted"].astype(float).to_numpy()

    def pooled_report(
        self, frame: pd.DataFrame, info: TargetInfo, *, seed: int = 0
    ) -> list[Section]:
        """The regression metrics need no fitted state: one test set."""
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
        """Metrics with 95% intervals; predicted against observed; residuals."""
        from omicsformer.report import plots
        from omicsformer.report.html import Figure, Section
        from omicsformer.report.intervals import task_metrics_table

        return [
            Section("Metrics", [task_metrics_table(self, y, output, state, seed=seed)]),
            Section(
                "Predictions",
                [
                    Figure.of(
                        plots.predicted_vs_observed_figure(y, output),
                        "Predicted against observed values; dotted: the identity line.",
                    ),
                    Figure.of(
                        plots.residuals_figure(y, output),
                        "Residuals against predicted values: a trend or a funnel shape shows "
                        "a bias or a spread that grows with the prediction.",
                    ),
                ],
            ),
        ]

    # ------------------------------------------------------------------ neural-network side
    def target_tensor(self, y: np.ndarray) -> Tensor:
        return torch.as_tensor(y, dtype=torch.float32)

    def loss_function(
        self, y_train: np.ndarray, info: TargetInfo, class_weight: str, state: dict[str, Any]
    ) -> Callable[[Tensor, Tensor], Tensor]:
        mean, std = state["y_mean"], state["y_std"]
        huber = state.get("loss") == "huber"

        def loss(logits: Tensor, y: Tensor) -> Tensor:
            z = (y - mean) / std  # the network predicts the standardized target
            pred = logits.float().reshape(-1)
            return F.huber_loss(pred, z) if huber else F.mse_loss(pred, z)

        return loss

    def output(self, logits: Tensor, state: dict[str, Any]) -> np.ndarray:
        return logits.reshape(-1).double().cpu().numpy() * state["y_std"] + state["y_mean"]
