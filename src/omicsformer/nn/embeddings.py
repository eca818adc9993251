"""Gene tokens: identity embedding + expression-value embedding.

Notation: B batch, G genes, E width.

- identity: one learned vector per gene (its position in the model's gene list);
- value, ``continuous`` (the hybrid's default): Linear(1, E) -> GELU -> Linear(E, E) of the
  standardized value (as scGPT's continuous encoder);
- value, ``binned``: the value's bin (edges = quantiles of the training values, fitted on the
  training split) looks up a learned vector (as scBERT / scGPT binning);
- value, ``gene`` (the gene-transformer's default): the continuous encoder plus x_g · w_g with a
  learned vector w_g per gene (G x E more parameters). The shared encoders make the same token
  of the same value for every gene, so a gene's effect on the output has to be built by
  attention and the feed-forward layers from its identity; with w_g, mean pooling of the tokens
  already holds Σ_g x_g w_g, a linear model of every gene, and attention adds the interactions
  on top.

A hidden value (masked for pretraining, or a gene the cohort did not measure) is replaced by one
learned mask vector: the token keeps the gene's identity and says "value unknown" (BERT's
[MASK] for expression values).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn


def quantile_edges(x_train: np.ndarray, n_bins: int) -> list[float]:
    """``n_bins - 1`` inner bin edges: quantiles of all training values (unique, increasing)."""
    edges = np.quantile(x_train.ravel(), np.linspace(0, 1, n_bins + 1)[1:-1])
    return np.unique(edges).astype(float).tolist()


class GeneTokens(nn.Module):
    def __init__(self, n_genes: int, dim: int, value_embedding: str = "continuous", edges=None):
        super().__init__()
        self.identity = nn.Embedding(n_genes, dim)
        nn.init.normal_(self.identity.weight, std=1.0)
        self.value_embedding = value_embedding
        if value_embedding == "binned":
            self.register_buffer("edges", torch.as_tensor(edges, dtype=torch.float32))
            self.bins = nn.Embedding(len(edges) + 1, dim)
        else:
            self.value = nn.Sequential(nn.Linear(1, dim), nn.GELU(), nn.Linear(dim, dim))
        if value_embedding == "gene":
            self.gene_value = nn.Parameter(torch.randn(n_genes, dim) * dim**-0.5)
        self.mask_value = nn.Parameter(torch.zeros(dim))  # the embedding of a hidden value

    def values(self, x: Tensor, ids: Tensor) -> Tensor:  # (B, G) -> (B, G, E)
        if self.value_embedding == "binned":
            return self.bins(torch.bucketize(x.float().contiguous(), self.edges))
        shared = self.value(x.unsqueeze(-1))
        if self.value_embedding == "gene":
            return shared + x.unsqueeze(-1) * self.gene_value[ids]
        return shared

    def forward(self, x: Tensor, genes: Tensor | None = None, hide: Tensor | None = None) -> Tensor:
        """Tokens (B, G, E) for values ``x`` (B, G) of genes ``genes`` (default: all, in order);
        where ``hide`` (B, G) is true the value is replaced by the mask vector."""
        ids = genes if genes is not None else torch.arange(x.shape[1], device=x.device)
        values = self.values(x, ids)  # (B, G, E)
        if hide is not None:
            values = torch.where(hide.unsqueeze(-1), self.mask_value.to(values.dtype), values)
        return self.identity(ids) + values
