"""``flash``: the flash-attn package's FlashAttention-2 kernel (Dao, "FlashAttention-2: Faster
Attention with Better Parallelism and Work Partitioning", ICLR 2024) on CUDA GPUs, in fp16 / bf16.

flash-attn is an optional extra (``pip install 'omicsformer[flash]'``), built for NVIDIA GPUs of
the Ampere generation or newer; without it, or without such a GPU, choosing this backend is a
clear error when the model is built. ``sdpa`` uses a FlashAttention kernel too and needs no extra.

A key-padding mask (B, 1, 1, N) runs through ``flash_attn_varlen_func``: each row's real tokens
only, in the concatenated layout with row offsets (:mod:`omicsformer.nn.attention.varlen`), so
padded batches (``tokens=expressed`` buckets, the hybrid's unequal groups) skip their padding.
Tested on CPU with a stand-in for the package (the layout and the call); not run on a GPU here.
"""

from __future__ import annotations

import torch
from torch import Tensor

from omicsformer.errors import ConfigError, optional_import
from omicsformer.nn.attention.base import AttentionBackend, BackendInfo
from omicsformer.nn.attention.varlen import is_key_padding, unpadded


def flash_attn():
    """The flash-attn package (its ``flash_attn_func`` and ``flash_attn_varlen_func``)."""
    return optional_import("flash_attn", "flash-attn", extra="flash", feature="--attention flash")


class FlashAttention(AttentionBackend):
    info = BackendInfo(
        name="flash",
        exact=True,
        devices=("cuda",),
        dtypes=(torch.float16, torch.bfloat16),
        paper="Dao 2024, FlashAttention-2 (ICLR)",
    )

    def __init__(self) -> None:
        super().__init__()
        self.package = flash_attn()

    def _attend(self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None) -> tuple[Tensor, None]:
        if mask is not None and not is_key_padding(mask, q, k):
            raise ConfigError(
                "attention backend 'flash' supports key-padding masks (B, 1, 1, N) only"
            )
        self.check_inputs(q)
        if mask is not None:
            out = unpadded(q, k, v, mask, self.varlen)  # (B, H, N, D)
        else:  # flash-attn takes (B, N, H, D)
            out = self.package.flash_attn_func(
                q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
            )
            out = out.transpose(1, 2)  # (B, H, N, D)
        return out, None

    def check_inputs(self, q: Tensor) -> None:
        if q.device.type != "cuda" or q.dtype not in self.info.dtypes:
            raise ConfigError("attention backend 'flash' runs on CUDA in float16 or bfloat16 only")

    def varlen(self, q: Tensor, k: Tensor, v: Tensor, offsets: Tensor, longest: int) -> Tensor:
        """flash-attn's varlen kernel: (T, H, D) tokens, int32 row offsets -> (T, H, D)."""
        cu_seqlens = offsets.to(torch.int32)
        return self.package.flash_attn_varlen_func(
            q, k, v, cu_seqlens, cu_seqlens, longest, longest
        )
