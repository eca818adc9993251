"""One run: load data and resolve its task, split, preprocess on the training part, fit a model
(with its augmentations), and write the run folder (:mod:`omicsformer.runs`).

:func:`train_run` trains and saves one model on one split, :func:`resume_run` continues an
interrupted one; the steps (:func:`prepare_data`, :func:`make_split` / :func:`make_folds`,
:func:`preprocess_split`, :func:`fit_model`) are shared with ``compare``, ``tune``, the
benchmarks and the Python API.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anndata as ad

from omicsformer.augment.training import augment_training, check_augmentation
from omicsformer.cohort import FitResult, PreparedData, SplitArrays
from omicsformer.config import RunConfig
from omicsformer.console import note
from omicsformer.data import tcga
from omicsformer.data.preprocess import Preprocessor, check_values
from omicsformer.data.readers import load_data
from omicsformer.data.scale import SCALE_KEY, check_scale
from omicsformer.data.splits import Split, kfold_splits, train_val_test_split
from omicsformer.data.targets import drop_missing_targets, is_missing, require_columns
from omicsformer.errors import ConfigError, DataError, OutOfMemory
from omicsformer.fileio import write_json, write_yaml
from omicsformer.models import MODELS, FitData, Model, ModelContext, Runtime, build_model
from omicsformer.models.base import require_task
from omicsformer.ranks import is_main_process
from omicsformer.runs import check_same_split, run_folder, splits_record, write_run
from omicsformer.tasks import TASKS, Task
from omicsformer.tasks.resolve import numeric_class_hint, resolve_target, target_columns
from omicsformer.train.engine import CHECKPOINT
from omicsformer.train.tracking import Tracking, check_tracking


def prepare_data(config: RunConfig) -> PreparedData:
    """Load the data of ``config``, pick the task and encode the target, and check the values."""
    d = config.data
    wanted = target_columns(config) + [c for c in (d.batch_key, d.group_by) if c]
    adata = load_data(
        d.source,
        labels=d.labels,
        layout=d.layout,
        sample_id=d.sample_id,
        layer=d.layer,
        obs_columns=wanted,
        gene_id=d.gene_id,
        duplicate_genes=d.duplicate_genes,
        gdc_column=d.gdc_column,
        sample_types=d.sample_types,
    )
    tcga.add_barcode_columns(adata)  # patient and tss of TCGA barcodes, for grouped splits
    return prepare_cohort(config, adata)


def prepare_cohort(config: RunConfig, adata: ad.AnnData) -> PreparedData:
    """Pick the task of ``config`` for ``adata`` (already read), encode the target, and check
    the values; samples with a missing target are dropped (count printed)."""
    d = config.data
    check_scale(adata, config.preprocess.transform)
    task_name, columns = resolve_target(config, adata)
    task = TASKS.get(task_name)
    if task.drops_missing:
        adata = drop_missing_targets(adata, columns)
    monitor = config.train.monitor
    if monitor not in ("auto", "loss") and monitor not in task.metric_names:
        raise ConfigError(
            f"--monitor {monitor!r} is not a {task_name} metric; use auto, loss or one of: "
            f"{', '.join(task.metric_names)}"
        )
    for column, what in ((d.batch_key, "--batch-key"), (d.group_by, "--group-by")):
        if column is not None:
            require_columns(adata, [column], what)
            missing = is_missing(adata.obs[column])
            if missing.any():
                raise DataError(
                    f"{what} {column}: {int(missing.sum())} of {adata.n_obs} samples have no "
                    f"value (e.g. {', '.join(adata.obs_names[missing][:3])})"
                )
    group_by = d.group_by if d.group_by is not None else _patient_grouping(adata, d.batch_key)
    y, info = task.encode(adata.obs, columns)
    p = config.preprocess
    check_values(adata.X, list(adata.var_names), p.transform, p.impute)
    return PreparedData(adata=adata, y=y, target=info, task=task, group_by=group_by)


def _patient_grouping(adata: ad.AnnData, batch_key: str | None) -> str | None:
    """``"patient"`` when no ``--group-by`` was given, the ``patient`` column holds TCGA patient
    barcodes and some patient has several samples (tumour and normal, two vials): a patient's
    samples on both sides of a split would leak. None otherwise. The choice is printed."""
    if "patient" not in adata.obs.columns:
        return None
    patients = adata.obs["patient"]
    if is_missing(patients).any() or not all(map(tcga.is_patient_barcode, patients.astype(str))):
        return None
    counts = patients.astype(str).value_counts()
    several = counts[counts > 1]
    if several.empty:
        return None
    if batch_key == "patient":
        raise ConfigError(
            f"--batch-key patient: {len(several)} patients have several samples, so splits are "
            "grouped by patient, and then no test batch is seen in training (ComBat can only "
            "correct batches it was fitted on); choose another --batch-key"
        )
    note(
        f"splits grouped by patient: {len(several)} of {len(counts)} patients have several "
        f"samples (e.g. {several.index[0]}: {several.iloc[0]}), and a patient's samples stay on "
        "one side of every split (--group-by chooses another grouping, --sample-types 01 keeps "
        "primary tumours only)"
    )
    return "patient"


def make_split(config: RunConfig, data: PreparedData) -> Split:
    """The run's seeded, stratified train / val / test split."""
    s = config.split
    strata = data.task.strata(data.y, data.target)
    try:
        split = train_val_test_split(
            strata,
            val_fraction=s.val_fraction,
            test_fraction=s.test_fraction,
            seed=config.seed,
            groups=data.groups(config),
        )
    except DataError as exc:
        raise DataError(f"{exc}{numeric_class_hint(data)}") from None
    data.task.check_parts(
        data.y, split, remedy="add patients, or raise --val-fraction / --test-fraction"
    )
    return split


def make_folds(
    config: RunConfig, data: PreparedData, folds: int, *, seed: int | None = None
) -> list[Split]:
    """Seeded, stratified k folds, each with a validation part carved from its training part.

    ``seed`` is the split seed (default: ``config.seed``); repeated cross-validation passes
    one per repetition while the models keep ``config.seed``.
    """
    strata = data.task.strata(data.y, data.target)
    try:
        splits = kfold_splits(
            strata,
            folds=folds,
            val_fraction=config.split.val_fraction,
            seed=config.seed if seed is None else seed,
            groups=data.groups(config),
        )
    except DataError as exc:
        raise DataError(f"{exc}{numeric_class_hint(data)}") from None
    for i, split in enumerate(splits):
        data.task.check_parts(
            data.y,
            split,
            where=f" (fold {i + 1}/{folds}"
            + ("" if seed in (None, config.seed) else f", split seed {seed}")
            + ")",
            remedy="add patients, or use fewer --folds or a larger --val-fraction",
        )
    return splits


def preprocess_split(
    config: RunConfig, data: PreparedData, split: Split, genes: list[str] | None = None
) -> SplitArrays:
    """Fit preprocessing on ``split["train"]`` only and apply it to every sample; ``genes``
    fixes the model's genes (a pretrained network's) instead of ``--top-genes``."""
    p = config.preprocess
    batches = data.batches(config)
    preprocessor = Preprocessor.fit(
        data.values[split["train"]],
        data.genes,
        transform=p.transform,
        impute=p.impute,
        top_genes=p.top_genes,
        zscore=p.zscore,
        keep=genes,
        batches=None if batches is None else batches[split["train"]],
        batch_key=config.data.batch_key,
        value_scale=data.adata.uns.get(SCALE_KEY),
    )
    x_all = preprocessor.apply(data.values, data.genes, batches)
    return SplitArrays(preprocessor, x_all, data.y, split)


def fit_model(
    config: RunConfig,
    data: PreparedData,
    arrays: SplitArrays,
    runtime: Runtime,
    model_name: str | None = None,
    options: Any = None,
) -> FitResult:
    """Build and fit a model on preprocessed arrays; predict and score every non-empty part.

    ``options``: the model's options, typed (parsed once by the caller) or a mapping (parsed
    here; default: ``config.model.options``). All samples are predicted in one call, in data
    order, exactly as ``omicsformer predict`` does on the same file, so the saved predictions
    and a later prediction are bit-identical. With ``runtime.track`` (a tracked run) the
    settings and final metrics are logged too (the epochs are, by the training loop).
    """
    spec = MODELS.get(model_name or config.model.name)
    raw = config.model.options if options is None else options
    typed = raw if isinstance(raw, spec.options) else spec.parse_options(raw)
    context = ModelContext(
        genes=arrays.preprocessor.genes,
        target=data.target,
        seed=config.seed,
        preprocessor=arrays.preprocessor,
    )
    model = build_model(spec, typed, context)
    has_val = len(arrays.split.get("val", [])) > 0
    task = data.task
    state = task.fit_state(arrays.y("train"), config.task)
    start = time.perf_counter()
    x_train, y_train, runtime, augmenters = augment_training(config, data, arrays, runtime, spec)
    fitted = model.fit(
        FitData(
            x_train=x_train,
            y_train=y_train,
            x_val=arrays.x("val") if has_val else None,
            y_val=arrays.y("val") if has_val else None,
            task_state=state,
        ),
        runtime,
    )
    fit_seconds = time.perf_counter() - start
    start = time.perf_counter()
    output_all = model.predict(arrays.x_all)
    predict_seconds = time.perf_counter() - start
    outputs = {part: output_all[idx] for part, idx in arrays.split.items() if len(idx)}
    fit_state = state
    state = task.calibrate(fit_state, arrays.y("train"), outputs["train"])
    metrics = {part: task.metrics(arrays.y(part), out, state) for part, out in outputs.items()}
    base_metrics = _base_metrics(model, arrays, task, fit_state)
    result = FitResult(
        preprocessor=arrays.preprocessor,
        model=model,
        spec=spec,
        options=typed,
        fitted=fitted,
        outputs=outputs,
        metrics=metrics,
        fit_seconds=fit_seconds,
        predict_seconds=predict_seconds,
        task_state=state,
        augmenters=augmenters,
        base_metrics=base_metrics,
    )
    if runtime.track is not None:  # settings and final metrics; the epochs went on the way
        runtime.track.log_fit(config, result)
    return result


def _base_metrics(
    model: Model, arrays: SplitArrays, task: Task, state: dict[str, Any]
) -> dict[str, dict[str, Any]] | None:
    """The scores of a network's base alone on every part (calibrated on its own training
    outputs, as the model is), or None for a model without a base: what the network added is
    its score minus these, on the same patients."""
    predict = getattr(model, "base_predict", None)
    output_all = predict(arrays.x_all) if predict is not None else None
    if output_all is None:
        return None
    outputs = {part: output_all[idx] for part, idx in arrays.split.items() if len(idx)}
    state = task.calibrate(state, arrays.y("train"), outputs["train"])
    return {part: task.metrics(arrays.y(part), out, state) for part, out in outputs.items()}


def fit_split(
    config: RunConfig,
    data: PreparedData,
    split: Split,
    runtime: Runtime | None = None,
    options: Any = None,
) -> FitResult:
    """Fit preprocessing and the model on ``split["train"]``; predict and score every part.
    ``options``: the model's typed options if already parsed (default: ``config``'s)."""
    runtime = runtime or Runtime(train=config.train)
    arrays = preprocess_split(config, data, split, init_genes(runtime.init, data))
    return fit_model(config, data, arrays, runtime, options=options)


def resolve_init(config: RunConfig) -> tuple[RunConfig, Any]:
    """With ``--init P``: the pretrained network, and the config with P's model and options
    (the user's ``-o`` on top). Without: the config unchanged and None."""
    if not config.model.init:
        return config, None
    from omicsformer.pretrain.run import PRETRAINABLE, load_pretrained

    pretrained = load_pretrained(config.model.init)
    name = config.model.name
    if name not in PRETRAINABLE:
        note(f"--init: model {pretrained.model} (the pretrained network's)")
        name = pretrained.model
    elif name != pretrained.model:
        raise ConfigError(init_mismatch(config.model.init, pretrained.model, name))
    options = {**pretrained.options, **config.model.options}
    model = dataclasses.replace(config.model, name=name, options=options)
    return dataclasses.replace(config, model=model), pretrained


def init_mismatch(init: str, pretrained: str, model: str, by: str = "--model") -> str:
    """The refusal of ``--model MODEL --init INIT`` (or of a config file naming MODEL, ``by``)
    where INIT holds another model's network."""
    from omicsformer.pretrain.run import PRETRAINABLE

    other = (
        f"pretrain a {model} (omicsformer pretrain --model {model})"
        if model in PRETRAINABLE
        else f"leave out --init to train {model} from scratch"
    )
    if by == "--model":
        return (
            f"--init {init} holds a pretrained {pretrained}, and --model {model} cannot start "
            f"from it: leave out --model to fine-tune the {pretrained}, or {other}"
        )
    return (
        f"--init {init} holds a pretrained {pretrained}, and {by} chooses {model}, which cannot "
        f"start from it: give --model {pretrained} to fine-tune the {pretrained}, or {other}"
    )


def init_genes(pretrained: Any, data: PreparedData) -> list[str] | None:
    """The genes a run fine-tuned from ``pretrained`` uses: the pretrained ones when the data
    has them all (every weight carries over), otherwise the run's own selection."""
    if pretrained is None:
        return None
    have = set(data.genes)
    missing = [g for g in pretrained.genes if g not in have]
    if missing:
        note(
            f"--init: {len(missing)} of the {len(pretrained.genes)} pretrained genes are not in "
            "the data; the run selects its own genes and matches gene embeddings by name"
        )
        return None
    return list(pretrained.genes)


def train_run(
    config: RunConfig,
    out: str | Path,
    *,
    overwrite: bool = False,
    resume: bool = False,
    on_epoch_end: Callable[[int], None] | None = None,
) -> tuple[Path, FitResult] | None:
    """Train one model on one train / val / test split and write its run folder.

    All input is loaded and checked before anything is written. The folder is built as
    ``.NAME.partial`` and renamed when complete. If training of a neural model is interrupted,
    the partial folder keeps a per-epoch checkpoint and :func:`resume_run` continues it.

    In a multi-process run every process trains, and only the main process writes; the other
    processes return None.
    """
    config.validate()
    config, pretrained = resolve_init(config)
    # the model's options are parsed and checked once, before any data is read
    options = MODELS.get(config.model.name).validate(config.model.options, config.train)
    check_augmentation(config, config.model.name)
    check_tracking(config.track)
    if not is_main_process():
        data = prepare_data(config)
        runtime = runtime_for(config, pretrained, progress=False)
        fit_split(config, data, make_split(config, data), runtime, options)
        return None
    output = run_folder(out, overwrite=overwrite)
    output.check(resume=resume)  # before any data is read
    data = prepare_data(config)
    require_task(MODELS.get(config.model.name), data.task.name)
    split = make_split(config, data)
    with output:
        folder = output.create(resume=resume)
        checkpoint = folder / "checkpoint"
        track = Tracking(config.track, folder, Path(out).name, "train").root
        try:
            if resume:
                check_same_split(folder, split, data)
            else:
                write_json(folder / "splits.json", splits_record(config, data, split))
            # (again on resume: the evaluation batch may have changed)
            write_yaml(folder / "config.yaml", config.to_dict())
            runtime = runtime_for(
                config,
                pretrained,
                checkpoint_dir=checkpoint,
                resume=resume,
                on_epoch_end=on_epoch_end,
                track=track,
            )
            result = fit_split(config, data, split, runtime, options)
            write_run(folder, config, data, split, result)
            shutil.rmtree(checkpoint, ignore_errors=True)  # the best weights are in model/
            track.finish_files()  # csv / tensorboard logs are part of the folder
            published = output.publish()
            track.finish(artifacts=published)  # MLflow gets the published folder
            return published, result
        except BaseException as exc:
            track.finish("failed")
            if (checkpoint / CHECKPOINT).exists():
                output.keep()
                resume_with = f"omicsformer train --resume {out}"
                if isinstance(exc, OutOfMemory):  # its one line says how to continue
                    exc.resume = resume_with
                    raise
                reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else "stopped"
                note(f"training {reason}; continue it with: {resume_with}")
            raise


def runtime_for(config: RunConfig, pretrained: Any = None, **settings: Any) -> Runtime:
    """How to train for ``config``: its training loop, and the pretrained start if any."""
    return Runtime(train=config.train, init=pretrained, finetune=config.model.finetune, **settings)


def resume_run(
    out: str | Path,
    *,
    on_epoch_end: Callable[[int], None] | None = None,
    eval_batch_size: int | None = None,
):
    """Continue an interrupted :func:`train_run` from its last completed epoch, with its saved
    settings; ``eval_batch_size`` may replace the evaluation batch (e.g. after the run ran out
    of memory in validation or prediction: it changes no trained weight)."""
    output = run_folder(out)
    output.check(resume=True)
    config = RunConfig.from_yaml(output.path / "config.yaml")
    if eval_batch_size is not None:
        config.train = dataclasses.replace(config.train, eval_batch_size=eval_batch_size)
    return train_run(config, out, resume=True, on_epoch_end=on_epoch_end)
