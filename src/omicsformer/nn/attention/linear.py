"""``linear``: linear attention with the feature map φ(x) = elu(x) + 1 (Katharopoulos, Vyas,
Pappas, Fleuret; "Transformers are RNNs: Fast Autoregressive Transformers with Linear Attention",
ICML 2020).

    out_i = φ(q_i)ᵀ (Σ_j φ(k_j) v_jᵀ) / φ(q_i)ᵀ (Σ_j φ(k_j))          O(N·D²)

It replaces the softmax kernel by a different (positive) one, so it is not an approximation that
converges to softmax attention; it is the cheapest member of the kernel family.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from omicsformer.nn.attention.base import AttentionBackend, BackendInfo, key_padding_multiplier


def feature_map(x: Tensor) -> Tensor:
    return F.elu(x.float()) + 1.0


class LinearAttention(AttentionBackend):
    info = BackendInfo(
        name="linear",
        exact=False,
        supports_mask=False,
        devices=("cpu", "cuda"),
        dtypes=(torch.float32, torch.float16, torch.bfloat16),
        returns_weights=False,
        paper="Katharopoulos et al. 2020, Transformers are RNNs (ICML)",
        key_padding=True,
    )

    def forward(
        self,
        q: Tensor,
        k: Tensor,
        v: Tensor,
        *,
        mask: Tensor | None = None,
        need_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        q_f, k_f = feature_map(q), feature_map(k)  # (B, H, N, D), (B, H, M, D)
        keep = key_padding_multiplier(mask, "linear")
        if keep is not None:
            k_f = k_f * keep  # padded keys contribute nothing
        kv = k_f.transpose(-2, -1) @ v.float()  # (B, H, D, D)
        normaliser = q_f @ k_f.sum(dim=-2, keepdim=True).transpose(-2, -1)  # (B, H, N, 1)
        out = (q_f @ kv) / normaliser.clamp(min=1e-6)
        return out.to(v.dtype), (self.all_weights(q, k, mask) if need_weights else None)

    def weight_rows(self, q: Tensor, k: Tensor, rows: Tensor, mask: Tensor | None = None) -> Tensor:
        scores = feature_map(q[:, :, rows]) @ feature_map(k).transpose(-2, -1)  # (B, H, R, M)
        keep = key_padding_multiplier(mask, "linear")
        if keep is not None:
            scores = scores * keep.transpose(-2, -1)
        return scores / scores.sum(dim=-1, keepdim=True)
