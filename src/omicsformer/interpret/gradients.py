"""Gradient-based attributions (captum) and gradient-based gene-pair interactions.

Notation: B samples, G genes, P gene pairs. ``x`` is the preprocessed input (z-scores), so the
all-zero baseline is the average training patient.

- Integrated gradients (Sundararajan et al. 2017) and gradient x input come from captum. IG is
  *complete*: the attributions of a sample sum to f(x) - f(baseline) (checked in the tests).
- :func:`hessian_interactions`: the second-order term of the Taylor expansion of f around the
  baseline, x_a x_b ∂²f/∂x_a∂x_b: how much genes a and b act *together*, beyond their separate
  effects. Columns of the Hessian come from Hessian-vector products, one per distinct gene in the
  pairs, never the G x G Hessian. It is zero for networks that are piecewise linear in the input
  (a ReLU MLP): such networks have no second derivative to read.
- :func:`occlusion_interactions`: the model-agnostic discrete version, f(x) - f(x without a) -
  f(x without b) + f(x without a and b) (genes set to the baseline), the pairwise
  Shapley-Taylor interaction at a zero baseline; it works for any network.

``f`` is the logit of the target class (classification: the predicted class unless given), the
risk (survival) or the predicted value (regression).
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import torch
from torch import Tensor, nn

from omicsformer.errors import optional_import


def _captum():
    return optional_import(
        "captum.attr", "captum", extra="interpret", feature="gradient attributions"
    )


@contextmanager
def differentiable_attention():
    """Run SDPA on its math path, which supports the double backward that Hessians need."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    with sdpa_kernel([SDPBackend.MATH]):
        yield


def scalar_output(module: nn.Module, x: Tensor, target: Tensor | None) -> Tensor:
    """f(x) per sample (B,): the target logit, or the single output of survival / regression."""
    out = module(x)  # (B, C)
    if out.shape[1] == 1:
        return out[:, 0]
    return out.gather(1, target.view(-1, 1)).squeeze(1)


def targets_for(module: nn.Module, x: Tensor, target: Tensor | None = None) -> Tensor | None:
    """The class each sample is explained for: ``target``, else the predicted class."""
    with torch.no_grad():
        out = module(x)
    if out.shape[1] == 1:
        return None
    return target if target is not None else out.argmax(dim=1)


def integrated_gradients(
    module: nn.Module,
    x: Tensor,
    target: Tensor | None,
    steps: int = 32,
    batch: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """IG attributions (B, G) from the zero baseline, and captum's completeness error (B,).

    The B x ``steps`` interpolated inputs go through the network ``batch`` rows at a time
    (captum's ``internal_batch_size``; default: all at once)."""
    attr = _captum()
    module.eval()
    ig = attr.IntegratedGradients(module)
    kwargs = {"target": target} if target is not None else {"target": 0}
    attributions, delta = ig.attribute(
        x,
        baselines=torch.zeros_like(x),
        n_steps=steps,
        return_convergence_delta=True,
        internal_batch_size=batch,
        **kwargs,
    )
    return attributions.detach().cpu().numpy(), delta.detach().cpu().numpy()


def gradient_x_input(module: nn.Module, x: Tensor, target: Tensor | None) -> np.ndarray:
    """Gradient x input attributions (B, G)."""
    attr = _captum()
    module.eval()
    kwargs = {"target": target} if target is not None else {"target": 0}
    inputs = x.clone().requires_grad_(True)
    return attr.InputXGradient(module).attribute(inputs, **kwargs).detach().cpu().numpy()


def hessian_interactions(
    module: nn.Module, x: Tensor, target: Tensor | None, pairs: np.ndarray
) -> np.ndarray:
    """x_a x_b ∂²f/∂x_a∂x_b for gene-index pairs (P, 2): (B, P)."""
    module.eval()
    x = x.clone().requires_grad_(True)
    with differentiable_attention():
        f = scalar_output(module, x, target).sum()
        (grad,) = torch.autograd.grad(f, x, create_graph=True)  # (B, G)
        columns = {}
        for b in np.unique(pairs[:, 1]).tolist():
            (column,) = torch.autograd.grad(grad[:, b].sum(), x, retain_graph=True)  # H[:, :, b]
            columns[b] = column.detach()
    xd = x.detach()
    scores = [xd[:, a] * xd[:, b] * columns[b][:, a] for a, b in pairs.tolist()]
    return torch.stack(scores, dim=1).cpu().numpy()


@torch.no_grad()
def occlusion_interactions(
    module: nn.Module, x: Tensor, target: Tensor | None, pairs: np.ndarray, batch: int = 64
) -> np.ndarray:
    """f(x) - f(x¬a) - f(x¬b) + f(x¬a¬b) with genes set to the zero baseline: (B, P).

    Each forward pass takes 3 x ``batch`` occluded copies of one sample."""
    module.eval()
    base = scalar_output(module, x, target)  # (B,)
    scores = np.zeros((x.shape[0], len(pairs)))
    for start in range(0, len(pairs), batch):
        part = pairs[start : start + batch]
        for i in range(x.shape[0]):
            sample = x[i : i + 1].expand(3 * len(part), -1).clone()  # (3P, G)
            rows = torch.arange(len(part))
            sample[rows, part[:, 0]] = 0.0
            sample[rows + len(part), part[:, 1]] = 0.0
            sample[rows + 2 * len(part), part[:, 0]] = 0.0
            sample[rows + 2 * len(part), part[:, 1]] = 0.0
            t = None if target is None else target[i].expand(3 * len(part))
            f = scalar_output(module, sample, t).view(3, len(part))
            scores[i, start : start + len(part)] = (base[i] - f[0] - f[1] + f[2]).cpu().numpy()
    return scores
