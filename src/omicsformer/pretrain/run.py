"""Self-supervised pretraining of the attention models, and fine-tuning from it.

``omicsformer pretrain --data A [--data B ...] --model M --out P`` reads each cohort (genes
named alike by ``--gene-id``), applies the transform, standardizes every gene within its own
cohort (so that the cohorts' offsets do not become signal), aligns the cohorts by gene name (a
gene one cohort lacks is NaN there: hidden from the network and left out of the loss), and
trains ``M`` to reconstruct hidden genes (:mod:`omicsformer.pretrain.masked`). No label is
read. A tenth of the patients (seeded) is held out: its reconstruction loss picks the kept epoch
and stops training.

The folder ``P`` (kind ``pretrained``) holds::

    pretrained.json       model, options, genes, architecture, mask fraction, cohorts, best epoch
    weights.safetensors   the network's weights (without the reconstruction head)
    history.csv           reconstruction loss per epoch (training and held-out patients)
    omicsformer.json      checksums

``train`` / ``compare`` / ``tune`` take ``--init P`` (:func:`load_pretrained`, then
:func:`omicsformer.models.transfer.transfer`): the model is built with P's options, and when the
run's genes are P's genes (the run keeps them whenever the data has them all) with P's
architecture, so that every weight but the output head carries over; the gene-token models also
accept other genes, matching their per-gene embeddings by name. ``--finetune head`` trains the
output head only.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from safetensors.torch import load_file, save_file
from torch import Tensor

from omicsformer.config import PRETRAINABLE, TrainConfig
from omicsformer.errors import ConfigError, DataError, OmicsformerError
from omicsformer.fileio import (
    OutputFolder,
    read_file,
    read_json,
    verify_output,
    write_json,
    write_with,
)
from omicsformer.models import MODELS, ModelContext, build_model
from omicsformer.models.neural import TorchModel
from omicsformer.pretrain.masked import MaskedExpression, masked_mse
from omicsformer.tasks import TargetInfo
from omicsformer.train import engine

KIND = "pretrained"


@dataclass
class Pretrained:
    """A pretrained network: what is needed to build it again and its weights."""

    model: str
    options: dict[str, Any]
    genes: list[str]
    architecture: dict[str, Any]
    state: dict[str, Tensor]
    info: dict[str, Any] = field(default_factory=dict)
    folder: Path | None = None

    def describe(self) -> str:
        where = f" ({self.folder})" if self.folder else ""
        return f"{self.model} pretrained on {self.info.get('n_patients', '?')} patients{where}"


def check_pretrainable(model: str) -> None:
    if model not in PRETRAINABLE:
        raise ConfigError(
            f"model {model!r} cannot be pretrained; pretraining supports: {', '.join(PRETRAINABLE)}"
        )


def standardize(values: np.ndarray) -> np.ndarray:
    """Z-score every gene within one cohort (NaN kept as not measured; constant genes -> 0)."""
    with np.errstate(invalid="ignore"):
        mean = np.nanmean(values, axis=0)
        sd = np.nanstd(values, axis=0)
    sd = np.where(np.isfinite(sd) & (sd > 1e-8), sd, 1.0)
    return ((values - np.nan_to_num(mean)) / sd).astype(np.float32)


def align(cohorts: list[tuple[np.ndarray, list[str]]], genes: list[str]) -> np.ndarray:
    """Stack cohorts (values, genes) on the columns ``genes``; absent genes are NaN."""
    blocks = []
    for values, names in cohorts:
        position = {g: i for i, g in enumerate(names)}
        block = np.full((len(values), len(genes)), np.nan, dtype=np.float32)
        have = [j for j, g in enumerate(genes) if g in position]
        block[:, have] = values[:, [position[genes[j]] for j in have]]
        blocks.append(block)
    return np.concatenate(blocks)


def pretrain_network(
    model: str,
    options: dict[str, Any],
    genes: list[str],
    x: np.ndarray,
    train: TrainConfig,
    *,
    seed: int = 0,
    fraction: float = 0.15,
    val_fraction: float = 0.1,
    progress: bool = True,
) -> tuple[Pretrained, list[dict[str, float]]]:
    """Pretrain ``model`` on standardized ``x`` (patients x ``genes``, NaN = not measured).

    Returns the pretrained network and the per-epoch history.
    """
    check_pretrainable(model)
    if not 0 < fraction < 1:
        raise ConfigError(f"--mask-fraction must be in (0, 1), got {fraction}")
    spec = MODELS.get(model)
    if len(x) < 10:
        raise DataError(f"pretraining needs at least 10 patients, got {len(x)}")
    context = ModelContext(genes=list(genes), target=TargetInfo("regression", [], []), seed=seed)
    torch.manual_seed(seed)
    shell = build_model(spec, options, context)
    assert isinstance(shell, TorchModel)
    filled = np.nan_to_num(x)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(x))
    n_val = max(1, round(val_fraction * len(x)))
    val, fit_rows = np.sort(order[:n_val]), np.sort(order[n_val:])
    architecture = shell.architecture(shell.options, context, filled[fit_rows])
    network = shell.network(shell.options, context, architecture)
    wrapper = MaskedExpression(network, fraction)
    data = engine.TrainData(
        x_train=torch.from_numpy(x[fit_rows]),
        y_train=torch.from_numpy(x[fit_rows]),
        x_val=torch.from_numpy(x[val]),
        y_val=torch.from_numpy(x[val]),
    )
    hooks = engine.TaskHooks(
        loss=masked_mse,
        output=lambda packed: packed.numpy(),
        metrics=lambda y, output: {},
        y_val_numpy=x[val],
        main_metric="loss",
    )
    settings = dataclasses.replace(
        train,
        lr=train.lr or shell.default_lr,
        batch_size=train.batch_size or 32,
        monitor="loss",
    )
    result = engine.fit(wrapper, data, hooks, settings, seed=seed, progress=progress)
    wrapper.load_state_dict(result.best_state)
    heads = tuple(getattr(network, "head_prefixes", ("head",)))
    state = {  # the network without its (untrained) output head
        name.removeprefix("network."): tensor.detach().cpu().contiguous()
        for name, tensor in wrapper.state_dict().items()
        if name.startswith("network.") and not name.removeprefix("network.").startswith(heads)
    }
    best = next(r for r in result.history if r["epoch"] == result.best_epoch)
    info = {
        "n_patients": len(x),
        "n_genes": len(genes),
        "mask_fraction": fraction,
        "best_epoch": result.best_epoch,
        "epochs_run": result.epochs_run,
        "best_val_reconstruction_mse": best.get("val_loss"),
        "seconds": round(result.seconds, 1),
        "lr": settings.lr,
        "batch_size": settings.batch_size,
    }
    options_used = dataclasses.asdict(shell.options)
    pretrained = Pretrained(model, options_used, list(genes), architecture, state, info)
    return pretrained, result.history


def save_pretrained(
    pretrained: Pretrained,
    out: str | Path,
    history: list[dict[str, float]],
    cohorts: list[dict[str, Any]],
    *,
    overwrite: bool = False,
) -> Path:
    output = OutputFolder(out, kind=KIND, overwrite=overwrite)
    output.check()
    with output:
        folder = output.create()
        write_json(
            folder / "pretrained.json",
            {
                "model": pretrained.model,
                "options": pretrained.options,
                "genes": pretrained.genes,
                "architecture": pretrained.architecture,
                "cohorts": cohorts,
                **pretrained.info,
            },
        )
        write_with(
            folder / "weights.safetensors", lambda tmp: save_file(pretrained.state, str(tmp))
        )
        frame = pd.DataFrame(history)
        write_with(folder / "history.csv", lambda tmp: frame.to_csv(tmp, index=False))
        return output.publish()


def pretrained_model(folder: str | Path) -> str | None:
    """The model a pretraining folder holds, from its ``pretrained.json`` alone (no weights
    read); None where that cannot be told (:func:`load_pretrained` then says why)."""
    path = Path(folder) / "pretrained.json"
    try:
        model = read_json(path).get("model") if path.is_file() else None
    except (OmicsformerError, AttributeError):
        return None
    return model if isinstance(model, str) else None


def load_pretrained(folder: str | Path) -> Pretrained:
    """A folder made by ``omicsformer pretrain``, after checking its checksums."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"--init {folder}: no such folder")
    verify_output(folder, KIND, "a folder made by `omicsformer pretrain`")
    meta = read_json(folder / "pretrained.json")
    state = read_file(folder / "weights.safetensors", lambda p: load_file(str(p)))
    try:
        check_pretrainable(meta["model"])
        info = {k: v for k, v in meta.items() if k not in ("options", "genes", "architecture")}
        return Pretrained(
            meta["model"],
            MODELS.get(meta["model"]).saved_options(dict(meta["options"])),
            list(meta["genes"]),
            dict(meta["architecture"]),
            state,
            info,
            folder,
        )
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"{folder / 'pretrained.json'}: damaged ({exc})") from None


def pretrain_cohorts(
    sources: list[str],
    model: str,
    options: dict[str, Any],
    out: str | Path,
    train: TrainConfig,
    *,
    layout: str = "samples-by-genes",
    layer: str | None = None,
    gene_id: str = "keep",
    duplicate_genes: str = "mean",
    transform: str = "none",
    top_genes: int | None = None,
    fraction: float = 0.15,
    seed: int = 0,
    overwrite: bool = False,
) -> tuple[Path, Pretrained]:
    """``omicsformer pretrain``: read (genes named by ``gene_id``, see
    :mod:`omicsformer.data.gene_ids`), standardize and align the cohorts, pretrain, save."""
    from omicsformer.data.preprocess import check_values
    from omicsformer.data.readers import load_data
    from omicsformer.data.scale import check_scale
    from omicsformer.data.transforms import apply_transform

    check_pretrainable(model)
    MODELS.get(model).validate(options, train)
    output = OutputFolder(out, kind=KIND, overwrite=overwrite)
    output.check()  # before any data is read
    cohorts, records, spread = [], [], []
    for source in sources:
        adata = load_data(
            source, layout=layout, layer=layer, gene_id=gene_id, duplicate_genes=duplicate_genes
        )
        check_scale(adata, transform)
        values = np.asarray(adata.X, dtype=np.float32)
        check_values(
            np.where(np.isfinite(values), values, 0), list(adata.var_names), transform, "none"
        )
        values = apply_transform(values, transform)
        genes = list(map(str, adata.var_names))
        with np.errstate(invalid="ignore"):
            spread.append(pd.Series(np.nanvar(values, axis=0), index=genes))
        cohorts.append((standardize(values), genes))
        records.append(
            {"source": source, "n_patients": len(values), "n_genes": len(genes), "gene_id": gene_id}
        )
    union = list(dict.fromkeys(g for _, genes in cohorts for g in genes))
    if top_genes is not None and top_genes < len(union):
        variance = pd.concat(spread, axis=1).mean(axis=1, skipna=True).reindex(union)
        keep = set(variance.sort_values(ascending=False, kind="stable").index[:top_genes])
        union = [g for g in union if g in keep]
    x = align(cohorts, union)
    for record, (_, genes) in zip(records, cohorts, strict=True):
        record["genes_in_model"] = len(set(genes) & set(union))
    pretrained, history = pretrain_network(
        model, options, union, x, train, seed=seed, fraction=fraction
    )
    folder = save_pretrained(pretrained, out, history, records, overwrite=overwrite)
    pretrained.folder = folder
    return folder, pretrained
