"""A network that starts as its linear base and learns what the base misses.

Notation: B batch, G genes, C outputs (logits, a log hazard ratio, or a standardized value).

    prediction(x) = base(x) + r(x)          (B, C)

- :class:`LinearBase` is ``base(x) = x Wᵀ + b``, either fixed (``fitted``: W and b are buffers,
  set once from a penalised linear model fitted on the training patients) or trained with the
  rest (``linear``: an ``nn.Linear`` over every gene, started at zero);
- ``r`` is the network's own path; its last layer starts at zero (:func:`zero_last_layer`), so
  the untrained network predicts exactly its base and the gradient first reaches the residual
  through that layer.

This is the residual-on-a-base recipe of boosting and of "wide & deep" models; the zero start of
the last layer is what ReZero (Bachlechner et al. 2020) and LayerScale (Touvron et al. 2021, CaiT)
do for each block's residual branch (see :class:`omicsformer.nn.blocks.TransformerBlock`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class LinearBase(nn.Module):
    """``x Wᵀ + b`` over every gene: fixed (``fitted``) or trained (``linear``)."""

    def __init__(self, kind: str, n_genes: int, n_outputs: int) -> None:
        super().__init__()
        if kind not in ("fitted", "linear"):
            raise ValueError(f"unknown base {kind!r}")
        self.kind = kind
        if kind == "linear":
            self.linear = nn.Linear(n_genes, n_outputs)
            nn.init.zeros_(self.linear.weight)
            nn.init.zeros_(self.linear.bias)
        else:  # set by set_fitted; buffers: saved with the weights, never trained
            self.register_buffer("weight", torch.zeros(n_outputs, n_genes))  # (C, G)
            self.register_buffer("bias", torch.zeros(n_outputs))  # (C,)

    def set_fitted(self, weight: Tensor, bias: Tensor) -> None:
        """The fixed map of a fitted linear model: ``weight`` (C, G), ``bias`` (C,)."""
        if self.kind != "fitted":
            raise ValueError("only a fitted base takes fixed weights")
        self.weight.copy_(weight)
        self.bias.copy_(bias)

    def forward(self, x: Tensor) -> Tensor:  # (B, G) -> (B, C)
        if self.kind == "linear":
            return self.linear(x)
        return nn.functional.linear(x, self.weight.to(x.dtype), self.bias.to(x.dtype))


def make_base(kind: str, n_genes: int, n_outputs: int) -> LinearBase | None:
    """The base path of option ``base`` (None for ``none``)."""
    return None if kind == "none" else LinearBase(kind, n_genes, n_outputs)


def zero_last_layer(head: nn.Module) -> None:
    """Start the last ``nn.Linear`` of ``head`` (the residual's output layer) at zero."""
    linears = [m for m in head.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError("the head has no linear layer to start at zero")
    nn.init.zeros_(linears[-1].weight)
    if linears[-1].bias is not None:
        nn.init.zeros_(linears[-1].bias)


def with_base(base: LinearBase | None, x: Tensor, residual: Tensor) -> Tensor:
    """``base(x) + residual`` (just ``residual`` without a base): (B, C)."""
    return residual if base is None else base(x).to(residual.dtype) + residual
