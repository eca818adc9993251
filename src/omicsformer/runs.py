"""The run folder: written by a training run, loaded to predict and evaluate.

A run folder holds everything needed to repeat or reuse a run::

    config.yaml             the RunConfig (re-run with `omicsformer train --config`)
    splits.json             train / val / test sample IDs, the seed and grouped_by
    preprocess.safetensors  fitted preprocessing (training split only) and gene names
    model/                  model.json (name, options, target, genes) + weights
    predictions.csv         sample_id, split, true, predicted, per-class probabilities
    task_state.json         the task's state fitted on the training part (scale, baseline)
    metrics.json            {"train": ..., "val": ..., "test": ...}
    base_metrics.json       a network with a base: the same for the base alone (what the
                            network added is the difference on the same patients)
    run.json                task, sizes, timings, software versions
    history.csv             per-epoch training history (neural models), with learning_curve.png
    km_test.png             Kaplan-Meier curves by predicted risk (survival; regression:
                            predicted_vs_observed.png)

The folder is built in a hidden staging folder and renamed into place when complete.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
import yaml

from omicsformer import __version__
from omicsformer.cohort import FitResult, PreparedData
from omicsformer.config import RunConfig
from omicsformer.console import note
from omicsformer.data.preprocess import Preprocessor
from omicsformer.data.scale import check_scale
from omicsformer.data.splits import Split, splits_to_json
from omicsformer.data.targets import drop_missing_targets, require_columns
from omicsformer.errors import ConfigError, RunError
from omicsformer.fileio import (
    OutputFolder,
    read_file,
    read_json,
    unfinished,
    verify_output,
    write_json,
    write_with,
    write_yaml,
)
from omicsformer.models import Model, ModelSpec
from omicsformer.models.base import load_model, save_model, used_inputs
from omicsformer.report.plots import learning_curve
from omicsformer.tasks import TASKS, TargetInfo, Task
from omicsformer.train.engine import CHECKPOINT


def run_folder(out: str | Path, *, overwrite: bool = False) -> OutputFolder:
    """The output folder of a training run (resumable from its per-epoch checkpoint)."""
    return OutputFolder(out, kind="run", overwrite=overwrite, checkpoint=f"checkpoint/{CHECKPOINT}")


def write_run(
    folder: Path, config: RunConfig, data: PreparedData, split: Split, result: FitResult
) -> None:
    write_yaml(folder / "config.yaml", config.to_dict())
    write_json(folder / "splits.json", splits_record(config, data, split))
    history = getattr(result.model, "history", None)
    if history:
        frame = pd.DataFrame(history)
        write_with(folder / "history.csv", lambda tmp: frame.to_csv(tmp, index=False))
        write_with(
            folder / "learning_curve.png",
            lambda tmp: learning_curve(
                frame,
                tmp,
                monitor=result.fitted.get("monitor", "loss"),
                best_epoch=result.fitted.get("best_epoch"),
            ),
        )
    result.preprocessor.save(folder / "preprocess.safetensors")
    save_model(result.model, result.spec, result.options, folder / "model", result.fitted)
    frames = [
        prediction_frame(
            data.task,
            data.target,
            data.sample_ids[idx],
            result.outputs[part],
            data.y[idx],
            result.task_state,
            part,
        )
        for part, idx in split.items()
        if len(idx)
    ]
    predictions = pd.concat(frames, ignore_index=True)
    write_with(folder / "predictions.csv", lambda tmp: predictions.to_csv(tmp, index=False))
    write_json(folder / "task_state.json", result.task_state)
    write_json(folder / "metrics.json", result.metrics)
    if result.base_metrics is not None:
        write_json(folder / "base_metrics.json", result.base_metrics)
    _write_task_plots(folder, data, split, result)
    write_json(
        folder / "run.json",
        {
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "model": config.model.name,
            "target": data.target.to_dict(),
            "n_samples": {part: len(idx) for part, idx in split.items()},
            "n_genes_input": len(result.preprocessor.input_genes),
            "n_genes_model": result.preprocessor.n_genes,
            "n_parameters": result.model.n_parameters(),
            "fitted": {k: v for k, v in result.fitted.items() if k != "architecture"},
            "fit_seconds": round(result.fit_seconds, 3),
            "predict_seconds": round(result.predict_seconds, 3),
            "software": software_versions(),
        },
    )


def _write_task_plots(folder: Path, data: PreparedData, split: Split, result: FitResult) -> None:
    """The task's figures of the test patients (survival: Kaplan-Meier curves by predicted
    risk; regression: predicted vs observed)."""
    test = split["test"]
    if not len(test):  # an estimator's run: its test parts are the caller's
        return
    plots = data.task.plots(data.y[test], result.outputs["test"])
    for name, writer in plots.items():
        write_with(folder / name, writer)


def splits_record(config: RunConfig, data: PreparedData, split: Split) -> dict:
    return splits_to_json(
        split,
        data.sample_ids,
        seed=config.seed,
        stratified_on=data.target.columns,
        grouped_by=data.group_by,
    )


def check_same_split(folder: Path, split: Split, data: PreparedData) -> None:
    saved = read_json(folder / "splits.json")
    now = splits_to_json(split, data.sample_ids)
    if any(saved.get(part) != now[part] for part in now):
        raise RunError("the data no longer gives the interrupted run's split; cannot resume")


def prediction_frame(
    task: Task,
    target: TargetInfo,
    sample_ids: np.ndarray,
    output: np.ndarray,
    y: np.ndarray | None,
    state: dict[str, Any],
    split_name: str | np.ndarray | None = None,
) -> pd.DataFrame:
    """predictions.csv content: sample_id, (split), then the task's columns."""
    columns: dict[str, Any] = {"sample_id": sample_ids}
    if split_name is not None:
        columns["split"] = split_name
    columns.update(task.prediction_columns(y, output, target, state))
    return pd.DataFrame(columns)


def software_versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    versions = {"omicsformer": __version__, "python": platform.python_version()}
    for package in ("torch", "numpy", "scikit-learn", "anndata", "pandas"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "not installed"
    return versions


# --------------------------------------------------------------------------- using a saved run
@dataclass
class LoadedRun:
    folder: Path
    config: RunConfig
    preprocessor: Preprocessor
    model: Model
    spec: ModelSpec
    target: TargetInfo
    task_state: dict[str, Any]

    @property
    def task(self) -> Task:
        return TASKS.get(self.target.task)


def load_run(folder: str | Path, *, eval_batch_size: int | None = None) -> LoadedRun:
    """Load a finished run folder (config, preprocessing, model), after checking that its
    files are exactly those omicsformer wrote. A network predicts in batches of the run's
    evaluation batch size, or of ``eval_batch_size`` if given."""
    folder = Path(folder)
    if not folder.is_dir():
        if todo := unfinished(folder):
            raise RunError(f"{folder}: never finished: {todo}")
        if folder.is_file():
            raise RunError(
                f"{folder}: {describe_file(folder)}, not a run folder (a run is the folder "
                "`omicsformer train` writes); give the run folder, and the data with --data"
            )
        raise RunError(f"{folder}: run folder not found")
    verify_output(folder, "run", "a run folder made by `omicsformer train`")
    config = read_file(
        folder / "config.yaml", lambda p: RunConfig.from_dict(yaml.safe_load(p.read_text()))
    )
    preprocessor = read_file(folder / "preprocess.safetensors", Preprocessor.load)
    model, spec, _ = load_model(folder / "model")
    if eval_batch_size is not None and hasattr(model, "eval_batch_size"):  # networks only
        model.eval_batch_size = eval_batch_size
    state = read_json(folder / "task_state.json")
    return LoadedRun(folder, config, preprocessor, model, spec, model.context.target, state)


def describe_file(path: Path) -> str:
    """What a file given where a run folder was expected looks like: ``an AnnData file
    (.h5ad)``, ``a CSV table``, ... (by its name)."""
    suffixes = [s.lower() for s in path.suffixes if s.lower() != ".gz"]
    last = suffixes[-1] if suffixes else ""
    kinds = {
        ".h5ad": "an AnnData file (.h5ad)",
        ".csv": "a CSV table",
        ".tsv": "a TSV table",
        ".txt": "a text table",
        ".parquet": "a Parquet table",
        ".yaml": "a YAML file",
        ".json": "a JSON file",
    }
    return kinds.get(last, "a file")


def read_for_run(
    run: LoadedRun,
    source: str,
    *,
    labels: str | None = None,
    layout: str | None = None,
    sample_id: str | None = None,
    layer: str | None = None,
    gene_id: str | None = None,
    duplicate_genes: str | None = None,
    gdc_column: str | None = None,
    sample_types: Sequence[str] | str | None = None,
    targets: Iterable[str] = (),
) -> ad.AnnData:
    """New data for ``run`` (predict, evaluate, embed, interpret), read as the run's training
    data was: its gene naming (:func:`gene_id_for`) and combination of repeated genes, a GDC
    folder's value column, the obs columns of its target and batch key (and ``targets``, other
    target columns to score), TCGA barcode columns (a ``--batch-key tss`` run finds each
    sample's centre). Arguments left None take the run's setting or the reader's default."""
    from omicsformer.data import tcga
    from omicsformer.data.readers import load_data

    columns = list(run.target.columns)
    if run.preprocessor.batch is not None:
        columns.append(run.preprocessor.batch.key)
    columns += [c for c in targets if c]
    adata = load_data(
        source,
        labels=labels,
        layout=layout or "samples-by-genes",
        sample_id=sample_id,
        layer=layer,
        obs_columns=columns,
        gene_id=gene_id_for(run, gene_id),
        duplicate_genes=duplicate_genes or run.config.data.duplicate_genes,
        # a GDC folder is read with the run's value column unless told otherwise
        gdc_column=gdc_column or (run.config.data.gdc_column if Path(source).is_dir() else None),
        sample_types=sample_types,
    )
    tcga.add_barcode_columns(adata)
    return adata


def gene_id_for(run: LoadedRun, given: str | None) -> str | None:
    """The gene naming new data needs to meet ``run``'s genes: the run's own ``--gene-id``. A
    run trained with ``keep`` may name a kind (its genes are of that kind; the new data is
    mapped to it); a run that mapped its genes cannot take another kind."""
    from omicsformer.data.gene_ids import strip_version

    trained = run.config.data.gene_id
    if given is not None and trained != "keep" and given != trained:
        raise ConfigError(
            f"{run.folder} was trained on genes mapped to {trained}; --gene-id {given} would "
            f"not match them (leave --gene-id out, or give {trained})"
        )
    if given is None and trained == "keep":
        # a run trained before IDs were normalised: read new data exactly as it was then
        if any(strip_version(g) != g for g in run.preprocessor.input_genes):
            return None
    return given or trained


def model_inputs(preprocessor: Preprocessor, model: Model, adata: ad.AnnData) -> Any:
    """What a fitted model reads of new samples: the value scale checked against the training
    data's, genes realigned by name, only the genes the model reads, preprocessed."""
    check_scale(adata, preprocessor.transform, trained=True, trained_scale=preprocessor.value_scale)
    return preprocessor.apply_to(adata, used_inputs(model))


def model_outputs(
    preprocessor: Preprocessor, model: Model, adata: ad.AnnData, *, embed: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """A fitted model's output for every sample of ``adata`` and, with ``embed`` and a model
    that gives one, the patient embedding (:func:`model_inputs`). The one prediction path of a
    fitted run: the command line, the Python API and the reports go through it."""
    x = model_inputs(preprocessor, model, adata)
    output = model.predict(x)
    embedding = model.embed(x) if embed and hasattr(model, "embed") else None
    return output, embedding


def predict_run(run: LoadedRun, adata: ad.AnnData) -> np.ndarray:
    """The model's output for every sample of ``adata`` (genes realigned by name)."""
    return model_outputs(run.preprocessor, run.model, adata)[0]


def predictions_for(run: LoadedRun, adata: ad.AnnData) -> pd.DataFrame:
    """predictions.csv rows for new data; the observed target is included when present."""
    output = predict_run(run, adata)
    frame = prediction_frame(
        run.task, run.target, np.asarray(adata.obs_names), output, None, run.task_state
    )
    columns = [c for c in run.target.columns if c in adata.obs.columns]
    if columns == run.target.columns:
        observed = adata.obs[columns].reset_index(drop=True)
        if len(columns) == 1:
            observed.columns = ["true"]
        for i, column in enumerate(observed.columns):
            frame.insert(1 + i, column, observed[column].to_numpy())
    return frame


def warn_if_seen(run: LoadedRun, adata: ad.AnnData) -> int:
    """Warn when samples of ``adata`` were used to fit the run (training or validation part):
    their scores are optimistic. Returns how many were."""
    record = read_json(run.folder / "splits.json")
    ids = set(map(str, adata.obs_names))
    seen = {part: len(ids & set(record.get(part, []))) for part in ("train", "val")}
    if sum(seen.values()):
        note(
            f"warning: {seen['train']} of these {len(ids)} samples were in the run's training "
            f"part and {seen['val']} in its validation part; their scores are optimistic "
            "(evaluate on patients the model has not seen)"
        )
    return sum(seen.values())


def evaluate_run(
    run: LoadedRun, adata: ad.AnnData, columns: list[str] | None = None
) -> dict[str, Any]:
    """Metrics of a saved model on labelled data (the run's target columns unless ``columns``).

    For classification and regression, samples with a missing target are dropped.
    """
    target_info = run.target
    if columns and columns != target_info.columns:
        if len(columns) != len(target_info.columns):
            raise ConfigError(
                f"the run's {target_info.task} target has {len(target_info.columns)} column(s): "
                f"{', '.join(target_info.columns)}"
            )
        target_info = TargetInfo(
            task=target_info.task, columns=columns, classes=target_info.classes
        )
    require_columns(adata, target_info.columns)
    if run.task.drops_missing:
        adata = drop_missing_targets(adata, target_info.columns)
    y = run.task.encode_like(adata.obs, target_info)
    run.task.check_parts(  # survival: too few events give scores of 0, 1 or NaN
        y, {"evaluated": np.arange(len(y))}, remedy="evaluate on more patients"
    )
    return run.task.metrics(y, predict_run(run, adata), run.task_state)
