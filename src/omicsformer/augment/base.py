"""The augmentation contract.

An augmenter is fitted on the training split only (``fit``), then either

- transforms each training batch inside the training loop (``batch``, for neural models), or
- adds synthetic patients to the training set once, before training (``expand``, any model).

A batch augmenter may also offer a form for models not trained in batches (the scikit-learn
baselines): ``sampler()``, an imbalanced-learn sampler that an ``imblearn.pipeline.Pipeline``
runs on the rows of every fit of the estimator (each training fold and each inner search fold)
and skips at prediction time (``smote``).

Validation and test data never pass through an augmenter: the loop calls ``batch`` on training
batches only, and ``expand`` only ever receives the training arrays.

Notation: B batch, G genes, C classes. Targets ``y`` are the task's tensors: class codes (B,) or,
after a mixing augmentation, class probabilities (B, C); values (B,) for regression; (B, 2)
time/event for survival.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from omicsformer.errors import ConfigError


@dataclass
class AugmentContext:
    """What an augmenter may know: the task, classes, and preprocessing (per-gene scale)."""

    task: str
    n_classes: int
    seed: int
    gene_scale: np.ndarray | None = None  # training SD per gene of the transformed data
    log_base: float | None = None  # base of the log the expression is in (None: unknown)
    classes: tuple[str, ...] = ()  # class names in code order (classification), for messages
    device: str = "cpu"  # where a generator trains ("cuda" when the run trains on a GPU)
    progress: bool = False  # a generator prints a progress line while it trains


class Augmenter:
    """Base class. Subclasses set ``name``, ``kind`` ("batch" or "dataset"), ``tasks``, and
    ``Options``, the dataclass of their parameters (defaults and ranges, declared once), which
    their constructor takes. ``kind`` is a class attribute, so it is known without building."""

    name: ClassVar[str]
    kind: ClassVar[str]
    Options: ClassVar[type]
    tasks: ClassVar[tuple[str, ...]] = ("classification", "survival", "regression")
    why_not: ClassVar[str] = ""
    resamples: ClassVar[bool] = False  # offers sampler() for models not trained in batches
    # a generator (cvae, wgan): after fit, class_counts() -> {condition: n} and
    # sample(counts, seed) -> (x (n, G) float32, targets in the task's form); expand adds those
    synthesizes: ClassVar[bool] = False

    def check(self, context: AugmentContext) -> None:
        if context.task not in self.tasks:
            reason = f": {self.why_not}" if self.why_not else ""
            raise ConfigError(
                f"augmentation {self.name!r} is not available for {context.task}{reason}"
            )

    def fit(self, x: np.ndarray, y: np.ndarray, context: AugmentContext) -> Augmenter:
        """Learn from the training split only; returns self."""
        self.check(context)
        self.context = context
        return self

    def batch(
        self, x: Tensor, y: Tensor, generator: torch.Generator, rows: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Transform one training batch; ``rows`` are the batch's positions in the training set."""
        raise NotImplementedError

    def expand(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    @staticmethod
    def sampler_params(options: Any, seed: int) -> dict[str, Any]:
        """The sampler's parameters from the augmenter's typed options (``resamples`` only);
        a ConfigError for an option that has no meaning there. Checked before data is read."""
        raise NotImplementedError

    def sampler(self) -> Any:
        """An imbalanced-learn sampler doing this augmentation on the rows an estimator is fitted
        on (``resamples`` augmenters only; after :meth:`prepare`)."""
        raise NotImplementedError

    def prepare(self, context: AugmentContext) -> Augmenter:
        """Ready a ``resamples`` augmenter for estimator fits, which resample their own rows
        (nothing is learned here: the sampler is fitted inside every fit); returns self."""
        self.check(context)
        self.context = context
        return self

    def check_rows(self, parts: dict[str, np.ndarray]) -> None:
        """Raise a ConfigError if the sampler cannot resample the rows of every fit: ``parts``
        maps each fit (named for the message) to its training labels."""

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            **{k: v for k, v in vars(self).items() if k != "context" and not k.startswith("_")},
        }


def one_hot(y: Tensor, n_classes: int) -> Tensor:
    """Class codes (B,) -> probabilities (B, C); probabilities pass through."""
    if y.dim() == 2:
        return y.float()
    return torch.nn.functional.one_hot(y.long(), n_classes).float()
