"""Attention-based interaction scores, computed row-chunk by row-chunk (never N x N at once).

Notation: B samples, H heads, T tokens of a layer (genes, or groups), R query rows of a chunk.

Every attention network exposes its attention *layers* (its ``attention_layers`` method, see
:mod:`omicsformer.nn.attention.layers`): for a batch of samples, a layer knows the names of its
tokens and can return the attention rows of any query tokens, ``rows(chunk) -> (B, H, R, T)``,
through the backend's own ``weight_rows``. From these:

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

import numpy as np
import torch
from torch import Tensor, nn

from omicsformer.nn.attention.layers import AttentionLayer


@torch.no_grad()
def attention_layers(module: nn.Module, x: Tensor, genes: list[str]) -> list[AttentionLayer]:
    """The attention layers of a trained network for samples ``x`` (B, G) of ``genes``: the
    network's own ``attention_layers`` (see :mod:`omicsformer.nn.attention.layers`), in
    evaluation mode."""
    if not has_attention(module):
        raise TypeError(f"{type(module).__name__} has no attention layers")
    module.eval()
    return module.attention_layers(x, list(genes))


def has_attention(module: nn.Module) -> bool:
    """Whether a network offers its attention layers to interpretation."""
    return callable(getattr(module, "attention_layers", None))


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
