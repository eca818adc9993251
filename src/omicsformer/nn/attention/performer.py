"""``performer``: FAVOR+ random-feature attention (Choromanski et al., "Rethinking Attention with
Performers", ICLR 2021).

The softmax kernel exp(qᵀk/√D) is estimated without bias by positive random features
φ(x) = exp(wᵢᵀx - ‖x‖²/2) / √m with x scaled by D^(-1/4) and m rows wᵢ drawn as blocks of
orthogonal Gaussian vectors (each row rescaled to a chi-distributed norm):

    out = D⁻¹ φ(Q) (φ(K)ᵀ V),   D = diag(φ(Q) φ(K)ᵀ 1)        O(N·m·D) time, O(N·m) memory

The features are a buffer (saved with the model) and are redrawn every ``redraw_interval``
training calls (0 = never), as the paper recommends. A stabiliser subtracts the running maximum
of the exponent (per query row; over all keys) before exp; it cancels in the normalisation. The
default m = round(D·ln D) follows the paper (266 for D = 64).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from omicsformer.nn.attention.base import (
    AttentionBackend,
    BackendInfo,
    kernel_scores,
    kernel_sums,
    key_padding_multiplier,
    option,
)


@dataclass(frozen=True)
class PerformerOptions:
    features: int = option(0, "random features m; 0: the paper's D·ln D", low=0)
    redraw_interval: int = option(
        1000, "redraw the features every N training calls; 0: never", low=0
    )
    seed: int = option(0, "seed of the random features", low=0)


def orthogonal_gaussian(m: int, d: int, generator: torch.Generator | None = None) -> Tensor:
    """(m, d) rows: stacked blocks of orthonormal directions, each scaled to a chi(d) norm."""
    blocks = []
    for _ in range(math.ceil(m / d)):
        g = torch.randn(d, d, generator=generator)
        q, _ = torch.linalg.qr(g)
        blocks.append(q.T)
    w = torch.cat(blocks)[:m]
    norms = torch.randn(m, d, generator=generator).norm(dim=1)  # chi(d) like a Gaussian row
    return w * norms[:, None]


class PerformerAttention(AttentionBackend):
    info = BackendInfo(
        name="performer",
        exact=False,
        paper="Choromanski et al. 2021, Rethinking Attention with Performers (ICLR)",
        options=PerformerOptions,
        model_options={"features": "features", "redraw_interval": "redraw_interval"},
    )

    def __init__(self, head_dim: int, features: int, redraw_interval: int, seed: int) -> None:
        super().__init__()
        self.head_dim = head_dim
        self.features = features or max(1, round(head_dim * math.log(head_dim)))
        self.redraw_interval = redraw_interval
        self.generator = torch.Generator().manual_seed(seed)
        self.register_buffer(
            "projection", orthogonal_gaussian(self.features, head_dim, self.generator)
        )
        self.calls = 0

    def redraw(self) -> None:
        fresh = orthogonal_gaussian(self.features, self.head_dim, self.generator)
        self.projection.copy_(fresh.to(self.projection.device))

    def _features(self, x: Tensor, is_query: bool) -> Tensor:
        """φ(x) up to a constant factor that cancels in the normalisation: (B, H, T, m), float32.

        One (T, m) allocation: the stabilised exponent is formed and exponentiated in place
        (the matmul's backward needs x and the projection, not its output). The 1/√m factor and
        the stabiliser are constants per row (queries) or per head (keys), so they cancel.
        """
        x = x.float() * self.head_dim**-0.25
        proj = x @ self.projection.float().T  # (B, H, T, m)
        sq = (x**2).sum(dim=-1, keepdim=True) / 2  # (B, H, T, 1)
        stab = (
            proj.amax(dim=-1, keepdim=True) if is_query else proj.amax(dim=(-2, -1), keepdim=True)
        )
        return proj.sub_(sq + stab.detach()).exp_()

    def _attend(self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None) -> tuple[Tensor, None]:
        if (
            self.training
            and self.redraw_interval
            and self.calls % self.redraw_interval == 0
            and self.calls
        ):
            self.redraw()
        self.calls += int(self.training)
        q_f, k_f = self._features(q, True), self._features(k, False)  # (B, H, N, m), (B, H, M, m)
        keep = key_padding_multiplier(mask, "performer")
        numerator, normaliser = kernel_sums(q_f, k_f, v, keep)  # (B, H, N, D), (B, H, N, 1)
        out = numerator / (normaliser + 1e-12)  # (B, H, N, D)
        return out.to(v.dtype), None

    def weight_rows(self, q: Tensor, k: Tensor, rows: Tensor, mask: Tensor | None = None) -> Tensor:
        q_f, k_f = self._features(q[:, :, rows], True), self._features(k, False)
        scores = kernel_scores(q_f, k_f, key_padding_multiplier(mask, "performer"))  # (B, H, R, M)
        return scores / (scores.sum(dim=-1, keepdim=True) + 1e-12)
