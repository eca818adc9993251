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
    """Pre-norm block: x + Attn(LN(x)), then x + FFN(LN(x))."""

    def __init__(
        self,
        dim: int,
        heads: int,
        ffn_mult: int,
        dropout: float,
        attention: AttentionSettings,
        n_tokens: int | None = None,
        ffn_chunk: int = 0,
    ) -> None:
        super().__init__()
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
        x = x + self.dropout(z)
        return x + self.dropout(self.ffn(self.norm2(x)))


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
