"""Heatmaps of the strongest interactions (PNG)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from omicsformer.report.plots import plt


def interaction_heatmap(
    edges: pd.DataFrame, path: str | Path, title: str, n_genes: int = 20, n_patients: int = 1
) -> None:
    """Heatmap over the genes in the strongest edges: cell (a, b) = summed score / patients."""
    strength = (
        pd.concat([edges.groupby("gene_a")["score"].sum(), edges.groupby("gene_b")["score"].sum()])
        .groupby(level=0)
        .sum()
    )
    genes = strength.abs().sort_values(ascending=False).index[:n_genes].tolist()
    index = {g: i for i, g in enumerate(genes)}
    matrix = np.zeros((len(genes), len(genes)))
    for a, b, score in edges[["gene_a", "gene_b", "score"]].itertuples(index=False):
        if a in index and b in index:
            matrix[index[a], index[b]] += score / n_patients
    size = max(4.0, 0.32 * len(genes) + 2)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    limit = np.abs(matrix).max() or 1.0
    cmap, vmin = ("RdBu_r", -limit) if (matrix < 0).any() else ("viridis", 0.0)
    image = ax.imshow(matrix, cmap=cmap, vmin=vmin, vmax=limit)
    ax.set_xticks(range(len(genes)), genes, rotation=90, fontsize=7)
    ax.set_yticks(range(len(genes)), genes, fontsize=7)
    ax.set_xlabel("gene b (key)")
    ax.set_ylabel("gene a (query)")
    ax.set_title(title, fontsize=9)
    fig.colorbar(image, ax=ax, shrink=0.8)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=110)
    plt.close(fig)
