"""``gene-transformer``: every gene is a token; attention between individual genes.

Notation: B batch, G genes (tokens), E width, H heads, C outputs.

    values (B, G) -> tokens = gene identity + value embedding          (B, G, E)
      [+ a learned CLS token and g global tokens in front]              (B, T = X + G, E)
      -> L pre-norm blocks: x + Attn(LN x), x + FFN(LN x)             (B, T, E)
      -> pool: CLS token, mean over genes, or a learned query's attention (B, E)
      -> LN -> Linear                                                   (B, C)
      + base(values): the linear base (``base``, see omicsformer.models.residual)  (B, C)

The attention kernel is the one switch (``attention``): exact (``sdpa``, ``flash``, ``eager``)
or approximate (``linformer``, ``nystrom``, ``performer``, ``linear``). Memory levers:
``--precision bf16-mixed``, ``checkpointing=true`` (recompute each block in the backward pass),
``ffn_chunk=N`` (feed-forward over N tokens at a time), and gene selection with ``--top-genes``,
which is never applied unless asked: by default every gene of the input is a token.

``attention_mask=gmt:PATH`` restricts attention to gene sets (see :mod:`omicsformer.nn.settings`):
a gene attends to itself, to the genes it shares a set with, and to ``global_tokens`` learned
tokens put in front (BigBird-style; with ``pooling=cls`` the CLS token is global too), which
attend to every gene. The sets of each gene are read from the file when the model is built and
saved in model.json; the rows of the mask are made on demand (never T x T).

``tokens=expressed`` (see :mod:`omicsformer.models.expressed`) makes a patient's tokens its
expressed genes only, in gene order; patients of one batch run in length buckets
(:mod:`omicsformer.nn.packing`). A patient with no expressed gene has no gene token: its pooled
vector is zero (``mean``, ``attention``), or the CLS token attending to itself (``cls``), so all
such patients get one prediction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from omicsformer.config import PROBABILITY, TrainConfig, bounded
from omicsformer.data.grouping import gene_set_membership, saved_gene_sets
from omicsformer.errors import ConfigError
from omicsformer.models.base import ModelContext
from omicsformer.models.expressed import (
    ExpressedGenes,
    ExpressedTokens,
    check_tokens,
    expressed_thresholds,
    refuse_pretraining,
    saved_thresholds,
)
from omicsformer.models.neural import check_attention, check_heads, neural_spec
from omicsformer.models.residual import BaseOptions, GateOptions
from omicsformer.nn.attention.layers import AttentionLayer, mha_rows
from omicsformer.nn.attention.masks import GeneSetMask
from omicsformer.nn.blocks import TransformerBlock, run_blocks
from omicsformer.nn.embeddings import GeneTokens, quantile_edges
from omicsformer.nn.packing import pack
from omicsformer.nn.residual import make_base, with_base, zero_last_layer
from omicsformer.nn.settings import AttentionSettings
from omicsformer.tuning.space import Choice, Float, Int


@dataclass
class GeneTransformerOptions(BaseOptions, GateOptions, ExpressedTokens, AttentionSettings):
    """Width, depth and heads; value embedding; pooling; memory levers; attention backend."""

    # width 32, 2 heads, 1 block: as accurate on validation parts as 64 / 4 / 2 on breast-gse7390,
    # dataOvarian1 and the synthetic products, 4x cheaper per epoch (docs/tuning.md, section 6)
    dim: int = bounded(32, low=1, search=Choice((32, 64, 128)), help="token width")
    heads: int = bounded(2, low=1, search=Choice((1, 2, 4)), help="attention heads (divide dim)")
    layers: int = bounded(1, low=1, search=Int(1, 3), help="transformer blocks")
    ffn_mult: int = bounded(2, low=1, help="feed-forward width as a multiple of dim")
    dropout: float = bounded(0.1, **PROBABILITY, search=Float(0.0, 0.3), help="dropout")
    value_embedding: Literal["continuous", "binned", "gene"] = bounded(
        "gene", help="how a value becomes a token (see omicsformer.nn.embeddings)"
    )
    n_bins: int = bounded(32, low=2, help="binned: value bins (training quantiles)")
    pooling: Literal["mean", "cls", "attention"] = bounded(
        "mean",
        search=Choice(("mean", "cls", "attention")),
        help="patient from tokens: mean of genes, a CLS token, or a learned query's attention",
    )
    checkpointing: bool = bounded(
        False, help="recompute each block in the backward pass (less memory, more time)"
    )
    ffn_chunk: int = bounded(0, low=0, help="feed-forward over N tokens at a time; 0: all")


class GeneTransformer(nn.Module):
    """The network; ``gene_sets`` (each gene's set indices) turns the gene-set mask on."""

    def __init__(
        self,
        options: GeneTransformerOptions,
        n_genes: int,
        n_outputs: int,
        edges=None,
        gene_sets: list[list[int]] | None = None,
        thresholds: list[float] | None = None,
    ):
        super().__init__()
        o = options
        self.pooling, self.checkpointing = o.pooling, o.checkpointing
        self.expressed = o.tokens == "expressed"
        if self.expressed:
            self.expressed_genes = ExpressedGenes(o, thresholds, n_genes)
        self.tokens = GeneTokens(n_genes, o.dim, o.value_embedding, edges)
        self.n_global = o.global_tokens if gene_sets is not None else 0
        self.n_extra = (o.pooling == "cls") + self.n_global  # X tokens in front of the genes
        n_tokens = n_genes + self.n_extra
        if o.pooling == "cls":
            self.cls = nn.Parameter(torch.zeros(1, 1, o.dim))
        if self.n_global:
            self.globals = nn.Parameter(torch.randn(1, self.n_global, o.dim) * 0.02)
        self.attention_mask = None
        if gene_sets is not None:
            if len(gene_sets) != n_genes:
                raise ConfigError(f"gene sets given for {len(gene_sets)} genes, not {n_genes}")
            self.attention_mask = GeneSetMask(gene_sets, n_global=self.n_extra)
        if o.pooling == "attention":
            self.query = nn.Parameter(torch.randn(o.dim) * 0.02)
        self.blocks = nn.ModuleList(
            TransformerBlock(
                o.dim, o.heads, o.ffn_mult, o.dropout, o, n_tokens, o.ffn_chunk, o.layer_scale
            )
            for _ in range(o.layers)
        )
        self.norm = nn.LayerNorm(o.dim)
        self.head = nn.Linear(o.dim, n_outputs)
        self.base = make_base(o.base, n_genes, n_outputs)
        if self.base is not None:
            zero_last_layer(self.head)

    def embed(self, x: Tensor, hide: Tensor | None = None) -> Tensor:
        """Input tokens of the first block: (B, X + G, E) with X = CLS + global tokens
        (extra tokens always come before the genes); ``hide`` (B, G) masks values."""
        h = self.tokens(x, hide=hide)  # (B, G, E)
        b = h.shape[0]
        extra = [self.cls.expand(b, -1, -1)] if self.pooling == "cls" else []
        if self.n_global:
            extra.append(self.globals.expand(b, -1, -1))  # (B, g, E)
        return torch.cat([*extra, h], dim=1) if extra else h  # (B, X + G, E)

    def forward(self, x: Tensor) -> Tensor:  # (B, G) -> (B, C)
        return with_base(self.base, x, self.head(self.patient_embedding(x)))

    def patient_embedding(self, x: Tensor) -> Tensor:  # (B, G) -> (B, E)
        """The pooled, normalised tokens: the patient as the output layer sees it."""
        if self.expressed:
            return self.norm(self.packed_pool(x))
        h = run_blocks(self.blocks, self.embed(x), self.attention_mask, self.checkpointing)
        return self.norm(self.pool(h))

    def pool(self, h: Tensor, valid: Tensor | None = None) -> Tensor:
        """(B, T, E) -> (B, E): the CLS token, or the mean or a learned query's attention over
        the gene tokens (only the ``valid`` ones (B, G) if given: packed patients)."""
        if self.pooling == "cls":
            return h[:, 0]
        h = h[:, self.n_extra :]  # (B, G, E): global tokens are not pooled
        if self.pooling == "attention":
            scores = h @ self.query / h.shape[-1] ** 0.5  # (B, G)
            if valid is not None:
                scores = scores.masked_fill(~valid, float("-inf"))
            weights = scores.softmax(dim=1)  # (B, G)
            return torch.einsum("bt,bte->be", weights, h)
        if valid is None:
            return h.mean(dim=1)
        return (h * valid.unsqueeze(-1)).sum(dim=1) / valid.sum(dim=1, keepdim=True)

    # ------------------------------------------------------------ tokens=expressed
    def kept_genes(self, x: Tensor) -> list[Tensor]:
        """Each patient's tokens as gene indices, in gene order: B tensors (L_b,)."""
        return [torch.nonzero(row).squeeze(1) for row in self.expressed_genes(x)]

    def packed_inputs(self, x: Tensor, patients: Tensor, index: Tensor) -> Tensor:
        """Input tokens of a bucket: (P, X + L, E), gene tokens of the kept genes only."""
        values = x[patients[:, None], index]  # (P, L)
        h = self.tokens(values, genes=index)  # (P, L, E)
        extra = [self.cls.expand(len(patients), -1, -1)] if self.pooling == "cls" else []
        return torch.cat([*extra, h], dim=1) if extra else h

    def packed_pool(self, x: Tensor) -> Tensor:  # (B, G) -> (B, E), before the final norm
        pooled, rows = [], []
        for patients, index, valid, mask in pack(
            self.expressed_genes(x), self.expressed_genes.bucket_padding, self.n_extra
        ):
            if index.shape[1] == 0 and self.n_extra == 0:  # no expressed gene: nothing to pool
                pooled.append(x.new_zeros(len(patients), self.norm.normalized_shape[0]))
            else:
                h = self.packed_inputs(x, patients, index)  # (P, X + L, E)
                h = run_blocks(self.blocks, h, mask, self.checkpointing)
                if index.shape[1] == 0 and self.pooling != "cls":
                    pooled.append(h.new_zeros(len(patients), h.shape[-1]))
                else:
                    pooled.append(self.pool(h, None if mask is None else valid))
            rows.append(patients)
        order = torch.argsort(torch.cat(rows))  # back to batch order
        return torch.cat(pooled)[order]

    # ------------------------------------------------------------ pretraining / fine-tuning
    head_prefixes = ("head", "base")  # the output layer and the base: new for every task
    gene_tables = ("tokens.identity.weight", "tokens.gene_value")  # one row per gene

    def pretraining_head(self) -> nn.Module:
        """Gene token state -> its standardized value (masked expression modelling)."""
        if self.expressed:
            refuse_pretraining()
        return nn.Linear(self.norm.normalized_shape[0], 1)

    def reconstruct(self, x: Tensor, hide: Tensor, head: nn.Module) -> Tensor:
        """Every gene's value from the tokens, with the values of ``hide`` masked: (B, G)."""
        h = run_blocks(self.blocks, self.embed(x, hide), self.attention_mask, self.checkpointing)
        genes = h[:, h.shape[1] - x.shape[1] :]  # (B, G, E): extra tokens come first
        return head(self.norm(genes)).squeeze(-1)

    def attention_layers(self, x: Tensor, genes: list[str]) -> list[AttentionLayer]:
        """Each block's attention over all tokens (CLS and global tokens unnamed), honouring the
        gene-set mask, for interpretation. With ``tokens=expressed`` each patient attends over
        its own kept genes: a gene not kept in a patient has a zero row and column there."""
        names: list[str | None] = [None] * self.n_extra + list(genes)
        if self.expressed:
            return self.packed_layers(x, names)
        blocks = zip(self.blocks, self.block_inputs(x), strict=True)
        return [
            AttentionLayer(
                f"layer{i}", "gene", names, mha_rows(b.attention, b.norm1(h), self.attention_mask)
            )
            for i, (b, h) in enumerate(blocks)
        ]

    def packed_layers(self, x: Tensor, names: list[str | None]) -> list[AttentionLayer]:
        """:meth:`attention_layers` for ``tokens=expressed``: one patient at a time, its rows
        scattered onto all X + G tokens."""
        b, n_tokens, x_extra = x.shape[0], len(names), self.n_extra
        patients = []  # (kept token positions among the X + G, per-block normalised inputs)
        for p, kept in enumerate(self.kept_genes(x)):
            h = self.packed_inputs(x, torch.tensor([p], device=x.device), kept[None])
            inputs = []
            for block in self.blocks:
                inputs.append(block.norm1(h))
                h = block(h)
            positions = torch.cat([torch.arange(x_extra, device=x.device), kept + x_extra])
            patients.append((positions, inputs))

        def rows_fn(rows: Tensor, i: int) -> Tensor:
            heads = self.blocks[i].attention.heads
            out = x.new_zeros(b, heads, len(rows), n_tokens)  # (B, H, R, X + G)
            for p, (positions, inputs) in enumerate(patients):
                slot = torch.full((n_tokens,), -1, dtype=torch.long, device=x.device)
                slot[positions] = torch.arange(len(positions), device=x.device)
                at = slot[rows.to(x.device)]  # each query row's token position, -1 if not kept
                have = torch.nonzero(at >= 0).squeeze(1)
                if len(have):
                    w = self.blocks[i].attention.attention_rows(inputs[i], at[have])  # (1,H,R',L)
                    out[p, :, have.to(out.device)[:, None], positions[None, :]] = w[0].to(out)
            return out

        return [
            AttentionLayer(f"layer{i}", "gene", names, lambda rows, i=i: rows_fn(rows, i))
            for i in range(len(self.blocks))
        ]

    def block_inputs(self, x: Tensor) -> list[Tensor]:
        """The input of every block, for attention extraction: a list of (B, T, E)."""
        h, inputs = self.embed(x), []
        for block in self.blocks:
            inputs.append(h)
            h = block(h, self.attention_mask)
        return inputs


def architecture(
    options: GeneTransformerOptions, context: ModelContext, x_train: np.ndarray
) -> dict[str, Any]:
    check_tokens(options)
    arch: dict[str, Any] = {}
    if options.value_embedding == "binned":
        arch["edges"] = quantile_edges(x_train, options.n_bins)
    return arch | token_arch(options, context, x_train)


def token_arch(
    options: ExpressedTokens | AttentionSettings, context: ModelContext, x_train: np.ndarray
) -> dict[str, Any]:
    """What a model of gene tokens (gene-transformer, hybrid) fixes from the training data for
    its tokens: the gene sets of ``attention_mask`` and the expressed-token thresholds."""
    arch: dict[str, Any] = {}
    gmt = options.gene_set_file()
    if gmt is not None:
        arch["gene_sets"] = gene_set_membership(gmt, context.genes)
    if options.tokens == "expressed":
        arch["expressed"] = expressed_thresholds(options, context, x_train)
    return arch


def network(
    options: GeneTransformerOptions, context: ModelContext, arch: dict[str, Any]
) -> GeneTransformer:
    gene_sets = saved_gene_sets(options.attention_mask, arch)
    n_outputs = context.target.n_outputs
    return GeneTransformer(
        options,
        context.n_genes,
        n_outputs,
        arch.get("edges"),
        gene_sets,
        saved_thresholds(options, arch),
    )


def check(options: GeneTransformerOptions, train: TrainConfig) -> None:
    check_token_attention(options, train)
    check_tokens(options)


def check_token_attention(options: Any, train: TrainConfig) -> None:
    """A model of gene tokens (gene-transformer, hybrid): heads divide ``dim``, and the backend
    runs on the device, with the gene-set mask when ``attention_mask`` sets one."""
    check_heads(options.dim, options.heads)
    masked = options.gene_set_file(train.device) is not None
    check_attention(options.attention, train, masked=masked)


SPEC = neural_spec(
    "gene-transformer",
    "Transformer over gene tokens (identity + value embedding), any attention backend",
    GeneTransformerOptions,
    architecture,
    network,
    check=check,
)
