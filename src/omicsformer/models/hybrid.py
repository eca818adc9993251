"""``hybrid``: gene-level attention inside AttOmics-style groups, group-level attention across them.

Notation: B batch, G genes, K groups, S largest group size, E width.

    values (B, G) -> gene tokens (identity + value embedding)             (B, G, E)
      -> gather the genes of each group (padding -> a masked zero token)  (B·K, S, E)
      -> gene blocks: pre-norm attention between the genes of a group   (B·K, S, E)
      -> masked mean over each group's genes -> one token per group       (B, K, E)
      + a learned embedding per group (groups differ by identity, as in AttOmics)
      -> group blocks: attention between the K group tokens               (B, K, E)
      -> mean over groups -> LN -> Linear                                 (B, C)

Grouping as in AttOmics (``random``, size-balanced ``kmeans``, ``gmt:PATH``), fitted on the
training split. This keeps what AttOmics models (interactions between groups) and adds what it
cannot (interactions between individual genes of a group) at O(G·S) attention cost instead of
O(G²). Groups of unequal size are padded and the padding is masked: every backend but ``flash``
supports such key-padding masks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from omicsformer.config import TrainConfig
from omicsformer.data.grouping import Grouping, make_grouping
from omicsformer.models import MODELS
from omicsformer.models.base import ModelContext
from omicsformer.models.neural import check_attention, neural_spec
from omicsformer.nn.blocks import TransformerBlock, run_blocks
from omicsformer.nn.embeddings import GeneTokens
from omicsformer.nn.settings import AttentionSettings


@dataclass
class HybridOptions(AttentionSettings):
    grouping: str = "random"
    n_groups: int = 20
    drop_ungrouped: bool = False
    dim: int = 32
    heads: int = 2
    gene_layers: int = 1
    group_layers: int = 2
    ffn_mult: int = 2
    dropout: float = 0.1
    value_embedding: Literal["continuous", "binned"] = "continuous"
    checkpointing: bool = False


class Hybrid(nn.Module):
    def __init__(self, options: HybridOptions, grouping: Grouping, n_genes: int, n_outputs: int):
        super().__init__()
        o = options
        self.checkpointing = o.checkpointing
        self.group_names = grouping.names
        sizes = grouping.sizes
        k, s = len(sizes), max(sizes)
        index = torch.full((k, s), n_genes, dtype=torch.long)  # pad -> the zero token at n_genes
        for j, members in enumerate(grouping.members):
            index[j, : len(members)] = torch.as_tensor(members, dtype=torch.long)
        self.register_buffer("index", index)  # (K, S)
        self.register_buffer("valid", index < n_genes)  # (K, S)
        self.padded = bool((~self.valid).any())
        self.tokens = GeneTokens(n_genes, o.dim, o.value_embedding)
        self.group_embedding = nn.Parameter(torch.zeros(k, o.dim))
        self.gene_blocks = nn.ModuleList(
            TransformerBlock(o.dim, o.heads, o.ffn_mult, o.dropout, o, s)
            for _ in range(o.gene_layers)
        )
        self.group_blocks = nn.ModuleList(
            TransformerBlock(o.dim, o.heads, o.ffn_mult, o.dropout, o, k)
            for _ in range(o.group_layers)
        )
        self.norm = nn.LayerNorm(o.dim)
        self.head = nn.Linear(o.dim, n_outputs)

    def gene_tokens(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """Tokens of each group's genes (B·K, S, E) and the key mask (B·K, 1, 1, S) if padded."""
        b = x.shape[0]
        h = self.tokens(x)  # (B, G, E)
        h = torch.cat([h, h.new_zeros(b, 1, h.shape[-1])], dim=1)  # (B, G + 1, E)
        k, s = self.index.shape
        grouped = h[:, self.index].reshape(b * k, s, -1)  # (B·K, S, E)
        mask = None
        if self.padded:
            mask = self.valid[None, :, None, None, :].expand(b, k, 1, 1, s).reshape(b * k, 1, 1, s)
        return grouped, mask

    def forward(self, x: Tensor) -> Tensor:  # (B, G) -> (B, C)
        b, k = x.shape[0], self.index.shape[0]
        genes, mask = self.gene_tokens(x)
        genes = run_blocks(self.gene_blocks, genes, mask, self.checkpointing)  # (B·K, S, E)
        weights = self.valid.to(genes.dtype).repeat(b, 1)[..., None]  # (B·K, S, 1)
        groups = (genes * weights).sum(1) / weights.sum(1)  # (B·K, E) mean over real genes
        groups = groups.view(b, k, -1) + self.group_embedding  # (B, K, E)
        groups = run_blocks(self.group_blocks, groups, None, self.checkpointing)
        return self.head(self.norm(groups.mean(dim=1)))


def architecture(
    options: HybridOptions, context: ModelContext, x_train: np.ndarray
) -> dict[str, Any]:
    grouping = make_grouping(
        options.grouping,
        context.genes,
        x_train,
        options.n_groups,
        context.seed,
        options.drop_ungrouped,
    )
    if len(set(grouping.sizes)) > 1:  # unequal groups are padded: key-padding masks needed
        check_attention(options.attention, None, key_padding=True)
    return {"grouping": grouping.to_dict()}


def network(options: HybridOptions, context: ModelContext, arch: dict[str, Any]) -> Hybrid:
    grouping = Grouping.from_dict(arch["grouping"])
    return Hybrid(options, grouping, context.n_genes, context.target.n_outputs)


def check(options: HybridOptions, train: TrainConfig) -> None:
    check_attention(options.attention, train, masked=False)


MODELS.add(
    "hybrid",
    neural_spec(
        "hybrid",
        "Gene-level attention within groups + group-level attention across them",
        HybridOptions,
        architecture,
        network,
        check=check,
    ),
)
