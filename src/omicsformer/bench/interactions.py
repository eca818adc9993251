"""``omicsformer bench interactions``: do extracted interactions recover planted gene pairs?

On the synthetic generator (whose label is driven by products of planted gene pairs), each model
is trained, and every candidate gene pair gets a cohort-level score from each method, averaged
over test patients:

- ``attention``: symmetrised attention (A_ab + A_ba)/2, mean over heads and gene-level layers
  (gene-transformer, hybrid); for AttOmics the attention between the genes' groups;
- ``hessian``: mean |x_a x_b ∂²f/∂x_a∂x_b| (gradient-based; zero for piecewise-linear networks);
- ``occlusion``: mean |f(x) - f(x¬a) - f(x¬b) + f(x¬a¬b)| (model-agnostic);

against two controls that need no model: ``random`` (2,000 random rankings: their mean, and
the ``p_value`` of each method = the share of random rankings with an AUROC at least as high)
and ``pair_product_correlation`` (|correlation of x_a·x_b with the label| on the training
split, an oracle-like control: it looks for exactly the planted kind of interaction). Recovery is
scored by the AUROC of planted vs other pairs and precision@k (k = number of planted pairs, and
10). Results go to ``interactions.csv`` (one row per model x method) and are printed;
``report.html`` is their page (unless ``report=False``).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import roc_auc_score

from omicsformer.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from omicsformer.console import note
from omicsformer.data.datasets.synthetic import SyntheticOptions
from omicsformer.errors import ConfigError
from omicsformer.fileio import OutputFolder, write_with
from omicsformer.interpret import attention as att
from omicsformer.interpret import gradients as grad
from omicsformer.pipeline import train_run
from omicsformer.report.pages import publish_with_report
from omicsformer.runs import load_run, model_inputs

DEFAULT_DATA = {
    "n_samples": 2000,
    "n_genes": 50,
    "n_classes": 2,
    "n_modules": 2,
    "module_size": 5,
    "n_pairs": 3,
    "n_marginal": 0,
    "noise": 0.3,
}


def recovery(scores: np.ndarray, planted: np.ndarray, ks: tuple[int, ...]) -> dict[str, float]:
    """AUROC of planted vs other pairs, and the share of planted pairs in the top k."""
    order = np.argsort(-scores, kind="stable")
    result = {"auroc": float(roc_auc_score(planted, scores))}
    for k in ks:
        result[f"precision_at_{k}"] = float(planted[order[:k]].mean())
    return result


def pair_product_correlation(x: np.ndarray, y: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """|corr(x_a · x_b, y)| on training data: the model-free control."""
    products = x[:, pairs[:, 0]] * x[:, pairs[:, 1]]  # (N, P)
    products = (products - products.mean(0)) / (products.std(0) + 1e-12)
    target = (y - y.mean()) / (y.std() + 1e-12)
    return np.abs(products.T @ target) / len(y)


def model_scores(
    run: Any, x: np.ndarray, pairs: np.ndarray, genes: list[str], methods: tuple[str, ...]
) -> dict[str, np.ndarray]:
    """Cohort-level pair scores of a trained run for each method it supports."""
    module = run.model.module
    xt = torch.from_numpy(np.ascontiguousarray(x))
    target = grad.targets_for(module, xt)
    scores: dict[str, np.ndarray] = {}
    if "attention" in methods and att.has_attention(module):
        scores["attention"] = _attention_scores(module, xt, pairs, genes, run.model.batch)
    if "hessian" in methods:
        values = np.concatenate(
            [
                np.abs(grad.hessian_interactions(module, xt[i : i + 16], _t(target, i), pairs))
                for i in range(0, len(xt), 16)
            ]
        )
        scores["hessian"] = values.mean(axis=0)
    if "occlusion" in methods:
        values = np.abs(grad.occlusion_interactions(module, xt, target, pairs, batch=512))
        scores["occlusion"] = values.mean(axis=0)
    return scores


def _t(target: torch.Tensor | None, i: int) -> torch.Tensor | None:
    return None if target is None else target[i : i + 16]


def _attention_scores(
    module: Any, x: torch.Tensor, pairs: np.ndarray, genes: list[str], batch: int
) -> np.ndarray:
    """Each pair's attention score, the mean over patients, computed ``batch`` patients at a
    time (the run's evaluation batch: the attention states of a whole cohort need not fit)."""
    named = [(genes[a], genes[b]) for a, b in pairs]
    per_patient = []
    for i in range(0, len(x), batch):
        layers = att.attention_layers(module, x[i : i + batch], genes)
        if all(layer.level == "group" for layer in layers):  # AttOmics: between gene groups
            return _group_pair_attention(module, x, pairs, batch)
        per_patient.append(att.pair_scores(layers, named))  # (b, P)
    return np.concatenate(per_patient).mean(axis=0)


@torch.no_grad()
def _group_pair_attention(
    module: Any, x: torch.Tensor, pairs: np.ndarray, batch: int
) -> np.ndarray:
    """AttOmics: the attention between the groups of a and b (head-, block- and patient-mean),
    ``batch`` patients at a time."""
    total = None  # (K, K): sum over patients of the head- and block-mean attention
    for i in range(0, len(x), batch):
        maps = module(x[i : i + batch], return_attention=True)[1]  # blocks x (b, H, K, K)
        part = torch.stack([m.float().mean(dim=1).sum(dim=0) for m in maps]).mean(0)
        total = part if total is None else total + part
    mean = (total / len(x)).cpu().numpy()
    sym = (mean + mean.T) / 2
    group_of: dict[int, list[int]] = {}
    for k, members in enumerate(module.group_members):
        for g in members:
            group_of.setdefault(int(g), []).append(k)
    return np.array(
        [np.mean([sym[ka, kb] for ka in group_of[a] for kb in group_of[b]]) for a, b in pairs]
    )


def bench_interactions(
    out_dir: str | Path,
    *,
    models: list[str],
    data: dict[str, Any] | None = None,
    methods: tuple[str, ...] = ("attention", "hessian", "occlusion"),
    seed: int = 0,
    max_epochs: int = 60,
    patience: int = 15,
    test_patients: int = 200,
    max_pairs: int = 3000,
    options: dict[str, dict[str, Any]] | None = None,
    overwrite: bool = False,
    report: bool = True,
) -> pd.DataFrame:
    """Train each model on planted data, score all (or ``max_pairs``) pairs, write the table."""
    generator = SyntheticOptions.parse({**DEFAULT_DATA, **(data or {}), "seed": seed})
    if generator.n_classes != 2:
        raise ConfigError("bench interactions uses a binary label (n_classes=2)")
    output = OutputFolder(out_dir, kind="bench-interactions", overwrite=overwrite)
    output.check()
    synthetic = generator.generate()
    genes = list(synthetic.adata.var_names)
    position = {g: i for i, g in enumerate(genes)}
    planted_set = {tuple(sorted((position[p.a], position[p.b]))) for p in synthetic.pairs}
    pairs = _candidate_pairs(len(genes), planted_set, max_pairs, seed)
    planted = np.array([tuple(p) in planted_set for p in pairs.tolist()], dtype=int)
    with output:
        folder = output.create()
        rows: list[dict[str, Any]] = []
        runs_dir = folder / "runs"
        first = True
        for name in models:
            config = RunConfig(
                data=DataConfig(source=generator.source),
                model=ModelConfig(name=name, options=dict((options or {}).get(name, {}))),
                train=TrainConfig(max_epochs=max_epochs, patience=patience),
                seed=seed,
            )
            trained = train_run(config, runs_dir / name)
            assert trained is not None
            run = load_run(trained[0])
            split = json.loads((trained[0] / "splits.json").read_text())
            adata = synthetic.adata
            x_all = model_inputs(run.preprocessor, run.model, adata)
            index = {s: i for i, s in enumerate(adata.obs_names)}
            train_rows = [index[s] for s in split["train"]]
            test_rows = [index[s] for s in split["test"]][:test_patients]
            if first:  # controls, once: they do not depend on the model
                y = (adata.obs["label"].to_numpy() == "class_1").astype(float)[train_rows]
                random_aurocs = _random_aurocs(planted, seed)
                ks = (int(planted.sum()), 10)
                rows.append(
                    {
                        "model": "(control)",
                        "method": "random (mean of 2000)",
                        "auroc": float(random_aurocs.mean()),
                        **{f"precision_at_{k}": float(planted.mean()) for k in ks},
                        "p_value": 0.5,
                    }
                )
                scores = pair_product_correlation(x_all[train_rows], y, pairs)
                rows.append(
                    {
                        "model": "(control)",
                        "method": "pair_product_correlation",
                        **_row(scores, planted, random_aurocs),
                    }
                )
                first = False
            quality = trained[1].metrics["test"]["balanced_accuracy"]
            note(f"{name}: test balanced accuracy {quality:.3f}; scoring {len(pairs)} pairs")
            for method, scores in model_scores(
                run, x_all[test_rows], pairs, genes, methods
            ).items():
                rows.append(
                    {
                        "model": name,
                        "method": method,
                        "test_balanced_accuracy": quality,
                        **_row(scores, planted, random_aurocs),
                    }
                )
        table = pd.DataFrame(rows)
        meta = {
            "data": dataclasses.asdict(generator),
            "n_pairs_scored": len(pairs),
            "n_planted": int(planted.sum()),
        }
        write_with(folder / "interactions.csv", lambda tmp: table.to_csv(tmp, index=False))
        write_with(
            folder / "setup.json", lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=2))
        )
        publish_with_report(output, report)
    return table


def _random_aurocs(planted: np.ndarray, seed: int, n: int = 2000) -> np.ndarray:
    rng = np.random.default_rng(seed + 1)
    return np.array([roc_auc_score(planted, rng.random(len(planted))) for _ in range(n)])


def _row(scores: np.ndarray, planted: np.ndarray, random_aurocs: np.ndarray) -> dict[str, float]:
    result = recovery(scores, planted, (int(planted.sum()), 10))
    result["p_value"] = float(np.mean(random_aurocs >= result["auroc"]))
    return result


def _candidate_pairs(n_genes: int, planted: set, max_pairs: int, seed: int) -> np.ndarray:
    every = list(itertools.combinations(range(n_genes), 2))
    if len(every) <= max_pairs:
        return np.array(every)
    rng = np.random.default_rng(seed)
    others = [p for p in every if p not in planted]
    chosen = [others[i] for i in rng.choice(len(others), max_pairs - len(planted), replace=False)]
    return np.array(sorted(planted) + chosen)
