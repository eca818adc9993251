"""``omicsformer interpret``: per-patient gene-gene interactions and gene importances of a run.

Writes to the output folder (built in a staging folder, renamed when complete):

    interactions.parquet      sample_id, gene_a, gene_b, score, method, layer
                              methods: attention_gene / attention_group (query gene_a attends to
                              key gene_b; per layer, ``mean`` over layers, optionally per head),
                              rollout (attention flow from gene_a, Abnar & Zuidema 2020),
                              hessian (x_a x_b ∂²f/∂x_a∂x_b, gradient-based) and occlusion
                              (model-agnostic finite difference) on the same candidate pairs
    gene_importance.csv       integrated gradients and gradient x input: each sample's top genes
                              (scope ``sample``) and the mean over the samples of each predicted
                              class (scope ``class``, every gene)
    recurrent_interactions.csv  for each method / layer, the pairs found in most patients' top-k
    heatmap_<sample>.png      top interacting genes of a patient (first ``plots`` patients)
    heatmap_class_<class>.png the same, averaged over the patients predicted in a class

Candidate pairs for the gradient-based scores are each patient's top attention pairs (attention
models) or the pairs among its top integrated-gradient genes (other networks).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
import torch

from omicsformer.console import note
from omicsformer.errors import ConfigError, DataError
from omicsformer.fileio import OutputFolder, write_with
from omicsformer.interpret import attention as att
from omicsformer.interpret import gradients as grad
from omicsformer.memory import out_of_memory_as_error
from omicsformer.models.neural import TorchModel
from omicsformer.runs import LoadedRun, model_inputs
from omicsformer.train.engine import EVAL_FLAG

METHODS = (
    "attention",
    "rollout",
    "integrated_gradients",
    "gradient_x_input",
    "hessian",
    "occlusion",
)
DEFAULT_METHODS = ("attention", "rollout", "integrated_gradients", "gradient_x_input", "hessian")


def select_samples(adata: ad.AnnData, samples: list[str] | None) -> ad.AnnData:
    if not samples:
        return adata
    missing = [s for s in samples if s not in adata.obs_names]
    if missing:
        raise DataError(
            f"{len(missing)} requested sample(s) not in the data, e.g. {', '.join(missing[:5])}"
        )
    return adata[samples].copy()


def interpret(
    run: LoadedRun,
    adata: ad.AnnData,
    out_dir: str | Path,
    *,
    samples: list[str] | None = None,
    top_k: int = 50,
    methods: tuple[str, ...] = DEFAULT_METHODS,
    per_head: bool = False,
    batch: int | None = None,
    chunk: int = 512,
    plots: int = 5,
    overwrite: bool = False,
) -> dict[str, pd.DataFrame]:
    """Interactions and importances of ``run``'s model for the samples of ``adata``.

    Samples go through the network ``batch`` at a time (default: the run's evaluation batch
    size), and so do the interpolated inputs of integrated gradients and the occluded copies of
    a sample; an allocation failure ends as one line naming the batch size to try."""
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        raise ConfigError(
            f"unknown method(s) {', '.join(unknown)}; choose from: {', '.join(METHODS)}"
        )
    if not isinstance(run.model, TorchModel):
        raise ConfigError(
            f"interpret explains neural models; {run.spec.name!r} is a {run.spec.family} model"
        )
    if top_k < 1:
        raise ConfigError("--top-k must be at least 1")
    output = OutputFolder(out_dir, kind="interpret", overwrite=overwrite)
    output.check()
    adata = select_samples(adata, samples)
    x_all = model_inputs(run.preprocessor, run.model, adata)  # realigns by name
    with output:
        folder = output.create()
        ids = [str(s) for s in adata.obs_names]
        edges: list[dict[str, Any]] = []
        importance: list[pd.DataFrame] = []
        predicted: list[str] = []  # filled batch by batch, as importance
        batch = batch or run.model.batch
        for start in range(0, len(ids), batch):
            with out_of_memory_as_error("interpretation", batch, EVAL_FLAG):
                edges += _interpret_batch(
                    run, x_all[start : start + batch], ids[start : start + batch], batch,
                    methods, top_k, chunk, per_head, importance, predicted,
                )  # fmt: skip
            note(f"interpreted {min(start + batch, len(ids))} of {len(ids)} samples")
        interactions = pd.DataFrame(
            edges, columns=["sample_id", "gene_a", "gene_b", "score", "method", "layer"]
        )
        gene_importance = _with_class_means(
            pd.concat(importance, ignore_index=True), ids, predicted
        )
        recurrent = recurrent_interactions(interactions)
        write_with(
            folder / "interactions.parquet", lambda tmp: interactions.to_parquet(tmp, index=False)
        )
        write_with(
            folder / "gene_importance.csv", lambda tmp: gene_importance.to_csv(tmp, index=False)
        )
        write_with(
            folder / "recurrent_interactions.csv", lambda tmp: recurrent.to_csv(tmp, index=False)
        )
        _write_heatmaps(folder, interactions, ids, predicted, plots)
        output.publish()
    return {
        "interactions": interactions,
        "gene_importance": gene_importance,
        "recurrent": recurrent,
    }


def _interpret_batch(
    run: LoadedRun,
    x_rows: np.ndarray,
    batch_ids: list[str],
    batch: int,
    methods: tuple[str, ...],
    top_k: int,
    chunk: int,
    per_head: bool,
    importance: list[pd.DataFrame],
    predicted: list[str],
) -> list[dict[str, Any]]:
    """One batch of samples: their edges; their importances and classes appended. ``batch``
    rows at most go through the network at once."""
    module, genes = run.model.module, run.preprocessor.genes
    attention_model = att.has_attention(module)
    x = torch.from_numpy(np.ascontiguousarray(x_rows))
    target = grad.targets_for(module, x)
    predicted += _class_names(run, target, len(batch_ids))
    ig = ixg = None
    if {"integrated_gradients", "hessian", "occlusion", "rollout"} & set(methods):
        # (rollout starts from its top genes)
        ig, _ = grad.integrated_gradients(module, x, target, batch=batch)
    if "gradient_x_input" in methods:
        ixg = grad.gradient_x_input(module, x, target)
    importance.append(_importance_frame(batch_ids, genes, ig, ixg))
    batch_edges: list[dict[str, Any]] = []
    wants_layers = attention_model and {"attention", "rollout"} & set(methods)
    layers = att.attention_layers(module, x, genes) if wants_layers else []
    if "attention" in methods and layers:
        batch_edges += att.top_edges(layers, batch_ids, top_k=top_k, chunk=chunk, per_head=per_head)
    if "rollout" in methods and layers and ig is not None:
        batch_edges += _rollout_edges(layers, batch_ids, ig, top_k, chunk)
    candidates = _candidates(batch_edges, batch_ids, ig, genes, top_k)
    for method in ("hessian", "occlusion"):
        if method in methods and candidates:
            batch_edges += _pair_edges(
                module, x, target, candidates, batch_ids, genes, method, batch
            )
    return batch_edges


def _class_names(run: LoadedRun, target: torch.Tensor | None, n: int) -> list[str]:
    if target is None:
        return [run.target.task] * n
    return [run.target.classes[int(t)] for t in target]


def _importance_frame(
    ids: list[str], genes: list[str], ig: np.ndarray | None, ixg: np.ndarray | None
) -> pd.DataFrame:
    n = len(ids)
    frame = pd.DataFrame(
        {"scope": "sample", "id": np.repeat(ids, len(genes)), "gene": np.tile(genes, n)}
    )
    frame["integrated_gradients"] = ig.ravel() if ig is not None else np.nan
    frame["gradient_x_input"] = ixg.ravel() if ixg is not None else np.nan
    return frame


def _with_class_means(frame: pd.DataFrame, ids: list[str], classes: list[str]) -> pd.DataFrame:
    """Each sample's top genes by |attribution|, plus the class means over every gene."""
    column = (
        "integrated_gradients"
        if frame["integrated_gradients"].notna().any()
        else "gradient_x_input"
    )
    frame["rank"] = frame.groupby("id")[column].transform(lambda v: v.abs().rank(ascending=False))
    per_sample = frame[frame["rank"] <= 100]
    klass = dict(zip(ids, classes, strict=True))
    means = (
        frame.assign(id=frame["id"].map(klass))
        .groupby(["id", "gene"], sort=False)[["integrated_gradients", "gradient_x_input"]]
        .mean()
        .reset_index()
        .assign(scope="class")
    )
    means["rank"] = means.groupby("id")[column].transform(lambda v: v.abs().rank(ascending=False))
    return pd.concat([per_sample, means[per_sample.columns]], ignore_index=True)


def _rollout_edges(
    layers: list[att.AttentionLayer], ids: list[str], ig: np.ndarray, top_k: int, chunk: int
) -> list[dict[str, Any]]:
    """Rollout from each sample's most important genes (by |IG|) over the gene-level layers."""
    gene_layers = [layer for layer in layers if layer.level == "gene"]
    if not gene_layers:
        gene_layers = [layer for layer in layers if layer.level == "group"]
    names = gene_layers[0].token_names
    offset = 1 if names[0] is None else 0  # a CLS token comes first
    edges = []
    n_rows = min(10, len(names) - offset)
    if gene_layers[0].level == "group":
        rows_of = [torch.arange(len(names))] * len(ids)
    else:
        rows_of = [torch.as_tensor(np.argsort(-np.abs(g))[:n_rows] + offset) for g in ig]
    # one rollout for the batch, from the union of the samples' rows
    union = torch.unique(torch.cat(rows_of))
    flows = att.rollout_rows(gene_layers, union, chunk)  # (B, U, T)
    not_genes = [i for i, name in enumerate(names) if name is None]
    for s, (sample, rows) in enumerate(zip(ids, rows_of, strict=True)):
        flow = flows[s, torch.searchsorted(union, rows)]  # (R, T) for this sample
        flow[torch.arange(len(rows)), rows] = -1.0
        flow[:, not_genes] = -1.0  # a CLS token is not a partner gene
        values, keys = flow.flatten().topk(min(top_k, flow.numel()))
        for value, flat in zip(values.tolist(), keys.tolist(), strict=True):
            r, key = divmod(flat, flow.shape[1])
            if value < 0 or names[key] is None:
                continue
            edges.append(
                {
                    "sample_id": sample,
                    "gene_a": names[int(rows[r])],
                    "gene_b": names[key],
                    "score": value,
                    "method": "rollout",
                    "layer": "all",
                }
            )
    return edges


def _candidates(
    edges: list[dict[str, Any]], ids: list[str], ig: np.ndarray | None, genes: list[str], top_k: int
) -> dict[str, np.ndarray]:
    """Gene-index pairs per sample for the gradient-based pair scores."""
    position = {g: i for i, g in enumerate(genes)}
    result: dict[str, np.ndarray] = {}
    for s, sample in enumerate(ids):
        pairs = {
            tuple(sorted((position[e["gene_a"]], position[e["gene_b"]])))
            for e in edges
            if e["sample_id"] == sample
            and e["method"] == "attention_gene"
            and e["gene_a"] in position
            and e["gene_b"] in position
        }
        if not pairs and ig is not None:
            top = np.argsort(-np.abs(ig[s]))[: max(2, int(np.sqrt(2 * top_k)) + 1)]
            pairs = {tuple(sorted((int(a), int(b)))) for a in top for b in top if a < b}
        if pairs:
            result[sample] = np.array(sorted(pairs))[: 4 * top_k]
    return result


def _pair_edges(
    module: torch.nn.Module,
    x: torch.Tensor,
    target: torch.Tensor | None,
    candidates: dict[str, np.ndarray],
    ids: list[str],
    genes: list[str],
    method: str,
    batch: int,
) -> list[dict[str, Any]]:
    edges = []
    for s, sample in enumerate(ids):
        pairs = candidates.get(sample)
        if pairs is None:
            continue
        t = None if target is None else target[s : s + 1]
        if method == "hessian":  # one sample with double backward
            scores = grad.hessian_interactions(module, x[s : s + 1], t, pairs)[0]
        else:  # 3 occluded copies per pair in one forward pass
            part = max(batch // 3, 1)
            scores = grad.occlusion_interactions(module, x[s : s + 1], t, pairs, part)[0]
        edges += [
            {
                "sample_id": sample,
                "gene_a": genes[a],
                "gene_b": genes[b],
                "score": float(score),
                "method": method,
                "layer": "input",
            }
            for (a, b), score in zip(pairs.tolist(), scores, strict=True)
        ]
    return edges


def recurrent_interactions(interactions: pd.DataFrame, top_n: int = 100) -> pd.DataFrame:
    """Per method and layer: the unordered gene pairs found in most patients' lists."""
    if interactions.empty:
        return pd.DataFrame(
            columns=["method", "layer", "gene_a", "gene_b", "n_patients", "mean_score"]
        )
    frame = interactions.copy()
    ordered = np.sort(frame[["gene_a", "gene_b"]].to_numpy(dtype=str), axis=1)
    frame["gene_a"], frame["gene_b"] = ordered[:, 0], ordered[:, 1]
    counts = (
        frame.groupby(["method", "layer", "gene_a", "gene_b"])
        .agg(n_patients=("sample_id", "nunique"), mean_score=("score", "mean"))
        .reset_index()
        .sort_values(
            ["method", "layer", "n_patients", "mean_score"], ascending=[True, True, False, False]
        )
    )
    return counts.groupby(["method", "layer"]).head(top_n).reset_index(drop=True)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:60]


def _write_heatmaps(
    folder: Path, interactions: pd.DataFrame, ids: list[str], classes: list[str], plots: int
) -> None:
    from omicsformer.interpret.plots import interaction_heatmap

    main = interactions[
        interactions["layer"].isin(["mean", "block0", "layer0", "gene_layer0", "all", "input"])
    ]
    if main.empty:
        return
    method = main["method"].value_counts().index[0]
    main = main[main["method"] == method]
    for sample in ids[:plots]:
        rows = main[main["sample_id"] == sample]
        if len(rows):
            write_with(
                folder / f"heatmap_{_safe(sample)}.png",
                lambda tmp, rows=rows, sample=sample: interaction_heatmap(
                    rows, tmp, f"{sample}: {method}"
                ),
            )
    klass = dict(zip(ids, classes, strict=True))
    for name in sorted(set(classes)):
        members = [s for s in ids if klass[s] == name]
        rows = main[main["sample_id"].isin(members)]
        n = len(members)
        if len(rows):
            write_with(
                folder / f"heatmap_class_{_safe(name)}.png",
                lambda tmp, rows=rows, name=name, n=n: interaction_heatmap(
                    rows, tmp, f"{name} ({n} patients): mean {method}", n_patients=n
                ),
            )
