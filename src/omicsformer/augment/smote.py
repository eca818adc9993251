"""``smote``: SMOTE-style interpolation between same-class neighbours (Chawla, Bowyer, Hall,
Kegelmeyer; "SMOTE: Synthetic Minority Over-sampling Technique", JAIR 2002).

Fitted on the training split: each training sample's ``k`` nearest neighbours of the same class.
In each training batch every sample is, with probability ``p``, replaced by a point on the segment
to one of its neighbours, x + λ (x_nn - x), λ ~ U(0, 1); its label is unchanged. A class with a
single training sample has no neighbour and is left as is. Classification only.

Models not trained in batches (the scikit-learn baselines) get SMOTE itself instead, from
imbalanced-learn: :meth:`Smote.sampler` is the first step of an ``imblearn.pipeline.Pipeline``,
which oversamples the rows of every fit (the training part and each inner search fold, never a
validation or test row) and is skipped at prediction time. There every class but the largest
is filled up with synthetic rows to the largest's size; ``k`` is the same, ``p`` (a batch
notion) does not apply, and every oversampled class needs ``k + 1`` rows in every fit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.neighbors import NearestNeighbors
from torch import Tensor

from omicsformer.augment.base import AugmentContext, Augmenter
from omicsformer.config import bounded
from omicsformer.errors import ConfigError


@dataclass(frozen=True)
class SmoteOptions:
    k: int = bounded(5, low=1)  # same-class neighbours to interpolate towards
    p: float = bounded(0.5, low=0, high=1)  # chance a sample is replaced in a batch


class Smote(Augmenter):
    name = "smote"
    kind = "batch"
    tasks = ("classification",)
    why_not = "it interpolates between neighbours of the same class"
    Options = SmoteOptions
    resamples = True

    def __init__(self, options: SmoteOptions) -> None:
        self.k, self.p = options.k, options.p

    def fit(self, x: np.ndarray, y: np.ndarray, context: AugmentContext) -> Smote:
        super().fit(x, y, context)
        self._x = torch.as_tensor(x, dtype=torch.float32)
        self._neighbours = np.full((len(x), self.k), -1, dtype=np.int64)  # training indices
        self._n_neighbours = np.zeros(len(x), dtype=np.int64)  # valid entries per row (<= k)
        for c in np.unique(y):
            members = np.flatnonzero(y == c)
            if len(members) < 2:
                continue
            k = min(self.k, len(members) - 1)
            nn = NearestNeighbors(n_neighbors=k + 1).fit(x[members])
            _, idx = nn.kneighbors(x[members])
            self._neighbours[members, :k] = members[idx[:, 1:]]  # drop the sample itself
            self._n_neighbours[members] = k
        return self

    def batch(
        self, x: Tensor, y: Tensor, generator: torch.Generator, rows: Tensor
    ) -> tuple[Tensor, Tensor]:
        rows = rows.cpu().numpy()
        replace = torch.rand(len(rows), generator=generator) < self.p
        # a neighbour drawn uniformly among the row's valid ones (a small class has fewer than k)
        u = torch.rand(len(rows), generator=generator).numpy()
        choice = (u * np.maximum(self._n_neighbours[rows], 1)).astype(np.int64)
        lam = torch.rand(len(rows), 1, generator=generator)
        partner = torch.as_tensor(self._neighbours[rows, choice])
        usable = replace & (partner >= 0)
        if not usable.any():
            return x, y
        out = x.clone()
        target = self._x[partner[usable]].to(x.device, x.dtype)
        out[usable] = x[usable] + lam[usable].to(x.device, x.dtype) * (target - x[usable])
        return out, y

    # ----------------------------------------------------------- estimators: imbalanced-learn
    @staticmethod
    def sampler_params(options: SmoteOptions, seed: int) -> dict[str, Any]:
        """The one mapping of ``smote``'s options to imbalanced-learn's ``SMOTE``: ``k`` ->
        ``k_neighbors``, the run's seed -> ``random_state``; every class but the largest is
        oversampled to the largest's size (``sampling_strategy="auto"``). ``p``, the chance a
        row of a training batch is replaced, has no counterpart and is refused if changed."""
        if options.p != SmoteOptions().p:
            raise ConfigError(
                f"smote: p={options.p:g} (the chance a row of a training batch is replaced) "
                "applies to neural models only; baselines oversample every class to the "
                "largest's size: drop p"
            )
        return {"k_neighbors": options.k, "sampling_strategy": "auto", "random_state": seed}

    def sampler(self) -> Any:
        from imblearn.over_sampling import SMOTE

        options = SmoteOptions(k=self.k, p=self.p)
        return SMOTE(**self.sampler_params(options, self.context.seed))

    def check_rows(self, parts: dict[str, np.ndarray]) -> None:
        """SMOTE draws ``k`` neighbours among a class's other rows, so every class it
        oversamples (all but the largest) needs ``k + 1`` rows in each fit's labels: ``parts``
        maps each fit (named for the message) to its labels. The fix offered fits them all."""
        smallest: tuple[int, int, str] | None = None  # (rows, class, where) of the worst case
        for where, y in parts.items():
            counts = np.bincount(y, minlength=self.context.n_classes)
            oversampled = np.flatnonzero((counts > 0) & (counts < counts.max()))
            for c in oversampled:
                if smallest is None or counts[c] < smallest[0]:
                    smallest = (int(counts[c]), int(c), where)
        if smallest is None or smallest[0] >= self.k + 1:
            return
        m, c, where = smallest
        name = self.context.classes[c] if self.context.classes else str(c)
        fix = f"try smote:k={m - 1}" if m > 1 else "merge or drop the class, or drop smote"
        raise ConfigError(
            f"smote: class {name!r} has {m} patient(s) in {where}, and SMOTE needs k + 1 = "
            f"{self.k + 1} of every class it oversamples: {fix}"
        )
