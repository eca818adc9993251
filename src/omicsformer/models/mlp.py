"""``mlp``: the fully connected baseline of the AttOmics paper (Beaudé et al. 2023).

Input genes -> [Linear -> norm -> ReLU -> dropout] x len(hidden) -> Linear to the task output,
added to the base (``base``, see :mod:`omicsformer.models.residual`; the last layer starts at
zero when there is one).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any, Literal

import numpy as np
from torch import Tensor, nn

from omicsformer.config import PROBABILITY, bounded
from omicsformer.models.base import ModelContext
from omicsformer.models.neural import neural_spec
from omicsformer.models.residual import BaseOptions
from omicsformer.nn.residual import LinearBase, make_base, with_base, zero_last_layer
from omicsformer.tuning.space import Choice, Float

Norm = Literal["batch", "layer", "none"]


@dataclass
class MLPOptions(BaseOptions):
    """Hidden layer widths, dropout after each hidden layer, and the normalisation used."""

    hidden: list[int] = bounded(
        [256, 64],
        low=1,
        search=Choice(([64], [256], [256, 64], [512, 128], [128, 32])),
        help="hidden layer widths, comma-separated",
    )
    dropout: float = bounded(
        0.3, **PROBABILITY, search=Float(0.0, 0.6), help="dropout after each hidden layer"
    )
    norm: Norm = bounded("batch", help="normalisation of each hidden layer")


def fcn_layers(widths: list[int], dropout: float, norm: Norm) -> list[nn.Module]:
    """[Linear -> norm -> ReLU -> dropout] for each consecutive pair of ``widths``."""
    layers: list[nn.Module] = []
    for w_in, w_out in pairwise(widths):
        layers.append(nn.Linear(w_in, w_out, bias=norm != "batch"))  # batch norm has its own shift
        if norm == "batch":
            layers.append(nn.BatchNorm1d(w_out))
        elif norm == "layer":
            layers.append(nn.LayerNorm(w_out))
        layers += [nn.ReLU(), nn.Dropout(dropout)]
    return layers


class MLP(nn.Module):
    def __init__(
        self,
        n_inputs: int,
        hidden: list[int],
        n_outputs: int,
        dropout: float,
        norm: Norm,
        base: LinearBase | None = None,
    ):
        super().__init__()
        widths = [n_inputs, *hidden]
        self.body = nn.Sequential(*fcn_layers(widths, dropout, norm))
        self.head = nn.Linear(widths[-1], n_outputs)
        self.base = base
        if base is not None:
            zero_last_layer(self.head)

    def forward(self, x: Tensor) -> Tensor:  # (B, G) -> (B, outputs)
        return with_base(self.base, x, self.head(self.patient_embedding(x)))

    def patient_embedding(self, x: Tensor) -> Tensor:  # (B, G) -> (B, hidden[-1])
        """The last hidden layer: the patient as the output layer sees it."""
        return self.body(x)


def architecture(options: MLPOptions, context: ModelContext, x_train: np.ndarray) -> dict[str, Any]:
    return {}


def network(options: MLPOptions, context: ModelContext, arch: dict[str, Any]) -> MLP:
    n_genes, n_outputs = context.n_genes, context.target.n_outputs
    return MLP(
        n_genes,
        options.hidden,
        n_outputs,
        options.dropout,
        options.norm,
        make_base(options.base, n_genes, n_outputs),
    )


SPEC = neural_spec(
    "mlp",
    "Multilayer perceptron (the AttOmics paper's MLP baseline)",
    MLPOptions,
    architecture,
    network,
)
