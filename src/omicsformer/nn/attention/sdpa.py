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

``varlen`` runs a key-padding mask (B, 1, 1, N) of self-attention as variable-length attention
(:mod:`omicsformer.nn.attention.varlen`): the real tokens of every row become one nested jagged
tensor (``torch.nested``, ``layout=torch.jagged``: the concatenated tokens plus row offsets,
FlashAttention's ``cu_seqlens`` layout), SDPA runs on it, and the outputs go back to their
places (padded queries get zeros; nothing reads them). On CUDA PyTorch dispatches jagged SDPA to
its FlashAttention-2 and memory-efficient varlen kernels, which skip the padding instead of
masking it; that is what the option is for, and ``omicsformer bench gpu`` measures it
(``varlen`` rows). It was not measured on a GPU in this project. On CPU jagged SDPA takes the
math path, one row at a time: 3.4x slower than the masked fused CPU kernel in a forward +
backward of 8 rows of 1,000-2,000 tokens (4 heads of 16, one thread), so it stays off by
default; it is exact on both (tested on CPU against the masked kernel, outputs and gradients).
Every row must have at least one real token.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn.attention import SDPBackend, sdpa_kernel

from omicsformer.errors import ConfigError
from omicsformer.nn.attention.base import AttentionBackend, BackendInfo, option
from omicsformer.nn.attention.masks import StructuredMask, masked_attention
from omicsformer.nn.attention.varlen import is_key_padding, unpadded

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
    varlen: bool = option(
        False,
        "key-padding masks run as variable-length attention (nested jagged tensors: padding "
        "skipped, not masked; meant for CUDA's varlen kernels, slower on CPU)",
    )


class SDPAttention(AttentionBackend):
    info = BackendInfo(
        name="sdpa",
        exact=True,
        supports_mask=True,
        paper="Dao 2023 (FlashAttention-2); Rabe & Staats 2021 (attention in O(√n) memory)",
        options=SdpaOptions,
        model_options={"kernel": "sdpa_kernel", "varlen": "sdpa_varlen"},
    )

    def __init__(self, kernel: str, varlen: bool) -> None:
        super().__init__()
        self.kernel, self.varlen = kernel, varlen

    @classmethod
    def check_options(cls, options: SdpaOptions, *, masked: bool) -> None:
        if masked and options.kernel != "auto":
            name = cls.info.model_options["kernel"]
            raise ConfigError(
                f"a gene-set mask runs its own masked kernels; {name}={options.kernel} cannot be "
                "combined with it (leave it auto)"
            )

    def _attend(
        self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | StructuredMask | None
    ) -> tuple[Tensor, None]:
        if isinstance(mask, StructuredMask):
            return masked_attention(q, k, v, mask), None  # (B, H, N, D)
        pinned = sdpa_kernel([KERNELS[self.kernel]]) if self.kernel != "auto" else nullcontext()
        with pinned:
            if self.varlen and is_key_padding(mask, q, k):
                out = unpadded(q, k, v, mask, jagged_sdpa)  # (B, H, N, D)
            else:
                out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)  # (B, H, N, D)
        return out, None


@contextmanager
def quiet_nested_tensors() -> Iterator[None]:
    """Silence what PyTorch 2.13 prints on a run's first jagged SDPA call, which is not about
    the user's run: a prototype warning (the CPU math path builds a strided nested tensor
    inside) and a one-time fx notice (is_fx_tracing) logged from the nested-tensor code."""
    log = logging.getLogger("torch.fx._symbolic_trace")
    level = log.level
    log.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "The PyTorch API of nested tensors", UserWarning)
            yield
    finally:
        log.setLevel(level)


def jagged_sdpa(q: Tensor, k: Tensor, v: Tensor, offsets: Tensor, longest: int) -> Tensor:
    """The varlen kernel of ``sdpa`` (see :mod:`omicsformer.nn.attention.varlen`): SDPA on nested
    jagged tensors built from the concatenated tokens (T, H, D) and the row offsets."""

    def jagged(t: Tensor) -> Tensor:  # (T, H, D) -> (B, H, j, D), j the ragged dimension
        return torch.nested.nested_tensor_from_jagged(t, offsets).transpose(1, 2)

    with quiet_nested_tensors():
        out = F.scaled_dot_product_attention(jagged(q), jagged(k), jagged(v))  # (B, H, j, D)
    return out.transpose(1, 2).values()  # (T, H, D)
