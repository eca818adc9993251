"""``smote``: SMOTE-style interpolation between same-class neighbours (Chawla, Bowyer, Hall,
Kegelmeyer; "SMOTE: Synthetic Minority Over-sampling Technique", JAIR 2002).

Fitted on the training split: each training sample's ``k`` nearest neighbours of the same class.
In each training batch every sample is, with probability ``p``, replaced by a point on the segment
to one of its neighbours, x + λ (x_nn - x), λ ~ U(0, 1); its label is unchanged. A class with a
single training sample has no neighbour and is left as is. Classification only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from sklearn.neighbors import NearestNeighbors
from torch import Tensor

from omicsformer.augment.base import AugmentContext, Augmenter
from omicsformer.config import bounded


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
