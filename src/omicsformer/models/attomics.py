"""``attomics``: AttOmics (Beaudé, Rafiee Vahid, Augé, Zehraoui, Hanczar;
Bioinformatics 39:i94, 2023).

Notation: B batch, G genes, K groups, E_i token width of block i, C outputs.

    genes (B, G)
      -> grouping: K gene groups (random / size-balanced k-means / gene sets)
      -> one linear map per group, genes -> token              (B, K, E_0)  GroupedProjection
      -> block 0: Norm(x + MHA(x)) across the K group tokens   (B, K, E_0)
      -> block i: per-group re-projection E_{i-1} -> E_i, then Norm(x + MHA(x))
      -> concatenate the K tokens                              (B, K * E_last)
      -> FCN head [Linear -> BatchNorm -> ReLU -> dropout]... -> Linear     (B, C)
      + base(genes): the linear base (``base``, see omicsformer.models.residual) (B, C)

As in the paper: no feed-forward sub-layer and no positional encoding (groups differ only by
their own projection weights), post-norm residual blocks with LayerNorm. The paper's selected
mRNA model has 20 groups, 4 blocks, 1 head and token sizes 2164 -> 1459 -> 754 -> 50 for groups of
~2,845 genes (56,902 / 20); by default the token sizes keep those ratios to the mean group size of
the data at hand. Attention maps between groups are returned on request.

The groups (options of :class:`~omicsformer.data.grouping.GroupingOptions`, shared with
``hybrid``): by default their number follows the gene count, ``min(20, G // min_group_size)``
with ``min_group_size=32`` and at least 2 (20 from 640 genes on, as the paper; 2 groups of 38 on
76 genes rather than 20 of 3-4, chosen on validation parts), and a gene-set grouping (``go-bp``,
``gmt:PATH``) keeps at most ``max_sets=50`` non-redundant sets chosen for gene coverage (the
paper's GO grouping had 46), the genes in none dealt into ``ungrouped`` groups no larger than a
kept set. See :mod:`omicsformer.data.grouping`.

``attention`` picks the kernel between the K group tokens (any registered backend, with its
default options; backends built for a fixed number of tokens get K). It is checked when the model
is built, before any data is read: an unknown name lists the valid ones, and a backend that
cannot run on the chosen device or precision is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from omicsformer.config import PROBABILITY, TrainConfig, bounded
from omicsformer.data.grouping import Grouping, GroupingOptions
from omicsformer.errors import ConfigError
from omicsformer.models.base import ModelContext
from omicsformer.models.mlp import fcn_layers
from omicsformer.models.neural import check_attention, neural_spec
from omicsformer.models.residual import BaseOptions
from omicsformer.nn.attention import DEFAULT_BACKEND, BackendName
from omicsformer.nn.attention.layers import AttentionLayer
from omicsformer.nn.grouped import GroupedLinear, GroupedProjection
from omicsformer.nn.mha import MultiHeadAttention
from omicsformer.nn.residual import LinearBase, make_base, with_base, zero_last_layer
from omicsformer.tuning.space import Choice, Float, Int

PAPER_TOKENS = (2164, 1459, 754, 50)
PAPER_GROUP_SIZE = 56_902 / 20


@dataclass
class AttOmicsOptions(BaseOptions, GroupingOptions):
    """AttOmics settings; ``token_sizes`` empty = scaled from the paper (see module docstring)."""

    n_blocks: int = bounded(4, low=1, search=Int(1, 4), help="attention blocks")
    token_sizes: list[int] = bounded(
        [], low=1, help="token width of each block (default: the paper's, scaled)"
    )
    heads: int = bounded(1, low=1, search=Choice((1, 2, 4)), help="attention heads")
    head_hidden: list[int] = bounded(
        [128],
        low=1,
        search=Choice(([64], [128], [256], [128, 64])),
        help="hidden widths of the FCN head",
    )
    dropout: float = bounded(
        0.5, **PROBABILITY, search=Float(0.1, 0.7), help="dropout of the FCN head"
    )
    attention: BackendName = bounded(DEFAULT_BACKEND, help="attention backend between group tokens")


def scaled_token_sizes(mean_group_size: float, n_blocks: int, heads: int) -> list[int]:
    """The paper's token sizes as fractions of its group size, applied to ``mean_group_size``.

    For ``n_blocks`` other than 4 the fractions are interpolated along the paper's curve. Sizes
    are at least 4 and rounded up to a multiple of ``heads``.
    """
    fractions = np.asarray(PAPER_TOKENS) / PAPER_GROUP_SIZE
    positions = np.linspace(0, len(fractions) - 1, n_blocks)
    scaled = np.interp(positions, np.arange(len(fractions)), fractions) * mean_group_size
    sizes = [max(4, round(float(s))) for s in scaled]
    return [heads * -(-s // heads) for s in sizes]


class AttOmicsBlock(nn.Module):
    """Norm(x + MHA(x)) across group tokens (post-norm, no feed-forward, as in the paper)."""

    def __init__(self, dim: int, heads: int, attention: str, n_tokens: int) -> None:
        super().__init__()
        self.attention = MultiHeadAttention(dim, heads, backend=attention, n_tokens=n_tokens)
        self.norm = nn.LayerNorm(dim)

    def forward(self, x: Tensor, need_weights: bool = False) -> tuple[Tensor, Tensor | None]:
        z, weights = self.attention(x, need_weights=need_weights)  # (B, K, E), (B, H, K, K)
        return self.norm(x + z), weights


class AttOmicsNet(nn.Module):
    def __init__(
        self,
        grouping: Grouping,
        n_inputs: int,
        token_sizes: list[int],
        heads: int,
        head_hidden: list[int],
        dropout: float,
        n_outputs: int,
        attention: str = DEFAULT_BACKEND,
        base: LinearBase | None = None,
    ) -> None:
        super().__init__()
        k = len(grouping.members)
        self.n_inputs = n_inputs
        self.group_names = grouping.names
        self.group_members = [m.tolist() for m in grouping.members]
        self.project = GroupedProjection(grouping.members, n_inputs, token_sizes[0])
        self.reproject = nn.ModuleList(
            GroupedLinear(k, e_in, e_out) for e_in, e_out in pairwise(token_sizes)
        )
        self.blocks = nn.ModuleList(AttOmicsBlock(e, heads, attention, k) for e in token_sizes)
        widths = [k * token_sizes[-1], *head_hidden]
        self.head = nn.Sequential(
            *fcn_layers(widths, dropout, "batch"), nn.Linear(widths[-1], n_outputs)
        )
        self.base = base
        if base is not None:
            zero_last_layer(self.head)

    def forward(
        self, x: Tensor, return_attention: bool = False
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        tokens, maps = self.encode(x, return_attention)  # (B, K, E_last)
        logits = with_base(self.base, x, self.head(tokens.flatten(1)))  # (B, C)
        return (logits, maps) if return_attention else logits

    def patient_embedding(self, x: Tensor) -> Tensor:  # (B, G) -> (B, head_hidden[-1])
        """The output FCN's last hidden layer: the patient as the output layer sees it."""
        tokens, _ = self.encode(x)  # (B, K, E_last)
        return self.head[:-1](tokens.flatten(1))

    def encode(self, x: Tensor, return_attention: bool = False) -> tuple[Tensor, list[Tensor]]:
        """Group tokens after the last block (B, K, E_last), and each block's attention."""
        tokens = self.project(x)  # (B, K, E_0)
        maps = []
        for i, block in enumerate(self.blocks):
            if i > 0:
                tokens = self.reproject[i - 1](tokens)  # (B, K, E_i)
            tokens, weights = block(tokens, need_weights=return_attention)
            maps.append(weights)
        return tokens, maps

    def attention_layers(self, x: Tensor, genes: list[str]) -> list[AttentionLayer]:
        """Each block's attention between the group tokens (K x K, small), for interpretation."""
        maps = self(x, return_attention=True)[1]  # list of (B, H, K, K)
        groups: list[str | None] = list(self.group_names)
        return [
            AttentionLayer(f"block{i}", "group", groups, lambda rows, m=m: m[:, :, rows])
            for i, m in enumerate(maps)
        ]

    # ------------------------------------------------------------ pretraining / fine-tuning
    head_prefixes = ("head", "base")  # the output FCN and the base: new for every task
    gene_tables = ()  # per-group weights: transferred only with the same genes and groups

    def pretraining_head(self) -> nn.Module:
        """Each group's last token -> the values of the group's genes."""
        return GroupDecoder(
            self.group_members, self.n_inputs, self.blocks[-1].norm.normalized_shape[0]
        )

    def reconstruct(self, x: Tensor, hide: Tensor, head: nn.Module) -> Tensor:
        """Every gene's value with the genes of ``hide`` set to 0 (the standardized mean)."""
        tokens, _ = self.encode(x.masked_fill(hide, 0.0))
        return head(tokens)  # (B, G)

    def n_parameters(self) -> int:
        """Real trainable numbers (the grouped projection's padding is not counted)."""
        padded = sum(p.numel() for p in self.project.parameters())
        total = sum(p.numel() for p in self.parameters())
        return total - padded + self.project.n_real_weights


class GroupDecoder(nn.Module):
    """(B, K, E) group tokens -> (B, G) genes: group k's token is mapped to the values of its
    genes by its own linear map; a gene in several groups gets the mean of their guesses."""

    def __init__(self, members: list[list[int]], n_genes: int, dim: int) -> None:
        super().__init__()
        width = max(len(m) for m in members)
        index = torch.full((len(members), width), n_genes, dtype=torch.long)  # pad -> dropped
        for j, genes in enumerate(members):
            index[j, : len(genes)] = torch.as_tensor(genes, dtype=torch.long)
        self.register_buffer("index", index)  # (K, W)
        counts = torch.bincount(index.flatten(), minlength=n_genes + 1)[:n_genes].clamp(min=1)
        self.register_buffer("counts", counts.float())  # (G,)
        self.weight = nn.Parameter(torch.randn(len(members), dim, width) * dim**-0.5)
        self.bias = nn.Parameter(torch.zeros(len(members), width))

    def forward(self, tokens: Tensor) -> Tensor:  # (B, K, E) -> (B, G)
        values = torch.einsum("bke,kew->bkw", tokens, self.weight) + self.bias  # (B, K, W)
        out = values.new_zeros(values.shape[0], len(self.counts) + 1)  # (B, G + 1)
        out.index_add_(1, self.index.flatten(), values.flatten(1))
        return out[:, :-1] / self.counts


def architecture(
    options: AttOmicsOptions, context: ModelContext, x_train: np.ndarray
) -> dict[str, Any]:
    """Fit the grouping on the training split and fix the token sizes."""
    grouping = options.make(context.genes, x_train, context.seed)
    sizes = list(options.token_sizes)
    if not sizes:
        sizes = scaled_token_sizes(float(np.mean(grouping.sizes)), options.n_blocks, options.heads)
    bad = [s for s in sizes if s % options.heads]
    if bad:
        raise ConfigError(f"token sizes {bad} are not divisible by {options.heads} heads")
    return {"grouping": grouping.to_dict(), "token_sizes": sizes}


def network(options: AttOmicsOptions, context: ModelContext, arch: dict[str, Any]) -> AttOmicsNet:
    return AttOmicsNet(
        Grouping.from_dict(arch["grouping"]),
        context.n_genes,
        arch["token_sizes"],
        options.heads,
        options.head_hidden,
        options.dropout,
        context.target.n_outputs,
        options.attention,
        make_base(options.base, context.n_genes, context.target.n_outputs),
    )


def check(options: AttOmicsOptions, train: TrainConfig) -> None:
    """Before any data is read: the attention backend runs on this device and precision."""
    check_attention(options.attention, train)


SPEC = neural_spec(
    "attomics",
    "AttOmics: self-attention between gene-group tokens (Beaudé et al. 2023)",
    AttOmicsOptions,
    architecture,
    network,
    check=check,
    # the paper's 1e-4 was also the best on ALL's validation parts for the network alone;
    # started as its fitted base, 1e-3 was better on the validation parts of all four
    # development cohorts (docs/tuning.md, section 5)
    default_lr=1e-3,
)
