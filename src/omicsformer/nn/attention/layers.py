"""A network's attention layers as interpretation sees them: token names and rows on demand.

Notation: B samples, H heads, T tokens of a layer (genes, or groups), R query rows.

Every attention network offers ``attention_layers(x, genes) -> list[AttentionLayer]``: for a
batch of samples, each layer names its tokens and returns the attention rows of any query tokens,
``rows(query indices (R,)) -> (B, H, R, T)``, through the backend's own ``weight_rows``, so no
caller ever holds a T x T matrix (see :mod:`omicsformer.interpret.attention`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

RowFn = Callable[[Tensor], Tensor]  # query indices (R,) -> weights (B, H, R, T)


@dataclass
class AttentionLayer:
    """One attention layer of a network, for a fixed batch of samples.

    ``token_names`` maps each token to the gene (or group) name it stands for; ``None`` marks
    tokens that are not genes (CLS, global tokens, padding). ``level`` is ``gene`` or ``group``.
    """

    name: str
    level: str
    token_names: list[str | None]
    rows: RowFn

    @property
    def n_tokens(self) -> int:
        return len(self.token_names)


def mha_rows(attention: nn.Module, h: Tensor, mask=None) -> RowFn:
    """The rows function of a multi-head attention module on its (normalised) input ``h``."""
    return lambda rows: attention.attention_rows(h, rows, mask)


def memberships(index: Tensor, valid: Tensor, n_genes: int) -> tuple[Tensor, Tensor, Tensor]:
    """For each gene, the (group, position) of each of its memberships: (G, M) each, + counts.

    ``index`` (K, S) gene of each slot of each group, ``valid`` (K, S) which slots are real."""
    groups, positions = torch.nonzero(valid, as_tuple=True)
    genes = index[groups, positions]
    counts = torch.bincount(genes, minlength=n_genes)
    m = int(counts.max()) if len(counts) else 1
    group_of = torch.zeros(n_genes, m, dtype=torch.long)
    pos_of = torch.zeros(n_genes, m, dtype=torch.long)
    slot = torch.zeros(n_genes, dtype=torch.long)
    for g, k, p in zip(genes.tolist(), groups.tolist(), positions.tolist(), strict=True):
        group_of[g, slot[g]], pos_of[g, slot[g]] = k, p
        slot[g] += 1
    return group_of, pos_of, counts
