"""``gene-transformer``: every gene is a token; attention between individual genes.

Notation: B batch, G genes (tokens), E width, H heads, C outputs.

    values (B, G) -> tokens = gene identity + value embedding          (B, G, E)
      [+ a learned CLS token in front]                                  (B, 1 + G, E)
      -> L pre-norm blocks: x + Attn(LN x), x + FFN(LN x)             (B, G, E)
      -> pool: CLS token, mean over genes, or a learned query's attention (B, E)
      -> LN -> Linear                                                   (B, C)

The attention kernel is the one switch (``attention``): exact (``sdpa``, ``flash``, ``eager``)
or approximate (``linformer``, ``nystrom``, ``performer``, ``linear``). Memory levers:
``--precision bf16-mixed``, ``checkpointing=true`` (recompute each block in the backward pass),
``ffn_chunk=N`` (feed-forward over N tokens at a time), and gene selection with ``--top-genes``,
which is never applied unless asked: by default every gene of the input is a token.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from omicsformer.config import PROBABILITY, TrainConfig, bounded
from omicsformer.models import MODELS
from omicsformer.models.base import ModelContext
from omicsformer.models.neural import check_attention, check_heads, neural_spec
from omicsformer.nn.blocks import TransformerBlock, run_blocks
from omicsformer.nn.embeddings import GeneTokens, quantile_edges
from omicsformer.nn.settings import AttentionSettings


@dataclass
class GeneTransformerOptions(AttentionSettings):
    """Width, depth and heads; value embedding; pooling; memory levers; attention backend."""

    dim: int = bounded(64, low=1)
    heads: int = bounded(4, low=1)
    layers: int = bounded(2, low=1)
    ffn_mult: int = bounded(2, low=1)
    dropout: float = bounded(0.1, **PROBABILITY)
    value_embedding: Literal["continuous", "binned", "gene"] = "gene"  # see nn/embeddings.py
    n_bins: int = bounded(32, low=2)
    pooling: Literal["mean", "cls", "attention"] = "mean"
    checkpointing: bool = False
    ffn_chunk: int = bounded(0, low=0)


class GeneTransformer(nn.Module):
    def __init__(self, options: GeneTransformerOptions, n_genes: int, n_outputs: int, edges=None):
        super().__init__()
        o = options
        self.pooling, self.checkpointing = o.pooling, o.checkpointing
        self.tokens = GeneTokens(n_genes, o.dim, o.value_embedding, edges)
        n_tokens = n_genes + (o.pooling == "cls")
        if o.pooling == "cls":
            self.cls = nn.Parameter(torch.zeros(1, 1, o.dim))
        if o.pooling == "attention":
            self.query = nn.Parameter(torch.randn(o.dim) * 0.02)
        self.blocks = nn.ModuleList(
            TransformerBlock(o.dim, o.heads, o.ffn_mult, o.dropout, o, n_tokens, o.ffn_chunk)
            for _ in range(o.layers)
        )
        self.norm = nn.LayerNorm(o.dim)
        self.head = nn.Linear(o.dim, n_outputs)

    def embed(self, x: Tensor) -> Tensor:
        """Input tokens of the first block: (B, G, E), or (B, 1 + G, E) with a CLS token."""
        h = self.tokens(x)  # (B, G, E)
        if self.pooling == "cls":
            h = torch.cat([self.cls.expand(h.shape[0], -1, -1), h], dim=1)
        return h

    def forward(self, x: Tensor) -> Tensor:  # (B, G) -> (B, C)
        h = run_blocks(self.blocks, self.embed(x), checkpointing=self.checkpointing)
        return self.head(self.norm(self.pool(h)))

    def pool(self, h: Tensor) -> Tensor:
        """(B, T, E) -> (B, E): the CLS token, the mean, or a learned query's attention."""
        if self.pooling == "cls":
            return h[:, 0]
        if self.pooling == "attention":
            weights = (h @ self.query / h.shape[-1] ** 0.5).softmax(dim=1)  # (B, T)
            return torch.einsum("bt,bte->be", weights, h)
        return h.mean(dim=1)

    def block_inputs(self, x: Tensor) -> list[Tensor]:
        """The input of every block, for attention extraction: a list of (B, T, E)."""
        h, inputs = self.embed(x), []
        for block in self.blocks:
            inputs.append(h)
            h = block(h)
        return inputs


def architecture(
    options: GeneTransformerOptions, context: ModelContext, x_train: np.ndarray
) -> dict[str, Any]:
    if options.value_embedding == "binned":
        return {"edges": quantile_edges(x_train, options.n_bins)}
    return {}


def network(
    options: GeneTransformerOptions, context: ModelContext, arch: dict[str, Any]
) -> GeneTransformer:
    return GeneTransformer(options, context.n_genes, context.target.n_outputs, arch.get("edges"))


def check(options: GeneTransformerOptions, train: TrainConfig) -> None:
    check_heads(options.dim, options.heads)
    check_attention(options.attention, train, masked=False)


MODELS.add(
    "gene-transformer",
    neural_spec(
        "gene-transformer",
        "Transformer over gene tokens (identity + value embedding), any attention backend",
        GeneTransformerOptions,
        architecture,
        network,
        check=check,
    ),
)
