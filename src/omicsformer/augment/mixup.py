"""``mixup`` (Zhang, Cisse, Dauphin, Lopez-Paz; "mixup: Beyond Empirical Risk Minimization",
ICLR 2018): convex combinations of pairs of training samples in a batch.

x' = λ x_i + (1 - λ) x_j with λ ~ Beta(alpha, alpha). Classification: across classes the label
becomes λ y_i + (1 - λ) y_j (class probabilities, which sum to one); with ``within_class`` the
partner has the same class and the label is unchanged. Regression: the targets mix the same way.
Survival: disabled, since mixing two patients' follow-up times and censoring has no valid meaning.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from omicsformer.augment.base import Augmenter
from omicsformer.config import bounded
from omicsformer.tasks import TASKS


@dataclass(frozen=True)
class MixupOptions:
    alpha: float = bounded(0.4, low=0, open_low=True)  # λ ~ Beta(alpha, alpha)
    within_class: bool = False  # partners of the same class only (labels unchanged)


class Mixup(Augmenter):
    name = "mixup"
    kind = "batch"
    tasks = ("classification", "regression")
    why_not = "mixing follow-up times and censoring of two patients has no valid meaning"
    Options = MixupOptions

    def __init__(self, options: MixupOptions) -> None:
        self.alpha, self.within_class = options.alpha, options.within_class

    def _partners(self, y: Tensor, generator: torch.Generator) -> Tensor:
        b = y.shape[0]
        order = torch.randperm(b, generator=generator)
        if not (self.within_class and self.context.n_classes):  # no classes to stay within
            return order
        labels = (y.argmax(1) if y.dim() == 2 else y).cpu()
        partner = torch.arange(b)
        for c in labels.unique():
            members = torch.nonzero(labels == c).squeeze(1)
            partner[members] = members[torch.randperm(len(members), generator=generator)]
        return partner

    def batch(
        self, x: Tensor, y: Tensor, generator: torch.Generator, rows: Tensor
    ) -> tuple[Tensor, Tensor]:
        lam = _beta(self.alpha, x.shape[0], generator)  # (B, 1)
        partner = self._partners(y, generator).to(x.device)
        lam_x = lam.to(x.device, x.dtype)
        x_mixed = lam_x * x + (1 - lam_x) * x[partner]
        if self.within_class and self.context.n_classes:
            return x_mixed, y  # the partner has the same class
        return x_mixed, TASKS.get(self.context.task).mix_targets(
            y, partner, lam, self.context.n_classes
        )


def _beta(alpha: float, n: int, generator: torch.Generator) -> Tensor:
    """Beta(alpha, alpha) draws (n, 1), seeded by ``generator`` (torch's Beta takes none)."""
    rng = np.random.default_rng(int(torch.randint(2**31 - 1, (1,), generator=generator)))
    return torch.as_tensor(rng.beta(alpha, alpha, size=(n, 1)), dtype=torch.float32)
