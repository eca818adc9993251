"""``omicsformer compare``: several models on the same stratified folds, side by side.

The stratified k-fold split is repeated ``repeats`` times with split seeds ``seed, seed + 1,
...`` (the models keep ``seed``). For each fold the preprocessing is fitted on the fold's training
part only, a validation part is carved from that training part (for early stopping), and every
model is trained and tested on the same arrays. Written to the output folder (atomically, as a
whole):

    results.csv      one row per model x repetition x fold: sizes, test metrics, fit / predict
                     seconds, peak memory, parameter count, best epoch (neural models)
    summary.md       mean ± sd over all test folds per model and metric, best mean in bold, and
                     each model's paired difference in the main metric to the reference model
                     (the best baseline) with the corrected resampled t-test
    differences.csv  those differences and tests
    predictions.csv  the out-of-fold predictions: one row per model x repetition x test patient
                     (model, repeat, fold, sample_id, then the task's prediction columns, as in a
                     run folder's predictions.csv; survival probabilities only at horizons that
                     every fold shares, i.e. when --horizons fixes them), for pooled curves
    histories.csv    each neural model's per-epoch training history per fold (model, repeat,
                     fold, epoch, train_loss, val_loss, val_<metric>, ...), for learning curves
    trials.csv       with --tune: every search's trials
    config.yaml      the shared configuration (its ``compare`` part: models, folds, repeats, the
                     task);  splits.json  every repetition's folds by sample ID
    report.html      the page of the comparison (``omicsformer report``), unless ``report=False``;
                     if the page fails, one warning line says so and the results stay complete
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from omicsformer.augment.training import check_augmentation
from omicsformer.cohort import PreparedData
from omicsformer.config import RunConfig
from omicsformer.console import note
from omicsformer.crossval import (
    Fold,
    check_folds,
    cross_validate,
    cv_folds,
    repeated_splits,
    split_seeds,
)
from omicsformer.data.splits import Split, splits_to_json
from omicsformer.errors import ConfigError
from omicsformer.fileio import OutputFolder, write_json, write_text, write_with, write_yaml
from omicsformer.memory import PeakMemory
from omicsformer.metrics.comparison import base_differences, paired_differences, reference_model
from omicsformer.models import MODELS, Runtime
from omicsformer.models.base import require_task
from omicsformer.models.options import split_options
from omicsformer.pipeline import (
    fit_model,
    init_genes,
    prepare_data,
    resolve_init,
)
from omicsformer.ranks import is_main_process
from omicsformer.report.comparison import print_summary, summary_markdown
from omicsformer.report.pages import publish_with_report
from omicsformer.runs import prediction_frame
from omicsformer.train.tracking import (
    TrackedRun,
    Tracking,
    check_tracking,
    mean_metrics,
    run_params,
)


def compare(
    config: RunConfig,
    models: list[str],
    out_dir: str | Path,
    *,
    folds: int = 5,
    repeats: int = 1,
    overwrite: bool = False,
    progress: bool = False,
    tune: bool = False,
    pretrain: Pretraining | None = None,
    report: bool = True,
) -> pd.DataFrame | None:
    """Run every model on the same ``folds`` folds, ``repeats`` times with split seeds
    ``config.seed + r``; write and return the per-fold results.

    Besides each model with its defaults: ``tune`` adds the model tuned inside every training
    fold (``config.tune.trials`` trials on the fold's training patients only: nested
    cross-validation), labelled ``NAME (tuned)``; ``config.model.init`` (``--init P``) and
    ``pretrain`` (pretraining inside every fold on its training patients and unlabeled
    cohorts) add ``NAME (pretrained)`` for the models that can start from a pretrained network.
    ``report``: also write report.html (after the results, see :func:`publish_with_report`).
    """
    config.validate()
    if not models:
        raise ConfigError("--models needs at least one model")
    init = _pretrained_networks(config, models)
    # the defaults run without it; the pretrained variant gets it
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, init=None))
    _check_variants(config, models, tune, pretrain)
    options = split_options(models, config.model.options)
    typed = {}  # each model's options, parsed and checked once, before any data is read
    for name in models:
        typed[name] = MODELS.get(name).validate(options[name], config.train)
        check_augmentation(config, name)
    check_folds(config, folds, repeats)
    check_tracking(config.track)
    main = is_main_process()
    output = OutputFolder(out_dir, kind="compare", overwrite=overwrite)
    if main:
        output.check()  # before any data is read
    data = prepare_data(config)
    for name in models:
        require_task(MODELS.get(name), data.task.name)
    repetitions = repeated_splits(config, data, folds, repeats)
    with output if main else contextlib.nullcontext():
        folder = output.create() if main else None
        storage = config.tune.storage
        if storage is None and folder is not None:
            storage = f"sqlite:///{(folder / 'studies.db').absolute()}"
        variants = Variants(tune=tune, storage=storage, init=init, pretrain=pretrain)
        kept = FoldOutputs()
        if main:  # one parent run, one child per model x repetition x fold
            variants.tracking = Tracking(config.track, folder, Path(out_dir).name, "compare")
            variants.tracking.root.log_params(compare_params(config, models, folds, repeats))
        with variants.tracking or contextlib.nullcontext():
            results = cross_validate(
                cv_folds(config, data, repetitions),
                lambda fold: _fold_rows(fold, models, options, typed, progress, variants, kept),
            )
        if not main:
            return None
        task = data.task
        metrics = list(task.metric_names)
        differences, added = _differences(results, task)
        title = _title(config, folds, repeats)
        summary = summary_markdown(
            results,
            metrics,
            title=title,
            lower_is_better=task.lower_is_better,
            differences=differences,
            added=added,
        )
        _write_tables(folder, results, differences, added, kept, variants)
        write_text(folder / "summary.md", summary)
        setup = {"models": models, "folds": folds, "repeats": repeats, "tune": tune}
        write_yaml(folder / "config.yaml", _config_record(config, setup, init, pretrain, data))
        write_json(folder / "splits.json", _splits_record(config, data, repetitions))
        variants.tracking.root.log_metrics(mean_metrics(results, metrics))
        variants.tracking.root.finish_files()
        publish_with_report(output, report)
        variants.tracking.root.finish(artifacts=Path(out_dir))
    print_summary(results, metrics, title, task.lower_is_better, differences, added)
    return results


def _pretrained_networks(config: RunConfig, models: list[str]) -> dict[str, Any]:
    """``--init P[,P2...]``: each model's pretrained network, one per model of ``models``."""
    init: dict[str, Any] = {}
    for path in (p.strip() for p in (config.model.init or "").split(",") if p.strip()):
        one = dataclasses.replace(config, model=dataclasses.replace(config.model, init=path))
        _, pretrained = resolve_init(one)
        if pretrained.model not in models or pretrained.model in init:
            raise ConfigError(
                f"--init {path} holds a pretrained {pretrained.model}: give one pretrained "
                "network per model of --models"
            )
        init[pretrained.model] = pretrained
    return init


def _check_variants(
    config: RunConfig, models: list[str], tune: bool, pretrain: Pretraining | None
) -> None:
    """``--pretrain`` needs a model that can be pretrained; ``--tune`` its package, a usable
    storage and one process. Before any data is read."""
    if pretrain is not None:
        from omicsformer.pretrain.run import PRETRAINABLE

        if not set(models) & set(PRETRAINABLE):
            raise ConfigError(f"--pretrain needs one of {', '.join(PRETRAINABLE)} in --models")
    if tune:
        from omicsformer.tuning.search import optuna_module
        from omicsformer.tuning.storage import check_storage

        optuna_module()
        if config.tune.storage is not None:
            check_storage(config.tune.storage)
        if config.train.devices * config.train.num_nodes > 1:
            raise ConfigError("--tune runs in one process; drop --devices / --num-nodes")


def _differences(results: pd.DataFrame, task: Any) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Each model against the reference (the best baseline) and each network against its own
    base, in the task's main metric (differences.csv, base_differences.csv)."""
    labels = results.drop_duplicates("model")
    baselines = [
        label
        for label, base in zip(labels["model"], labels["base_model"], strict=True)
        if MODELS.get(base).family == "baseline"
    ]
    reference = reference_model(results, task.main_metric, baselines, task.lower_is_better)
    differences = paired_differences(results, task.main_metric, reference)
    return differences, base_differences(results, task.main_metric)


def _write_tables(
    folder: Path,
    results: pd.DataFrame,
    differences: pd.DataFrame,
    added: pd.DataFrame,
    kept: FoldOutputs,
    variants: Variants,
) -> None:
    """results.csv, differences.csv, base_differences.csv, predictions.csv, histories.csv and
    trials.csv (the last three only when there is something to write)."""

    def csv(name: str, frame: pd.DataFrame, **options: Any) -> None:
        write_with(folder / name, lambda tmp: frame.to_csv(tmp, index=False, **options))

    csv("results.csv", results)
    csv("differences.csv", differences)
    if not added.empty:
        csv("base_differences.csv", added)
    csv("predictions.csv", kept.predictions_frame(), float_format="%.9g")
    if kept.histories:
        csv("histories.csv", pd.concat(kept.histories, ignore_index=True))
    if variants.trials:
        csv("trials.csv", pd.concat(variants.trials, ignore_index=True))


def _config_record(
    config: RunConfig,
    setup: dict[str, Any],
    init: dict[str, Any],
    pretrain: Pretraining | None,
    data: PreparedData,
) -> dict[str, Any]:
    """config.yaml: the shared configuration and its ``compare`` part."""
    return {
        **config.to_dict(),
        "compare": {
            **setup,
            "init": {name: str(p.folder) for name, p in init.items()},
            "pretrain": dataclasses.asdict(pretrain) if pretrain is not None else None,
            "task": data.task.name,
            "main_metric": data.task.main_metric,
            "target": data.target.to_dict(),
        },
    }


def _splits_record(
    config: RunConfig, data: PreparedData, repetitions: list[list[Split]]
) -> dict[str, Any]:
    """splits.json: every repetition's folds by sample ID, with the seeds."""
    seeds = split_seeds(config, len(repetitions))
    return {
        "model_seed": config.seed,
        "split_seeds": seeds,
        "stratified_on": data.target.columns,
        "grouped_by": data.group_by,
        "repeats": [
            splits_to_json(fold_splits, data.sample_ids, repeat=r, seed=seeds[r])
            for r, fold_splits in enumerate(repetitions)
        ],
    }


@dataclass
class Pretraining:
    """Pretraining inside every fold (``--pretrain``): on the fold's training patients and the
    unlabeled ``cohorts`` (files or built-in names), ``epochs`` at most, hiding ``fraction``."""

    cohorts: list[str] = field(default_factory=list)
    epochs: int = 30
    fraction: float = 0.15


@dataclass
class Variants:
    """What a comparison runs besides every model with its defaults."""

    tune: bool = False
    storage: str | None = None  # Optuna database of the per-fold searches
    init: dict[str, Any] = field(default_factory=dict)  # model -> Pretrained (--init)
    pretrain: Pretraining | None = None
    trials: list[pd.DataFrame] = field(default_factory=list)  # every search's trials
    tracking: Tracking | None = None  # --log: the comparison's tracked runs (main process)
    _cohorts: list[tuple[np.ndarray, list[str]]] | None = None  # unlabeled, standardized

    def unlabeled(self, config: RunConfig) -> list[tuple[np.ndarray, list[str]]]:
        """The unlabeled cohorts, read once, transformed like the data, standardized each."""
        if self._cohorts is None:
            from omicsformer.data.readers import load_data
            from omicsformer.data.scale import check_scale
            from omicsformer.data.transforms import apply_transform
            from omicsformer.pretrain.run import standardize

            self._cohorts = []
            for source in self.pretrain.cohorts:
                d = config.data
                adata = load_data(
                    source,
                    layout=d.layout,
                    gene_id=d.gene_id,
                    duplicate_genes=d.duplicate_genes,
                )
                check_scale(adata, config.preprocess.transform)
                values = np.asarray(adata.X, dtype=np.float32)
                values = apply_transform(values, config.preprocess.transform)
                self._cohorts.append((standardize(values), list(map(str, adata.var_names))))
        return self._cohorts

    def track(self, label: str, base: str, variant: str, sizes: dict[str, int]) -> TrackedRun:
        """The tracked run of one model (variant) on one fold (no loggers without --log)."""
        if self.tracking is None:
            return TrackedRun([])
        r, f = sizes["repeat"], sizes["fold"]
        tags = {"model": base, "variant": variant, "repeat": r, "fold": f}
        return self.tracking.child([label, f"repeat-{r}", f"fold-{f}"], tags)


@dataclass
class FoldOutputs:
    """What a comparison keeps of every fitted model besides its row of results.csv: its test
    patients' predictions and, for neural models, its per-epoch history."""

    predictions: list[pd.DataFrame] = field(default_factory=list)
    histories: list[pd.DataFrame] = field(default_factory=list)

    def keep(self, fold: Fold, label: str, result: Any) -> None:
        data, test = fold.data, fold.split["test"]
        keys = {"model": label, "repeat": fold.repeat, "fold": fold.index}
        frame = prediction_frame(
            data.task,
            data.target,
            data.sample_ids[test],
            result.outputs["test"],
            data.y[test],
            result.task_state,
        )
        for i, (key, value) in enumerate(keys.items()):
            frame.insert(i, key, value)
        self.predictions.append(frame)
        history = getattr(result.model, "history", None)
        if history:
            frame = pd.DataFrame(history)
            for i, (key, value) in enumerate(keys.items()):
                frame.insert(i, key, value)
            self.histories.append(frame)

    def predictions_frame(self) -> pd.DataFrame:
        """Every fold's predictions in one table, with the columns every fold has (survival
        probabilities at each fold's own horizons would otherwise add columns per fold)."""
        shared = [c for c in self.predictions[0].columns if all(c in f for f in self.predictions)]
        return pd.concat([f[shared] for f in self.predictions], ignore_index=True)


def _fold_rows(
    fold: Fold,
    models: list[str],
    options: dict[str, dict[str, Any]],
    typed: dict[str, Any],
    progress: bool,
    variants: Variants,
    kept: FoldOutputs,
) -> list[dict[str, Any]]:
    """Every model (and variant) on one fold: one row of sizes, test metrics and costs each
    (and its predictions and history into ``kept``). ``typed``: each model's parsed options
    (what it is fitted with); ``options`` the same as given, the start of a search or a
    pretraining."""
    from omicsformer.pretrain.run import PRETRAINABLE

    task = fold.data.task
    rows = []

    def record(row: dict[str, Any], result: Any) -> None:
        rows.append(row)
        kept.keep(fold, row["model"], result)
        note(
            f"{fold.name} {row['model']}: "
            f"{task.main_metric} {row[task.main_metric]:.3f} ({row['fit_seconds']:.1f} s)"
        )

    for name in models:
        record(*_fit(fold, variants, name, typed[name], progress=progress))
        if variants.tune:
            record(*_tuned(fold, name, options[name], variants, progress=progress))
        start = None
        if name in variants.init:
            start = variants.init[name]
        elif variants.pretrain is not None and name in PRETRAINABLE:
            start = _pretrain_fold(fold, name, options[name], variants)
        if start is not None:
            fitted = _fit(
                fold,
                variants,
                name,
                typed[name],
                variant="pretrained",
                arrays=fold.preprocess(genes=init_genes(start, fold.data)),
                progress=progress,
                init=start,
                pretrain_seconds=start.info.get("seconds", 0.0),
            )
            record(*fitted)
    return rows


def _fit(
    fold: Fold,
    variants: Variants,
    name: str,
    options: Any,
    *,
    variant: str = "default",
    config: RunConfig | None = None,
    arrays: Any = None,
    progress: bool = False,
    init: Any = None,
    **extra: Any,
) -> tuple[dict[str, Any], Any]:
    """Fit model ``name`` (its ``variant``: default, tuned, pretrained) on the fold, tracked and
    its peak memory measured: its row of results.csv (with ``extra`` columns) and the fit.
    ``config`` and ``arrays`` default to the fold's."""
    config = config or fold.config
    label = name if variant == "default" else f"{name} ({variant})"
    track = variants.track(label, name, variant, fold.sizes)
    runtime = Runtime(train=config.train, progress=progress, init=init, track=track)
    with PeakMemory() as memory:
        result = fit_model(
            config, fold.data, fold.arrays if arrays is None else arrays, runtime, name, options
        )
    track.finish()
    row = _row(label, name, variant, result, memory.peak_mb, fold.sizes, fold.data.task, **extra)
    return row, result


def _row(
    label: str,
    base: str,
    variant: str,
    result: Any,
    peak_mb: float,
    sizes: dict[str, int],
    task: Any,
    **extra: Any,
) -> dict[str, Any]:
    """One line of results.csv: a fitted model's test metrics and costs on one fold."""
    test = result.metrics["test"]
    row = {"model": label, "base_model": base, "variant": variant, **sizes}
    row.update({m: test[m] for m in task.metric_names})
    base = result.fitted.get("base")
    row["base"] = base_label(base)
    base_test = (result.base_metrics or {}).get("test", {})
    row.update({f"base_{m}": base_test.get(m, np.nan) for m in task.metric_names})
    row.update(
        fit_seconds=result.fit_seconds,
        predict_seconds=result.predict_seconds,
        peak_memory_mb=peak_mb,
        n_parameters=result.model.n_parameters(),
        best_epoch=result.fitted.get("best_epoch", np.nan),
        **extra,
    )
    return row


def _tuned(
    fold: Fold, name: str, options: dict[str, Any], variants: Variants, *, progress: bool
) -> tuple[dict[str, Any], Any]:
    """Search on the fold's training patients (never its test patients), then fit the best
    options on the fold as the default model was: the row ``NAME (tuned)`` and the fit."""
    from omicsformer.tuning.search import run_search

    sizes = fold.sizes
    study = f"{name}-r{sizes['repeat']}-f{sizes['fold']}"
    search = run_search(
        fold.config,
        fold.data,
        fold.split,
        name,
        options,
        storage=variants.storage,
        study_name=study,
        label=f"{name} fold {sizes['fold'] + 1}",
    )
    trials = search.trials.copy()
    trials.insert(0, "model", name)
    trials.insert(1, "repeat", sizes["repeat"])
    trials.insert(2, "fold", sizes["fold"])
    variants.trials.append(trials)
    return _fit(
        fold,
        variants,
        name,
        search.options,
        variant="tuned",
        config=dataclasses.replace(fold.config, train=search.train),
        progress=progress,
        search_seconds=search.seconds,
        params=json.dumps(search.params, sort_keys=True),
    )


def _pretrain_fold(fold: Fold, name: str, options: dict[str, Any], variants: Variants) -> Any:
    """Pretrain ``name`` on this fold's training patients (training and validation parts,
    never the test fold) and the unlabeled cohorts, on the fold's genes."""
    from omicsformer.pretrain.run import align, pretrain_network

    config, split, plan = fold.config, fold.split, variants.pretrain
    genes = list(fold.arrays.preprocessor.genes)
    patients = np.sort(np.concatenate([split["train"], split.get("val", split["train"][:0])]))
    own = (fold.arrays.x_all[patients], genes)  # standardized by the fold's preprocessor
    x = align([own, *variants.unlabeled(config)], genes)
    train = dataclasses.replace(
        config.train, max_epochs=plan.epochs, lr=None, batch_size=None, monitor="loss"
    )
    pretrained, _ = pretrain_network(
        name, options, genes, x, train, seed=config.seed, fraction=plan.fraction, progress=False
    )
    note(
        f"pretrained {name} on {len(x)} patients ({len(patients)} of the fold): held-out "
        f"reconstruction MSE {pretrained.info['best_val_reconstruction_mse']:.3f} "
        f"({pretrained.info['seconds']:.0f} s)"
    )
    return pretrained


def compare_params(config: RunConfig, models: list[str], folds: int, repeats: int) -> dict:
    """What the parent tracked run of a comparison logs as its settings."""
    return {
        **run_params(config, ",".join(models), config.model.options),
        "compare.folds": str(folds),
        "compare.repeats": str(repeats),
    }


def _title(config: RunConfig, folds: int, repeats: int = 1) -> str:
    target = config.data.target or (
        f"{config.task.time}/{config.task.event}" if config.task.time else "default target"
    )
    if repeats == 1:
        return f"{config.data.source} {target}: {folds}-fold CV, seed {config.seed}"
    last = config.seed + repeats - 1
    return (
        f"{config.data.source} {target}: {folds}-fold CV x {repeats} repeats, "
        f"split seeds {config.seed}-{last}, model seed {config.seed}"
    )


def base_label(base: dict[str, Any] | None) -> str:
    """How a model's base reads in tables: ``logreg (fitted)``, ``linear``, or "" for none."""
    if not base:
        return ""
    return f"{base['model']} (fitted)" if base["kind"] == "fitted" else str(base["kind"])
