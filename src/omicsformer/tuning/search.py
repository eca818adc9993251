"""One hyper-parameter search on the training patients of one split (Optuna, TPE, pruning).

The search never sees a test patient. Each trial proposes values for the searchable options of
the model and, for neural models, of the training loop (declared beside the options, see
:mod:`omicsformer.tuning.space`; options the user set with ``-o`` or a flag are pinned), fits
the model and scores it on the task's main metric:

- ``inner_folds = 1`` (default): fit on the split's training part, score on its validation
  part, which also drives early stopping, as in every training run. Trials are pruned on the
  per-epoch validation metric (best so far), against the median of earlier trials at the same
  epoch or by successive halving.
- ``inner_folds = K >= 2``: K stratified folds of the training + validation patients, each with
  its own validation part for early stopping; the score is the mean over the K held-out inner
  folds, reported after each fold for pruning.

Preprocessing is fitted on each inner training part only (the folds of
:mod:`omicsformer.crossval`, preprocessed once for all trials). Trials live in an Optuna storage
(a SQLite file by default), opened before the first trial (:mod:`omicsformer.tuning.storage`);
TPE is seeded with the run's seed.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, get_type_hints

import numpy as np
import pandas as pd

from omicsformer.config import RunConfig, TrainConfig, TuneConfig
from omicsformer.console import note
from omicsformer.data.splits import Split, kfold_splits
from omicsformer.errors import ConfigError, optional_import
from omicsformer.models import MODELS, Runtime
from omicsformer.train.tracking import TrackedRun, Tracking, run_params
from omicsformer.tuning.space import declared, suggest
from omicsformer.tuning.storage import open_storage


def optuna_module() -> Any:
    optuna = optional_import("optuna", "optuna", feature="hyper-parameter search")
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial is ours
    return optuna


@dataclass
class SearchResult:
    """The best trial's options and training settings, and every trial."""

    options: dict[str, Any]  # model options: the user's, then the best trial's values
    train: TrainConfig  # the training settings with the best trial's values
    best_value: float
    trials: pd.DataFrame
    seconds: float
    metric: str

    @property
    def params(self) -> dict[str, Any]:
        """The searched values only, for the record."""
        return self.trials.attrs.get("best_params", {})


def _train_space(task: Any) -> type:
    """TrainConfig with the task's own priors (larger batches for the Cox likelihood)."""
    overrides = getattr(task, "tuning_overrides", {})
    if not overrides:
        return TrainConfig
    hints = get_type_hints(TrainConfig)  # real types: the annotations are strings
    fields = []
    for f in dataclasses.fields(TrainConfig):
        metadata = dict(f.metadata)
        if f.name in overrides:
            metadata["search"] = overrides[f.name]
        default = (
            dataclasses.field(default=f.default, metadata=metadata)
            if f.default is not dataclasses.MISSING
            else dataclasses.field(default_factory=f.default_factory, metadata=metadata)
        )
        fields.append((f.name, hints[f.name], default))
    return dataclasses.make_dataclass("TrainSearch", fields)


def run_search(
    config: RunConfig,
    data: Any,
    split: Split,
    model: str,
    options: dict[str, Any],
    *,
    storage: str,
    study_name: str,
    label: str = "",
    init: Any = None,
    tracking: Tracking | None = None,
) -> SearchResult:
    """Search ``config.tune.trials`` trials for ``model`` on the training patients of ``split``
    (its ``train`` and ``val`` parts; the ``test`` part is never used).

    ``options`` are the model options the user set; with ``config.tune.pinned`` they are kept
    out of the search. With ``tracking`` every trial is a tracked child run (``trial-NNN``):
    its settings, its score (``search_METRIC``) and, with one inner fold, its epochs and
    final metrics; with K inner folds each fold's score at step = fold.
    """
    from omicsformer.crossval import Fold, cross_validate, cv_folds
    from omicsformer.pipeline import fit_model, init_genes

    optuna = optuna_module()
    tune: TuneConfig = config.tune
    spec = MODELS.get(model)
    task = data.task
    metric = task.main_metric
    maximize = metric not in task.lower_is_better
    pinned_model = set(options) | {
        p.removeprefix("model.") for p in tune.pinned if p.startswith("model.")
    }
    pinned_train = {p.removeprefix("train.") for p in tune.pinned if p.startswith("train.")}
    train_space = _train_space(task)
    neural = spec.family == "neural"
    if not declared(spec.options) and not neural:
        raise ConfigError(f"model {model!r} declares no searchable options")

    parts = _inner_parts(config, data, split, tune.inner_folds)
    # preprocessed once, on each inner training part, and kept for every trial
    folds = cv_folds(config, data, [parts], genes=init_genes(init, data))
    for fold in folds:
        fold.arrays  # noqa: B018  (a preprocessing error is the user's, not a failed trial)
    held_out = "val" if tune.inner_folds == 1 else "test"

    def propose(trial: Any) -> tuple[dict[str, Any], RunConfig]:
        values = suggest(trial, spec.options, "model.", pinned_model)
        trial_options = {**options, **values}
        trial_config = config
        if neural:
            train_values = suggest(trial, train_space, "train.", pinned_train)
            trial_config = dataclasses.replace(
                config, train=dataclasses.replace(config.train, **train_values)
            )
        spec.validate(trial_options, trial_config.train)  # e.g. heads that do not divide dim
        return trial_options, trial_config

    def objective(trial: Any) -> float:
        trial_options, trial_config = propose(trial)
        track = TrackedRun([])
        if tracking is not None:
            tags = {"model": model, "trial": trial.number}
            track = tracking.child([f"trial-{trial.number:03d}"], tags)
        try:
            value = evaluate(trial, trial_options, trial_config, track)
        except optuna.TrialPruned:
            track.finish("pruned")
            raise
        except BaseException:
            track.finish("failed")
            raise
        track.log_metrics({f"search_{metric}": value}, step=0)
        track.finish()
        return value

    def evaluate(trial: Any, trial_options: dict, trial_config: RunConfig, track: Any) -> float:
        scores: list[float] = []
        if len(folds) > 1:  # each fit would log the same settings: logged once, here
            track.log_params(run_params(trial_config, model, trial_options))

        def score(fold: Fold) -> list[dict[str, Any]]:
            report = None
            if len(folds) == 1 and neural:
                report = _epoch_reporter(trial, metric, maximize, optuna)
            runtime = Runtime(
                train=trial_config.train,
                progress=False,
                report=report,
                init=init,
                finetune=config.model.finetune,
                track=track if len(folds) == 1 else None,
            )
            result = fit_model(trial_config, data, fold.arrays, runtime, model, trial_options)
            scores.append(float(result.metrics[held_out][metric]))
            if len(folds) > 1:  # pruned on the mean over the inner folds so far
                track.log_metrics({f"inner_{metric}": scores[-1]}, step=fold.index)
                trial.report(float(np.mean(scores)), fold.index)
                if trial.should_prune():
                    raise optuna.TrialPruned()
            return [{"fold": fold.index, metric: scores[-1]}]

        cross_validate(folds, score, keep_arrays=True)
        value = float(np.mean(scores))
        if math.isnan(value):
            raise optuna.TrialPruned()  # e.g. a C-index of a part without events
        return value

    database = open_storage(storage)  # before any trial: a bad storage is one line
    try:
        study = optuna.create_study(
            storage=database,
            study_name=study_name,
            direction="maximize" if maximize else "minimize",
            sampler=optuna.samplers.TPESampler(seed=tune.sampler_seed(config.seed)),
            pruner=_pruner(tune, config.train, optuna),
            load_if_exists=True,
        )
    except Exception as exc:  # the database refused: read-only, locked, gone meanwhile
        database.engine.dispose()
        from sqlalchemy.exc import SQLAlchemyError

        if not isinstance(exc, SQLAlchemyError):
            raise
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())[:300]
        raise ConfigError(f"--storage {storage}: study {study_name!r}: {reason}") from None
    start = time.perf_counter()
    study.optimize(
        objective,
        n_trials=tune.trials,
        timeout=tune.timeout,
        catch=(ConfigError,),
        callbacks=[_progress(label or model, metric, tune.trials)],
    )
    seconds = time.perf_counter() - start
    database.engine.dispose()  # no connection outlives the search (its file may be moved)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise ConfigError(
            f"no trial of {model} finished (all pruned or failed); give more --trials or check "
            "the options"
        )
    best = study.best_trial
    fixed = optuna.trial.FixedTrial(best.params)
    best_options, best_config = propose(fixed)
    trials = _trial_frame(study, optuna)
    trials.attrs["best_params"] = dict(best.params)
    return SearchResult(
        options=best_options,
        train=best_config.train,
        best_value=float(best.value),
        trials=trials,
        seconds=seconds,
        metric=metric,
    )


def _inner_parts(config: RunConfig, data: Any, split: Split, inner_folds: int) -> list[Split]:
    """The splits trials are fitted and scored on, from the training patients of ``split``."""
    if inner_folds == 1:
        if not len(split.get("val", [])):
            raise ConfigError(
                "tuning on the validation part needs one: set --val-fraction above 0, or use "
                "--inner-folds K"
            )
        return [{"train": split["train"], "val": split["val"], "test": split["train"][:0]}]
    patients = np.sort(np.concatenate([split["train"], split.get("val", split["train"][:0])]))
    strata = data.task.strata(data.y[patients], data.target)
    groups = data.groups(config)
    inner = kfold_splits(
        strata,
        folds=inner_folds,
        val_fraction=config.split.val_fraction,
        seed=config.seed,
        groups=None if groups is None else groups[patients],
    )
    parts = [{part: patients[idx] for part, idx in fold.items()} for fold in inner]
    for i, fold in enumerate(parts):
        data.task.check_parts(
            data.y,
            fold,
            where=f" (inner fold {i + 1}/{inner_folds} of the search)",
            remedy="use fewer --inner-folds, or --inner-folds 1 (the validation part)",
        )
    return parts


def _epoch_reporter(
    trial: Any, metric: str, maximize: bool, optuna: Any
) -> Callable[[int, dict[str, float]], None]:
    """Report the best validation metric so far after each epoch; prune when told to."""
    best = -math.inf if maximize else math.inf

    def report(epoch: int, row: dict[str, float]) -> None:
        nonlocal best
        value = row.get(f"val_{metric}", math.nan)
        if math.isnan(value):
            return
        best = max(best, value) if maximize else min(best, value)
        trial.report(best, epoch)
        if trial.should_prune():
            raise optuna.TrialPruned()

    return report


def _pruner(tune: TuneConfig, train: TrainConfig, optuna: Any) -> Any:
    if tune.pruner == "none":
        return optuna.pruners.NopPruner()
    if tune.pruner == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=max(train.min_epochs, 1))
    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=train.min_epochs)


def _progress(label: str, metric: str, total: int) -> Callable[[Any, Any], None]:
    def callback(study: Any, trial: Any) -> None:
        value = "" if trial.value is None else f" {metric} {trial.value:.3f}"
        seconds = trial.duration.total_seconds() if trial.duration else math.nan
        try:
            best = f", best {study.best_value:.3f}"
        except ValueError:  # no complete trial yet
            best = ""
        note(
            f"{label}: trial {trial.number + 1}/{total} {trial.state.name.lower()}{value} "
            f"({seconds:.1f} s{best})"
        )

    return callback


def _trial_frame(study: Any, optuna: Any) -> pd.DataFrame:
    """One row per trial: number, state, value, seconds, and each searched value."""
    rows = []
    for t in study.trials:
        rows.append(
            {
                "number": t.number,
                "state": t.state.name.lower(),
                "value": t.value,
                "seconds": t.duration.total_seconds() if t.duration else math.nan,
                "last_step": t.last_step,
                **t.params,
            }
        )
    return pd.DataFrame(rows)
