"""``linformer``: low-rank attention (Wang, Li, Khabsa, Fang, Ma; "Linformer: Self-Attention with
Linear Complexity", arXiv:2006.04768, 2020).

Keys and values are projected along the token axis with learned matrices E, F of shape (k, M):
softmax(Q (E K)ᵀ / √D) (F V), costing O(N·k) instead of O(N·M). The projections are shared by the
heads ("headwise sharing" in the paper) and fix the number of tokens M: fine for a fixed gene panel.
k is capped at M (a larger rank adds nothing). With k = M and identity projections
(``init="identity"``) it is exactly softmax attention.

The implied weights of a query are softmax(q (E K)ᵀ/√D) F: a row over the M original keys that
sums to the column sums of F (1 when F is the identity or averages).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from omicsformer.errors import ConfigError
from omicsformer.nn.attention.base import (
    AttentionBackend,
    BackendInfo,
    key_padding_multiplier,
    option,
)


@dataclass(frozen=True)
class LinformerOptions:
    k: int = option(256, "rank: keys and values projected to k tokens (at most the tokens)", low=1)
    init: Literal["normal", "identity"] = option(
        "normal", "projections N(0, 1/k) as in the paper, or the identity (k = tokens: exact)"
    )


class LinformerAttention(AttentionBackend):
    info = BackendInfo(
        name="linformer",
        exact=False,
        paper="Wang et al. 2020, Linformer: Self-Attention with Linear Complexity",
        options=LinformerOptions,
        model_options={"k": "linformer_k"},
        fixed_tokens=True,
    )

    def __init__(self, n_tokens: int, k: int, init: str) -> None:
        super().__init__()
        if n_tokens < 1:
            raise ConfigError("linformer needs n_tokens >= 1")
        k = min(k, n_tokens)
        self.n_tokens, self.k = n_tokens, k
        if init == "identity":
            if k != n_tokens:
                raise ConfigError("linformer init=identity needs k equal to the number of tokens")
            e = torch.eye(n_tokens)
        else:
            e = torch.randn(k, n_tokens) / math.sqrt(k)  # the paper's N(0, 1/k) initialisation
        self.e = nn.Parameter(e)  # (k, M) projects keys
        self.f = nn.Parameter(e.clone())  # (k, M) projects values

    def _check(self, k: Tensor) -> None:
        if k.shape[-2] != self.n_tokens:
            raise ConfigError(f"linformer was built for {self.n_tokens} tokens, got {k.shape[-2]}")

    def _attend(self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None) -> tuple[Tensor, None]:
        self._check(k)
        keep = key_padding_multiplier(mask, "linformer")
        if keep is not None:  # padded keys and values are zeroed before the projection
            k, v = k * keep.to(k.dtype), v * keep.to(v.dtype)
        # One (k, M) x (M, B·H·D) product per projection: k (B, H, M, D) is a head-split view of
        # (B, M, H·D), which einsum contracts over M as one matrix, as the PyPI package does.
        k_low = torch.einsum("jm,bhmd->bhjd", self.e.to(k.dtype), k)  # (B, H, k, D)
        v_low = torch.einsum("jm,bhmd->bhjd", self.f.to(v.dtype), v)  # (B, H, k, D)
        # softmax(q k_lowᵀ/√D) v_low is exact attention over the k projected tokens: the fused
        # kernel (flash on CPU, FlashAttention / memory-efficient on CUDA) never writes the
        # (B, H, N, k) scores, their scaled copy or the softmax, which written out dominated the
        # time at gene scale (issue 16: 0.6x the time of the written-out kernel, forward+backward).
        return F.scaled_dot_product_attention(q, k_low, v_low), None  # (B, H, N, D)

    def weight_rows(self, q: Tensor, k: Tensor, rows: Tensor, mask: Tensor | None = None) -> Tensor:
        self._check(k)
        keep = key_padding_multiplier(mask, "linformer")
        k = k.float() if keep is None else k.float() * keep
        k_low = torch.einsum("jm,bhmd->bhjd", self.e.float(), k)  # (B, H, k, D)
        p = (q[:, :, rows].float() @ k_low.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(-1)
        weights = p @ self.f.float()  # (B, H, R, M)
        return weights if keep is None else weights * keep.transpose(-2, -1)
