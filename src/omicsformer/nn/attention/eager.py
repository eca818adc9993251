"""``eager``: attention written out, softmax(QKᵀ/√D)V (Vaswani et al., "Attention Is All You
Need", NeurIPS 2017).

It materialises the (B, H, N, M) score matrix, so its memory grows as N·M: the reference that
every other backend is tested against, and the memory baseline of the benchmark. A structured
(gene-set) mask is written out as a dense boolean (N, M) mask too.
"""

from __future__ import annotations

import math

from torch import Tensor

from omicsformer.nn.attention.base import AttentionBackend, BackendInfo
from omicsformer.nn.attention.masks import StructuredMask


class EagerAttention(AttentionBackend):
    info = BackendInfo(
        name="eager",
        exact=True,
        supports_mask=True,
        returns_weights=True,
        paper="Vaswani et al. 2017, Attention Is All You Need",
    )

    def _attend(
        self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | StructuredMask | None
    ) -> tuple[Tensor, Tensor]:
        if isinstance(mask, StructuredMask):  # the reference writes every mask out
            mask = mask.dense(q.shape[0])  # (B or 1, 1, N, M)
        scale = 1.0 / math.sqrt(q.shape[-1])
        scores = (q @ k.transpose(-2, -1)) * scale  # (B, H, N, M)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        weights = scores.softmax(dim=-1)  # (B, H, N, M)
        out = weights @ v  # (B, H, N, D)
        return out, weights
