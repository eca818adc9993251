"""Transformer building blocks for gene tokens.

Notation: B batch, N tokens, E width, H heads.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint

from omicsformer.nn.attention.masks import StructuredMask
from omicsformer.nn.mha import MultiHeadAttention
from omicsformer.nn.settings import AttentionSettings


class FeedForward(nn.Module):
    """Linear -> GELU -> Linear, optionally over ``chunk`` tokens at a time.

    Chunking bounds the (B, chunk, mult·E) intermediate; during training it saves memory when
    combined with activation checkpointing (otherwise autograd keeps every chunk anyway).
    """

    def __init__(self, dim: int, mult: int, dropout: float, chunk: int = 0) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(dim, dim * mult), nn.GELU(), nn.Dropout(dropout), nn.Linear(dim * mult, dim)
        )
        self.chunk = chunk

    def forward(self, x: Tensor) -> Tensor:  # (B, N, E)
        if self.chunk <= 0 or x.shape[1] <= self.chunk:
            return self.net(x)
        return torch.cat([self.net(part) for part in x.split(self.chunk, dim=1)], dim=1)


class TransformerBlock(nn.Module):
    """Pre-norm block: x + g1 ⊙ Attn(LN(x)), then x + g2 ⊙ FFN(LN(x)).

    ``layer_scale`` None: no gates (g = 1). A number: g1 and g2 are learned per-channel gates
    started at that value (LayerScale, Touvron et al. 2021); at 0 the block starts as the
    identity (as ReZero, Bachlechner et al. 2020), so a deep stack starts as its input and each
    branch opens only as far as training asks.
    """

    def __init__(
        self,
        dim: int,
        heads: int,
        ffn_mult: int,
        dropout: float,
        attention: AttentionSettings,
        n_tokens: int | None = None,
        ffn_chunk: int = 0,
        layer_scale: float | None = None,
    ) -> None:
        super().__init__()
        self.gate1 = self.gate2 = None
        if layer_scale is not None:
            self.gate1 = nn.Parameter(torch.full((dim,), float(layer_scale)))  # (E,)
            self.gate2 = nn.Parameter(torch.full((dim,), float(layer_scale)))  # (E,)
        self.norm1 = nn.LayerNorm(dim)
        self.attention = MultiHeadAttention(
            dim,
            heads,
            backend=attention.attention,
            backend_options=attention.backend_options(),
            n_tokens=n_tokens,
        )
        self.norm2 = nn.LayerNorm(dim)
        self.ffn = FeedForward(dim, ffn_mult, dropout, ffn_chunk)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: Tensor, mask: Tensor | StructuredMask | None = None) -> Tensor:
        z, _ = self.attention(self.norm1(x), mask=mask)  # (B, N, E)
        x = x + gated(self.gate1, self.dropout(z))
        return x + gated(self.gate2, self.dropout(self.ffn(self.norm2(x))))


def gated(gate: Tensor | None, branch: Tensor) -> Tensor:
    """A residual branch (B, N, E) scaled by its per-channel gate (E,), if it has one."""
    return branch if gate is None else branch * gate.to(branch.dtype)


def run_blocks(
    blocks: nn.ModuleList,
    x: Tensor,
    mask: Tensor | StructuredMask | None = None,
    checkpointing: bool = False,
) -> Tensor:
    """Apply ``blocks`` in turn; with ``checkpointing`` each block's activations are recomputed
    in the backward pass instead of stored (memory for one block instead of all)."""
    for block in blocks:
        if checkpointing and torch.is_grad_enabled():
            x = checkpoint(block, x, mask, use_reentrant=False)
        else:
            x = block(x, mask)
    return x
