"""``flash``: the flash-attn package's FlashAttention-2 kernel (Dao, "FlashAttention-2: Faster
Attention with Better Parallelism and Work Partitioning", ICLR 2024) on CUDA GPUs, in fp16 / bf16.

flash-attn is an optional extra (``pip install 'omicsformer[flash]'``), built for NVIDIA GPUs of
the Ampere generation or newer; without it, or without such a GPU, choosing this backend is a
clear error when the model is built. ``sdpa`` uses a FlashAttention kernel too and needs no extra.
"""

from __future__ import annotations

import torch
from torch import Tensor

from omicsformer.errors import ConfigError, MissingDependencyError
from omicsformer.nn.attention.base import AttentionBackend, BackendInfo


def flash_attn_func():
    try:
        from flash_attn import flash_attn_func as func
    except ImportError:
        raise MissingDependencyError(
            "flash-attn", extra="flash", feature="--attention flash"
        ) from None
    return func


class FlashAttention(AttentionBackend):
    info = BackendInfo(
        name="flash",
        exact=True,
        supports_mask=False,
        devices=("cuda",),
        dtypes=(torch.float16, torch.bfloat16),
        returns_weights=False,
        paper="Dao 2024, FlashAttention-2 (ICLR)",
    )

    def __init__(self) -> None:
        super().__init__()
        self.func = flash_attn_func()

    def forward(
        self,
        q: Tensor,
        k: Tensor,
        v: Tensor,
        *,
        mask: Tensor | None = None,
        need_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        if mask is not None:
            raise ConfigError("attention backend 'flash' does not support attention masks")
        if q.device.type != "cuda" or q.dtype not in self.info.dtypes:
            raise ConfigError("attention backend 'flash' runs on CUDA in float16 or bfloat16 only")
        # flash-attn takes (B, N, H, D)
        out = self.func(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        out = out.transpose(1, 2)  # (B, H, N, D)
        return out, (self.all_weights(q, k) if need_weights else None)
