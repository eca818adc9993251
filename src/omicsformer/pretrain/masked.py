"""Masked expression modelling: hide a share of each patient's genes, reconstruct them.

Notation: B batch, G genes, E width.

A network that can be pretrained offers two methods:

- ``pretraining_head() -> nn.Module``: a small module mapping its internal states to one value
  per gene (not part of the classifier; dropped after pretraining);
- ``reconstruct(x, hide, head) -> (B, G)``: the reconstruction of every gene from ``x`` with
  the genes of ``hide`` hidden (the gene-token models replace their value by a learned mask
  vector; AttOmics sees a zero, the standardized mean).

:class:`MaskedExpression` wraps such a network for the training loop of
:mod:`omicsformer.train.engine`: its "logits" pack the reconstruction with the weight of each
position in the loss, and :func:`masked_mse` is the loss. The loss counts hidden genes that were
measured only: a gene a cohort did not measure is NaN in the input, always hidden, never scored.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class MaskedExpression(nn.Module):
    """``network`` with its pretraining head, hiding ``fraction`` of the measured genes.

    In training mode the hidden genes are drawn from torch's global generator (which the loop
    seeds by seed and epoch); in evaluation mode from a fixed generator, so that the validation
    loss of two epochs compares the same task.
    """

    def __init__(self, network: nn.Module, fraction: float) -> None:
        super().__init__()
        self.network = network
        self.head = network.pretraining_head()
        self.fraction = fraction

    def forward(self, x: Tensor) -> Tensor:  # (B, G) with NaN = not measured -> (B, G, 2)
        measured = ~torch.isnan(x)
        if self.training:
            draw = torch.rand(x.shape, device=x.device)
        else:
            generator = torch.Generator(device=x.device).manual_seed(20_231_107)
            draw = torch.rand(x.shape, generator=generator, device=x.device)
        hidden = (draw < self.fraction) & measured  # scored
        hide = hidden | ~measured  # not shown to the network
        prediction = self.network.reconstruct(torch.nan_to_num(x), hide, self.head)  # (B, G)
        return torch.stack([prediction, hidden.to(prediction.dtype)], dim=-1)


def masked_mse(packed: Tensor, target: Tensor) -> Tensor:
    """Mean squared error over the hidden, measured genes: ``packed`` (B, G, 2) from
    :class:`MaskedExpression`, ``target`` (B, G) the standardized values (NaN = not measured)."""
    prediction, weight = packed[..., 0].float(), packed[..., 1].float()
    error = (prediction - torch.nan_to_num(target.float())) ** 2
    return (error * weight).sum() / weight.sum().clamp(min=1.0)
