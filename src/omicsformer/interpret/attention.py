"""Attention-based interaction scores, computed row-chunk by row-chunk (never N x N at once).

Notation: B samples, H heads, T tokens of a layer (genes, or groups), R query rows of a chunk.

Every attention model exposes its attention *layers* (:func:`attention_layers`): for a batch of
samples, a layer knows the names of its tokens and can return the attention rows of any query
tokens, ``rows(chunk) -> (B, H, R, T)``, through the backend's own ``weight_rows``. From these:

- :func:`top_edges` streams over query chunks and keeps, per sample, the ``per_row`` strongest
  keys of each query and then the ``top_k`` strongest query -> key edges (head-averaged; per
  layer and averaged over layers). Memory: O(B · H · chunk · T) plus the kept edges.
- :func:`pair_scores` gives the (symmetrised, head- and layer-averaged) attention between given
  gene pairs, computing only the rows of the genes involved.
- :func:`rollout_rows` computes attention rollout (Abnar & Zuidema 2020) for chosen query rows:
  r ← r (½A + ½I) layer by layer, with r·A accumulated over row chunks of A.

Scores are attention weights: rows sum to 1 before any aggregation (checked in the tests).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

RowFn = Callable[[Tensor], Tensor]  # query indices (R,) -> weights (B, H, R, T)


@dataclass
class AttentionLayer:
    """One attention layer of a model, for a fixed batch of samples.

    ``token_genes`` maps each token to the gene (or group) name it stands for; ``None`` marks
    tokens that are not genes (CLS, padding). ``level`` is ``gene`` or ``group``.
    """

    name: str
    level: str
    token_names: list[str | None]
    rows: RowFn

    @property
    def n_tokens(self) -> int:
        return len(self.token_names)


@torch.no_grad()
def attention_layers(module: nn.Module, x: Tensor, genes: list[str]) -> list[AttentionLayer]:
    """The attention layers of a trained network for samples ``x`` (B, G) of ``genes``."""
    from omicsformer.models.attomics import AttOmicsNet
    from omicsformer.models.gene_transformer import GeneTransformer
    from omicsformer.models.hybrid import Hybrid

    module.eval()
    if isinstance(module, GeneTransformer):
        names: list[str | None] = [None] * module.n_extra + list(genes)  # CLS, global tokens
        mask = module.attention_mask  # the gene-set mask, or None
        layers = []
        for i, (block, h) in enumerate(zip(module.blocks, module.block_inputs(x), strict=True)):
            rows = _mha_rows(block.attention, block.norm1(h), mask)
            layers.append(AttentionLayer(f"layer{i}", "gene", names, rows))
        return layers
    if isinstance(module, AttOmicsNet):
        groups = list(module.group_names)
        maps = module(x, return_attention=True)[1]  # list of (B, H, K, K)
        return [
            AttentionLayer(f"block{i}", "group", groups, lambda rows, m=m: m[:, :, rows])
            for i, m in enumerate(maps)
        ]
    if isinstance(module, Hybrid):
        return _hybrid_layers(module, x, list(genes))
    raise TypeError(f"{type(module).__name__} has no attention layers")


def _mha_rows(attention: nn.Module, h: Tensor, mask=None) -> RowFn:
    return lambda rows: attention.attention_rows(h, rows, mask)


def _memberships(index: Tensor, valid: Tensor, n_genes: int) -> tuple[Tensor, Tensor, Tensor]:
    """For each gene, the (group, position) of each of its memberships: (G, M) each, + counts."""
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


def _hybrid_layers(module: nn.Module, x: Tensor, genes: list[str]) -> list[AttentionLayer]:
    """Hybrid: each gene-level layer is seen as one block-diagonal (within-group) matrix over all
    genes (a gene in several groups gets the average of its rows); group-level layers attend
    over the group tokens. The within-group matrices are small (K x S x S) and computed once."""
    b = x.shape[0]
    k, s = module.index.shape
    n_genes = len(genes)
    index, valid = module.index.cpu(), module.valid.cpu()
    group_of, pos_of, counts = _memberships(index, valid, n_genes)
    tokens, mask = module.gene_tokens(x)  # (B·K, S, E)
    layers = []
    h = tokens
    for i, block in enumerate(module.gene_blocks):
        within = block.attention.attention_rows(block.norm1(h), torch.arange(s), mask)
        within = within.view(b, k, -1, s, s).float().cpu()  # (B, K, H, S, S)

        def rows_fn(rows: Tensor, within=within) -> Tensor:
            rows = rows.cpu()
            out = torch.zeros(b, within.shape[2], len(rows), n_genes + 1)  # last column: padding
            for m in range(group_of.shape[1]):
                has = counts[rows] > m
                if not has.any():
                    continue
                r = torch.nonzero(has).squeeze(1)
                g, p = group_of[rows[r], m], pos_of[rows[r], m]
                values = within.permute(1, 3, 0, 2, 4)[g, p].permute(1, 2, 0, 3)  # (B, H, R', S)
                target = index[g].unsqueeze(0).unsqueeze(0).expand_as(values)  # gene of each key
                out[:, :, r] += torch.zeros_like(out[:, :, r]).scatter_add_(-1, target, values)
            out = out[..., :n_genes]
            return out / counts[rows].clamp(min=1).view(1, 1, -1, 1)

        layers.append(AttentionLayer(f"gene_layer{i}", "gene", list(genes), rows_fn))
        h = block(h, mask)
    group_tokens = module.merge(module.project(x) + module.gene_readout(h, b))
    for i, block in enumerate(module.group_blocks):
        normed = block.norm1(group_tokens)
        layers.append(
            AttentionLayer(
                f"group_layer{i}",
                "group",
                list(module.group_names),
                _mha_rows(block.attention, normed),
            )
        )
        group_tokens = block(group_tokens)
    return layers


def _chunks(n: int, size: int) -> list[Tensor]:
    return [torch.arange(i, min(i + size, n)) for i in range(0, n, size)]


@torch.no_grad()
def top_edges(
    layers: list[AttentionLayer],
    sample_ids: list[str],
    *,
    top_k: int = 50,
    per_row: int = 5,
    chunk: int = 512,
    per_head: bool = False,
) -> list[dict]:
    """The strongest query -> key attention edges per sample, per layer and averaged over layers.

    Layers of the same level and token set are averaged into a ``mean`` layer. Self-attention
    (a token to itself) and non-gene tokens are skipped.
    """
    edges: list[dict] = []
    by_level: dict[tuple, list[AttentionLayer]] = {}
    for layer in layers:
        by_level.setdefault((layer.level, tuple(layer.token_names)), []).append(layer)
    for (level, names), group in by_level.items():
        names = list(names)
        real = torch.tensor([n is not None for n in names])
        kept: dict[str, list[tuple[Tensor, Tensor, Tensor]]] = {}
        for rows in _chunks(len(names), chunk):
            weights = [layer.rows(rows).float().cpu() for layer in group]  # each (B, H, R, T)
            views = {layer.name: w.mean(dim=1) for layer, w in zip(group, weights, strict=True)}
            if len(group) > 1:
                views["mean"] = torch.stack(list(views.values())).mean(dim=0)
            if per_head:
                for layer, w in zip(group, weights, strict=True):
                    for head in range(w.shape[1]):
                        views[f"{layer.name}/head{head}"] = w[:, head]
            for name, view in views.items():  # view: (B, R, T)
                view = view.clone()
                view[:, torch.arange(len(rows)), rows] = -1.0  # no self-attention
                view[:, :, ~real] = -1.0
                view[:, ~real[rows], :] = -1.0
                values, keys = view.topk(min(per_row, view.shape[-1]), dim=-1)  # (B, R, k)
                queries = rows.view(-1, 1).expand(-1, keys.shape[-1])  # (R, k)
                kept.setdefault(name, []).append(
                    (queries.reshape(-1), values.flatten(1), keys.flatten(1))
                )
        for name, parts in kept.items():
            queries = torch.cat([q for q, _, _ in parts])  # (E,)
            values = torch.cat([v for _, v, _ in parts], dim=1)  # (B, E)
            keys = torch.cat([kk for _, _, kk in parts], dim=1)  # (B, E)
            for s, sample in enumerate(sample_ids):
                for e in torch.argsort(values[s], descending=True)[:top_k].tolist():
                    if values[s, e] < 0:
                        continue
                    edges.append(
                        {
                            "sample_id": sample,
                            "gene_a": names[int(queries[e])],
                            "gene_b": names[int(keys[s, e])],
                            "score": float(values[s, e]),
                            "method": f"attention_{level}",
                            "layer": name,
                        }
                    )
    return edges


@torch.no_grad()
def pair_scores(
    layers: list[AttentionLayer], pairs: list[tuple[str, str]], chunk: int = 256
) -> np.ndarray:
    """Symmetrised attention (A_ab + A_ba) / 2 between gene pairs, averaged over heads and over
    the gene-level layers: (B, P). Only the rows of the genes in ``pairs`` are computed."""
    gene_layers = [layer for layer in layers if layer.level == "gene"]
    if not gene_layers:
        raise ValueError("no gene-level attention layer")
    names = gene_layers[0].token_names
    position = {n: i for i, n in enumerate(names) if n is not None}
    needed = sorted({position[g] for pair in pairs for g in pair})
    rows_of: dict[int, Tensor] = {}
    for start in range(0, len(needed), chunk):
        rows = torch.tensor(needed[start : start + chunk])
        mean = torch.stack([layer.rows(rows).float().mean(dim=1) for layer in gene_layers]).mean(0)
        for r, token in enumerate(rows.tolist()):
            rows_of[token] = mean[:, r]  # (B, T)
    scores = [
        (rows_of[position[a]][:, position[b]] + rows_of[position[b]][:, position[a]]) / 2
        for a, b in pairs
    ]
    return torch.stack(scores, dim=1).cpu().numpy()


@torch.no_grad()
def rollout_rows(layers: list[AttentionLayer], rows: Tensor, chunk: int = 512) -> Tensor:
    """Attention rollout of the query tokens ``rows`` through the layers of one level: (B, R, T).

    Rollout (Abnar & Zuidema 2020, "Quantifying Attention Flow in Transformers") is the product
    Ã_L ⋯ Ã_1 with Ã_l = ½ I + ½ Ā_l (Ā_l: head-averaged attention of layer l); its rows for the
    last layer's tokens ``rows`` are computed from the top down: r = one-hot rows, then
    r ← r Ã_l for l = L, ..., 1, with r·Ā accumulated over row chunks of Ā. Rows keep summing
    to 1.
    """
    t = layers[0].n_tokens
    r = None
    for layer in reversed(layers):
        mixed = 0.0
        for part in _chunks(t, chunk):
            block = layer.rows(part).float().mean(dim=1).cpu()  # (B, C, T)
            if r is None:  # one-hot rows, once the batch size is known
                r = torch.zeros(block.shape[0], len(rows), t)
                r[:, torch.arange(len(rows)), rows] = 1.0
            mixed = mixed + torch.einsum("brc,bct->brt", r[:, :, part], block)
        r = 0.5 * r + 0.5 * mixed
    return r
