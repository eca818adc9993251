"""Variable-length ("unpadded") self-attention: a key-padding mask's padding is skipped, not masked.

Notation as in :mod:`omicsformer.nn.attention.base`, plus T the real tokens of all rows together.

A batch of rows padded to N tokens, with a key-padding mask (B, 1, 1, N) that marks each row's
real tokens (queries and keys alike: self-attention), becomes the layout of FlashAttention's
varlen kernels: the real tokens of all rows concatenated, (T, H, D), and the row offsets
``cu_seqlens`` (B + 1,). A kernel attends within each row of that layout; :func:`unpadded`
gathers the tokens, runs it and scatters the outputs back (zeros at the padded queries, which
nothing reads). The ``sdpa`` backend's kernel is SDPA on a nested jagged tensor, the ``flash``
backend's is flash-attn's ``flash_attn_varlen_func``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

# (q, k, v (T, H, D), cu_seqlens (B + 1,) int64, longest row) -> (T, H, D)
VarlenKernel = Callable[[Tensor, Tensor, Tensor, Tensor, int], Tensor]


def is_key_padding(mask: Tensor | None, q: Tensor, k: Tensor) -> bool:
    """A boolean key-padding mask (B, 1, 1, N) of self-attention (as many queries as keys)."""
    return (
        isinstance(mask, Tensor)
        and mask.dtype == torch.bool
        and mask.dim() == 4
        and mask.shape[1] == mask.shape[2] == 1
        and mask.shape[0] == q.shape[0]
        and q.shape[-2] == k.shape[-2] == mask.shape[-1]
    )


def unpadded(q: Tensor, k: Tensor, v: Tensor, mask: Tensor, kernel: VarlenKernel) -> Tensor:
    """``kernel`` over the real tokens of each row only: q, k, v (B, H, N, D) and a key-padding
    ``mask`` (B, 1, 1, N) -> (B, H, N, D), zero at the padded queries."""
    keep = mask[:, 0, 0, :]  # (B, N)
    lengths = keep.sum(dim=1)  # (B,)
    offsets = F.pad(lengths.cumsum(0), (1, 0))  # (B + 1,) row starts among the T tokens
    tokens = [t.transpose(1, 2)[keep] for t in (q, k, v)]  # 3 x (T, H, D), rows in order
    out = kernel(*tokens, offsets, int(lengths.max()) if len(lengths) else 0)  # (T, H, D)
    b, h, n, d = q.shape
    full = out.new_zeros(b, n, h, d)
    full[keep] = out
    return full.transpose(1, 2)  # (B, H, N, D)
