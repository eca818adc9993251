"""``sdpa``: :func:`torch.nn.functional.scaled_dot_product_attention`.

PyTorch dispatches to an IO-aware kernel that never writes the (N, M) score matrix to memory:
FlashAttention-2 (Dao 2023), memory-efficient attention (Rabe & Staats 2021, xFormers) or cuDNN on
GPU, and a flash-style kernel on CPU; it falls back to the math path otherwise. ``kernel`` pins one
implementation (``flash``, ``efficient``, ``cudnn``, ``math``); ``auto`` lets PyTorch choose.

Weights are never returned by the kernel; when asked for they are recomputed exactly for the
requested rows (see :meth:`MultiHeadAttention.attention_rows`).

A structured (gene-set) mask is not written out: :func:`~omicsformer.nn.attention.masks.
masked_attention` runs it (FlexAttention on CUDA, query chunks through the CPU flash kernel on
CPU), so ``kernel`` must stay ``auto`` then (checked when the model is built).
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass
from typing import Literal

import torch.nn.functional as F
from torch import Tensor
from torch.nn.attention import SDPBackend, sdpa_kernel

from omicsformer.errors import ConfigError
from omicsformer.nn.attention.base import ALL_FLOATS, AttentionBackend, BackendInfo, option
from omicsformer.nn.attention.masks import StructuredMask, masked_attention

KERNELS = {
    "flash": SDPBackend.FLASH_ATTENTION,
    "efficient": SDPBackend.EFFICIENT_ATTENTION,
    "cudnn": SDPBackend.CUDNN_ATTENTION,
    "math": SDPBackend.MATH,
}
Kernel = Literal[("auto", *KERNELS)]  # auto lets PyTorch choose


@dataclass(frozen=True)
class SdpaOptions:
    kernel: Kernel = option(
        "auto", "pin one SDPA implementation (flash, efficient, cudnn, math); auto: PyTorch picks"
    )


class SDPAttention(AttentionBackend):
    info = BackendInfo(
        name="sdpa",
        exact=True,
        supports_mask=True,
        devices=("cpu", "cuda"),
        dtypes=ALL_FLOATS,
        returns_weights=False,
        key_padding=True,
        paper="Dao 2023 (FlashAttention-2); Rabe & Staats 2021 (attention in O(√n) memory)",
        options=SdpaOptions,
        model_options={"kernel": "sdpa_kernel"},
    )

    def __init__(self, kernel: str) -> None:
        super().__init__()
        self.kernel = kernel

    @classmethod
    def check_options(cls, options: SdpaOptions, *, masked: bool) -> None:
        if masked and options.kernel != "auto":
            name = cls.info.model_options["kernel"]
            raise ConfigError(
                f"a gene-set mask runs its own masked kernels; {name}={options.kernel} cannot be "
                "combined with it (leave it auto)"
            )

    def forward(
        self,
        q: Tensor,
        k: Tensor,
        v: Tensor,
        *,
        mask: Tensor | StructuredMask | None = None,
        need_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        if isinstance(mask, StructuredMask):
            out = masked_attention(q, k, v, mask)  # (B, H, N, D)
            return out, (self.all_weights(q, k, mask) if need_weights else None)
        pinned = sdpa_kernel([KERNELS[self.kernel]]) if self.kernel != "auto" else nullcontext()
        with pinned:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, H, N, D)
        return out, (self.all_weights(q, k, mask) if need_weights else None)
