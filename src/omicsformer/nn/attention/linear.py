"""``linear``: linear attention with the feature map φ(x) = elu(x) + 1 (Katharopoulos, Vyas,
Pappas, Fleuret; "Transformers are RNNs: Fast Autoregressive Transformers with Linear Attention",
ICML 2020).

    out_i = φ(q_i)ᵀ (Σ_j φ(k_j) v_jᵀ) / φ(q_i)ᵀ (Σ_j φ(k_j))          O(N·D²)

It replaces the softmax kernel by a different (positive) one, so it is not an approximation that
converges to softmax attention; it is the cheapest member of the kernel family.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from omicsformer.nn.attention.base import (
    AttentionBackend,
    BackendInfo,
    kernel_scores,
    kernel_sums,
    key_padding_multiplier,
)


def feature_map(x: Tensor) -> Tensor:
    return F.elu(x.float()) + 1.0


class LinearAttention(AttentionBackend):
    info = BackendInfo(
        name="linear",
        exact=False,
        paper="Katharopoulos et al. 2020, Transformers are RNNs (ICML)",
    )

    def _attend(self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None) -> tuple[Tensor, None]:
        q_f, k_f = feature_map(q), feature_map(k)  # (B, H, N, D), (B, H, M, D)
        numerator, normaliser = kernel_sums(q_f, k_f, v, key_padding_multiplier(mask, "linear"))
        out = numerator / normaliser.clamp(min=1e-6)  # (B, H, N, D)
        return out.to(v.dtype), None

    def weight_rows(self, q: Tensor, k: Tensor, rows: Tensor, mask: Tensor | None = None) -> Tensor:
        keep = key_padding_multiplier(mask, "linear")
        scores = kernel_scores(feature_map(q[:, :, rows]), feature_map(k), keep)  # (B, H, R, M)
        return scores / scores.sum(dim=-1, keepdim=True)
