"""``hybrid``: gene-level attention inside AttOmics-style groups, group-level attention across them.

Notation: B batch, G genes, K groups, S largest group size, E width, C outputs.

    values (B, G)
      -> AttOmics path: one linear map per group, genes -> token              (B, K, E)
      -> gene path: gene tokens (identity + value embedding) of each group     (B·K, S, E)
           -> gene blocks: pre-norm attention between the genes of a group   (B·K, S, E)
           -> readout: a learned query per group attends over its genes        (B, K, E)
      -> group token = LayerNorm(AttOmics token + gene-path readout)           (B, K, E)
      -> group blocks: attention between the K group tokens                    (B, K, E)
      -> concatenate the K tokens -> LN -> Linear (as AttOmics)                (B, C)
      + base(values): the linear base (``base``, see omicsformer.models.residual)  (B, C)

The AttOmics path keeps what AttOmics models (a gene-specific linear summary of each group, and
interactions between groups); the gene path adds what it cannot: interactions between individual
genes of a group, at O(G·S) attention cost instead of O(G²). Both read the same groups (random,
size-balanced ``kmeans``, ``go-bp`` or ``gmt:PATH``, fitted on the training split), with the
options and defaults of AttOmics (:class:`~omicsformer.data.grouping.GroupingOptions`: as many
groups as the gene count allows at ``min_group_size=32`` genes, at most 20 (on validation parts
the hybrid is flat in the number of groups: C-index 0.72-0.74 for 2 to 20 on breast-gse7390);
at most ``max_sets=50`` non-redundant gene sets, the genes in none in ``ungrouped`` groups no
larger than a kept set). Groups of unequal size are padded to the largest and the padding
masked (``flash`` and ``sdpa_varlen=true`` skip it instead), so the largest group sets the gene
path's cost.

``attention_mask=gmt:PATH`` restricts the gene blocks to gene sets within each group: one (S, S)
mask per group, its rows made on demand (it also masks the padding), under which a gene attends
to itself and the genes of its group it shares a set with. No global tokens are added here: the
readout and the group blocks already join what the sets keep apart.

``tokens=expressed`` (see :mod:`omicsformer.models.expressed`) makes the gene path's tokens of a
patient's group its expressed genes of that group only: each (patient, group) row has its own
length, and the B·K rows run in length buckets (:mod:`omicsformer.nn.packing`); the readout
attends over a row's kept genes, and a group with no expressed gene in a patient has a zero
readout there. The AttOmics path still reads every gene's value (a linear map: its cost does not
grow with the square of anything).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from omicsformer.config import PROBABILITY, TrainConfig, bounded
from omicsformer.data.grouping import (
    Grouping,
    GroupingOptions,
    saved_gene_sets,
)
from omicsformer.errors import ConfigError
from omicsformer.models.base import ModelContext
from omicsformer.models.expressed import (
    ExpressedGenes,
    ExpressedTokens,
    check_tokens,
    refuse_pretraining,
    saved_thresholds,
)
from omicsformer.models.gene_transformer import check_token_attention, token_arch
from omicsformer.models.neural import check_attention, neural_spec
from omicsformer.models.residual import BaseOptions, GateOptions
from omicsformer.nn.attention.layers import AttentionLayer, memberships, mha_rows
from omicsformer.nn.attention.masks import GroupMask
from omicsformer.nn.blocks import TransformerBlock, run_blocks
from omicsformer.nn.embeddings import GeneTokens
from omicsformer.nn.grouped import GroupedProjection
from omicsformer.nn.packing import pack
from omicsformer.nn.residual import make_base, with_base, zero_last_layer
from omicsformer.nn.settings import AttentionSettings
from omicsformer.tuning.space import Choice, Float, Int


@dataclass
class HybridOptions(BaseOptions, GateOptions, GroupingOptions, ExpressedTokens, AttentionSettings):
    dim: int = bounded(32, low=1, search=Choice((16, 32, 64)), help="token width")
    heads: int = bounded(2, low=1, search=Choice((1, 2, 4)), help="attention heads (divide dim)")
    gene_layers: int = bounded(
        1, low=0, search=Int(1, 2), help="blocks of attention between the genes of a group"
    )
    group_layers: int = bounded(
        2, low=0, search=Int(1, 3), help="blocks of attention between the group tokens"
    )
    ffn_mult: int = bounded(2, low=1, help="feed-forward width as a multiple of dim")
    dropout: float = bounded(0.1, **PROBABILITY, search=Float(0.0, 0.3), help="dropout")
    value_embedding: Literal["continuous", "binned", "gene"] = bounded(
        "continuous", help="how a value becomes a gene token (see omicsformer.nn.embeddings)"
    )
    checkpointing: bool = bounded(
        False, help="recompute each block in the backward pass (less memory, more time)"
    )


class Hybrid(nn.Module):
    """The network; ``gene_sets`` (each gene's set indices) turns the gene-set mask on."""

    def __init__(
        self,
        options: HybridOptions,
        grouping: Grouping,
        n_genes: int,
        n_outputs: int,
        gene_sets: list[list[int]] | None = None,
        thresholds: list[float] | None = None,
    ):
        super().__init__()
        o = options
        self.checkpointing = o.checkpointing
        self.expressed = o.tokens == "expressed"
        if self.expressed:
            self.expressed_genes = ExpressedGenes(o, thresholds, n_genes)
        self.group_names = grouping.names
        sizes = grouping.sizes
        k, s = len(sizes), max(sizes)
        index = torch.full((k, s), n_genes, dtype=torch.long)  # pad -> the zero token at n_genes
        for j, members in enumerate(grouping.members):
            index[j, : len(members)] = torch.as_tensor(members, dtype=torch.long)
        self.register_buffer("index", index)  # (K, S)
        self.register_buffer("valid", index < n_genes)  # (K, S)
        self.padded = bool((~self.valid).any())
        self.attention_mask = None
        if gene_sets is not None:  # within-group gene-set masks (K x (S, S)), padding masked too
            if len(gene_sets) != n_genes:
                raise ConfigError(f"gene sets given for {len(gene_sets)} genes, not {n_genes}")
            self.attention_mask = GroupMask(gene_sets, index, n_genes)
        self.project = GroupedProjection(grouping.members, n_genes, o.dim)
        self.tokens = GeneTokens(n_genes, o.dim, o.value_embedding)
        self.gene_blocks = nn.ModuleList(
            TransformerBlock(o.dim, o.heads, o.ffn_mult, o.dropout, o, s, layer_scale=o.layer_scale)
            for _ in range(o.gene_layers)
        )
        self.readout = nn.Parameter(torch.randn(k, o.dim) * 0.02)  # one query per group
        self.merge = nn.LayerNorm(o.dim)
        self.group_blocks = nn.ModuleList(
            TransformerBlock(o.dim, o.heads, o.ffn_mult, o.dropout, o, k, layer_scale=o.layer_scale)
            for _ in range(o.group_layers)
        )
        self.norm = nn.LayerNorm(k * o.dim)
        self.head = nn.Linear(k * o.dim, n_outputs)
        self.base = make_base(o.base, n_genes, n_outputs)
        if self.base is not None:
            zero_last_layer(self.head)

    def gene_tokens(
        self, x: Tensor, hide: Tensor | None = None
    ) -> tuple[Tensor, Tensor | GroupMask | None]:
        """Tokens of each group's genes (B·K, S, E) and their mask: the gene-set mask of each
        group if there is one, else the key mask (B·K, 1, 1, S) if padded; ``hide`` (B, G)
        masks values."""
        b = x.shape[0]
        h = self.tokens(x, hide=hide)  # (B, G, E)
        h = torch.cat([h, h.new_zeros(b, 1, h.shape[-1])], dim=1)  # (B, G + 1, E)
        k, s = self.index.shape
        grouped = h[:, self.index].reshape(b * k, s, -1)  # (B·K, S, E)
        if self.attention_mask is not None:  # row b·K + j of the batch uses group j's mask
            return grouped, self.attention_mask
        mask = None
        if self.padded:
            mask = self.valid[None, :, None, None, :].expand(b, k, 1, 1, s).reshape(b * k, 1, 1, s)
        return grouped, mask

    def gene_readout(self, genes: Tensor, b: int) -> Tensor:
        """Each group's learned query attends over its (real) genes: (B·K, S, E) -> (B, K, E)."""
        k, s = self.index.shape
        genes = genes.view(b, k, s, -1)
        scores = torch.einsum("bkse,ke->bks", genes, self.readout) / math.sqrt(genes.shape[-1])
        scores = scores.masked_fill(~self.valid, float("-inf"))  # (B, K, S)
        return torch.einsum("bks,bkse->bke", scores.softmax(dim=-1), genes)

    def forward(self, x: Tensor) -> Tensor:  # (B, G) -> (B, C)
        return with_base(self.base, x, self.head(self.patient_embedding(x)))

    def patient_embedding(self, x: Tensor) -> Tensor:  # (B, G) -> (B, K·E)
        """The normalised group tokens side by side: the patient as the output layer sees it."""
        if self.expressed:
            readout = self.packed_readout(x)
        else:
            genes, mask = self.gene_tokens(x)
            genes = run_blocks(self.gene_blocks, genes, mask, self.checkpointing)  # (B·K, S, E)
            readout = self.gene_readout(genes, x.shape[0])
        groups = self.merge(self.project(x) + readout)  # (B, K, E)
        groups = run_blocks(self.group_blocks, groups, None, self.checkpointing)
        return self.norm(groups.flatten(1))

    # ------------------------------------------------------------ tokens=expressed
    def kept(self, x: Tensor) -> Tensor:
        """(B·K, S) true at the kept genes of each patient's groups: raw value above the
        threshold, capped at the patient's ``max_tokens`` largest values (over all its genes),
        never at the padding of a group."""
        b = x.shape[0]
        keep = self.expressed_genes(x)  # (B, G)
        keep = torch.cat([keep, keep.new_zeros(b, 1)], dim=1)  # (B, G + 1): padding at G
        return keep[:, self.index].flatten(0, 1)  # (B·K, S)

    def packed_readout(self, x: Tensor) -> Tensor:  # (B, G) -> (B, K, E)
        """The gene path over each (patient, group) row's kept genes, in length buckets; a row
        with none reads out zero (rows of length 0 are only ever packed together)."""
        b, (k, _) = x.shape[0], self.index.shape
        out = x.new_zeros(b * k, self.readout.shape[1])  # (B·K, E)
        for rows, positions, valid, mask in pack(self.kept(x), self.expressed_genes.bucket_padding):
            if positions.shape[1] == 0:  # no kept gene in any row of the bucket
                continue
            group = rows % k  # (P,)
            genes = self.index[group[:, None], positions]  # (P, L) gene indices
            h = self.tokens(x[(rows // k)[:, None], genes], genes=genes)  # (P, L, E)
            h = run_blocks(self.gene_blocks, h, mask, self.checkpointing)
            scores = torch.einsum("ple,pe->pl", h, self.readout[group]) / math.sqrt(h.shape[-1])
            weights = scores.masked_fill(~valid, float("-inf")).softmax(dim=-1)  # (P, L)
            read = torch.einsum("pl,ple->pe", weights, h)  # (P, E)
            out = out.index_copy(0, rows, read.to(out.dtype))
        return out.view(b, k, -1)

    def attention_layers(self, x: Tensor, genes: list[str]) -> list[AttentionLayer]:
        """For interpretation: each gene-level layer as one block-diagonal (within-group) matrix
        over all genes (a gene in several groups gets the average of its rows); group-level
        layers attend over the group tokens. The within-group matrices are small (K x S x S)
        and computed once. With ``tokens=expressed`` a gene not kept in a patient has a zero
        row and column there: the kept genes' states are the packed model's (unkept ones are
        masked keys, and the token-wise parts of a block do not mix tokens)."""
        b = x.shape[0]
        k, s = self.index.shape
        n_genes = len(genes)
        index = self.index.cpu()
        group_of, pos_of, counts = memberships(index, self.valid.cpu(), n_genes)
        h, mask = self.gene_tokens(x)  # (B·K, S, E)
        kept = None
        if self.expressed:  # keys: the kept genes (a row with none: its group's, then zeroed)
            kept = self.kept(x)  # (B·K, S)
            some = kept.any(dim=1, keepdim=True)
            keys = torch.where(some, kept, self.valid.repeat(b, 1))
            mask = keys[:, None, None, :]  # (B·K, 1, 1, S)
        layers = []
        for i, block in enumerate(self.gene_blocks):
            within = block.attention.attention_rows(block.norm1(h), torch.arange(s), mask)
            if kept is not None:  # no row for a gene not kept (its column is masked already)
                within = within * kept[:, None, :, None]
            within = within.view(b, k, -1, s, s).float().cpu()  # (B, K, H, S, S)

            def rows_fn(rows: Tensor, within=within) -> Tensor:
                rows = rows.cpu()
                out = torch.zeros(b, within.shape[2], len(rows), n_genes + 1)  # last: padding
                for m in range(group_of.shape[1]):
                    has = counts[rows] > m
                    if not has.any():
                        continue
                    r = torch.nonzero(has).squeeze(1)
                    g, p = group_of[rows[r], m], pos_of[rows[r], m]
                    values = within.permute(1, 3, 0, 2, 4)[g, p].permute(1, 2, 0, 3)  # (B,H,R',S)
                    target = index[g].unsqueeze(0).unsqueeze(0).expand_as(values)  # key genes
                    out[:, :, r] += torch.zeros_like(out[:, :, r]).scatter_add_(-1, target, values)
                out = out[..., :n_genes]
                return out / counts[rows].clamp(min=1).view(1, 1, -1, 1)

            layers.append(AttentionLayer(f"gene_layer{i}", "gene", list(genes), rows_fn))
            h = block(h, mask)
        readout = self.packed_readout(x) if self.expressed else self.gene_readout(h, b)
        group_tokens = self.merge(self.project(x) + readout)
        for i, block in enumerate(self.group_blocks):
            rows = mha_rows(block.attention, block.norm1(group_tokens))
            layers.append(AttentionLayer(f"group_layer{i}", "group", list(self.group_names), rows))
            group_tokens = block(group_tokens)
        return layers

    def n_parameters(self) -> int:
        """Real trainable numbers (the grouped projection's padding is not counted)."""
        padded = sum(p.numel() for p in self.project.parameters())
        total = sum(p.numel() for p in self.parameters())
        return total - padded + self.project.n_real_weights

    # ------------------------------------------------------------ pretraining / fine-tuning
    head_prefixes = ("head", "base")  # the output layer and the base: new for every task
    gene_tables = ("tokens.identity.weight", "tokens.gene_value")  # one row per gene

    def pretraining_head(self) -> nn.Module:
        """Gene state (+ its group's context) -> its standardized value."""
        if self.expressed:
            refuse_pretraining()
        return nn.Linear(self.readout.shape[1], 1)

    def reconstruct(self, x: Tensor, hide: Tensor, head: nn.Module) -> Tensor:
        """Every gene's value from its token after the gene blocks plus its group's token after
        the group blocks, with the values of ``hide`` masked: (B, G)."""
        b, n_genes = x.shape
        genes, mask = self.gene_tokens(x, hide)
        genes = run_blocks(self.gene_blocks, genes, mask, self.checkpointing)  # (B·K, S, E)
        groups = self.merge(self.project(x.masked_fill(hide, 0.0)) + self.gene_readout(genes, b))
        groups = run_blocks(self.group_blocks, groups, None, self.checkpointing)  # (B, K, E)
        k, s = self.index.shape
        states = genes.view(b, k, s, -1) + groups[:, :, None, :]  # (B, K, S, E)
        out = states.new_zeros(b, n_genes + 1, states.shape[-1])  # (B, G + 1, E), pad at G
        out.index_add_(1, self.index.flatten(), states.flatten(1, 2))
        counts = torch.bincount(self.index.flatten(), minlength=n_genes + 1)[:n_genes]
        return head(out[:, :n_genes] / counts.clamp(min=1)[None, :, None]).squeeze(-1)


def architecture(
    options: HybridOptions, context: ModelContext, x_train: np.ndarray
) -> dict[str, Any]:
    check_tokens(options)
    grouping = options.make(context.genes, x_train, context.seed)
    # unequal groups are padded (key-padding masks needed); expressed rows are bucketed instead
    if len(set(grouping.sizes)) > 1 and options.tokens == "all":
        check_attention(options.attention, None, key_padding=True)
    return {"grouping": grouping.to_dict()} | token_arch(options, context, x_train)


def network(options: HybridOptions, context: ModelContext, arch: dict[str, Any]) -> Hybrid:
    grouping = Grouping.from_dict(arch["grouping"])
    gene_sets = saved_gene_sets(options.attention_mask, arch)
    thresholds = saved_thresholds(options, arch)
    n_outputs = context.target.n_outputs
    return Hybrid(options, grouping, context.n_genes, n_outputs, gene_sets, thresholds)


def check(options: HybridOptions, train: TrainConfig) -> None:
    check_tokens(options)
    check_token_attention(options, train)


SPEC = neural_spec(
    "hybrid",
    "AttOmics groups + gene-level attention within groups + group-level attention across",
    HybridOptions,
    architecture,
    network,
    check=check,
)
