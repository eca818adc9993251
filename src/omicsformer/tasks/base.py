"""The contract every task implements."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd


@dataclass
class TargetInfo:
    """What a model needs to know about the target, saved with the model.

    ``columns`` are the obs columns the target came from; ``classes`` the class names in code
    order (classification only).
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
    main_metric: str  # the metric used for model selection and summaries; higher is better
    metric_names: tuple[str, ...]

    def encode(self, obs: pd.DataFrame, columns: list[str]) -> tuple[np.ndarray, TargetInfo]:
        """Targets from the clinical table: (encoded array, info)."""
        ...

    def encode_like(self, obs: pd.DataFrame, info: TargetInfo) -> np.ndarray:
        """Encode new data's targets consistently with a trained model's ``info``."""
        ...

    def strata(self, y: np.ndarray, info: TargetInfo) -> np.ndarray:
        """Readable labels the splits are stratified on (named in split errors)."""
        ...

    def metrics(self, y: np.ndarray, output: np.ndarray) -> dict[str, Any]: ...

    def prediction_columns(
        self, y: np.ndarray | None, output: np.ndarray, info: TargetInfo
    ) -> dict[str, Any]:
        """Columns for predictions.csv (besides sample_id and split)."""
        ...
