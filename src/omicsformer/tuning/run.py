"""``omicsformer tune``: search hyper-parameters on one split's training patients, then train
with the best ones and write a run folder like ``omicsformer train`` does, plus:

    trials.csv   one row per trial: number, state, value (validation metric), seconds, values
    study.db     the Optuna study (SQLite), unless --storage names another database

The test part is scored once, by the final model; the search never sees it.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from omicsformer.augment.training import check_augmentation
from omicsformer.cohort import FitResult
from omicsformer.config import ModelConfig, RunConfig
from omicsformer.fileio import write_with
from omicsformer.models import MODELS
from omicsformer.models.base import require_task
from omicsformer.pipeline import (
    fit_split,
    make_split,
    prepare_data,
    resolve_init,
    runtime_for,
)
from omicsformer.runs import run_folder, write_run
from omicsformer.train.tracking import Tracking, check_tracking
from omicsformer.tuning.search import SearchResult, optuna_module, run_search
from omicsformer.tuning.storage import check_storage


def tune_run(
    config: RunConfig, out: str | Path, *, overwrite: bool = False
) -> tuple[Path, FitResult, SearchResult]:
    """Search ``config.tune.trials`` trials for ``config.model`` and write the tuned run."""
    config.validate()
    optuna_module()  # a missing Optuna is reported before anything else
    config, pretrained = resolve_init(config)
    spec = MODELS.get(config.model.name)
    spec.validate(config.model.options, config.train)
    check_augmentation(config, config.model.name)
    check_tracking(config.track)
    if config.tune.storage is not None:  # a shared database: checked before the data is read
        check_storage(config.tune.storage)
    output = run_folder(out, overwrite=overwrite)
    output.check()
    data = prepare_data(config)
    require_task(spec, data.task.name)
    split = make_split(config, data)
    with output:
        folder = output.create()
        # the tuned run is the parent (its final fit, the run folder), each trial a child
        tracking = Tracking(config.track, folder, Path(out).name, "tune")
        storage = config.tune.storage or f"sqlite:///{(folder / 'study.db').absolute()}"
        study_name = config.tune.study_name or f"{config.model.name}-{Path(out).name}"
        with tracking:
            search = run_search(
                config,
                data,
                split,
                config.model.name,
                dict(config.model.options),
                storage=storage,
                study_name=study_name,
                init=pretrained,
                tracking=tracking,
            )
            best = dataclasses.replace(
                config,
                model=ModelConfig(name=config.model.name, options=search.options),
                train=search.train,
            )
            runtime = runtime_for(best, pretrained, track=tracking.root)
            result = fit_split(best, data, split, runtime)
            result.fitted["tuning"] = tuning_record(search, study_name, config.tune.storage)
            write_run(folder, best, data, split, result)
            write_with(folder / "trials.csv", lambda tmp: search.trials.to_csv(tmp, index=False))
            tracking.root.log_metrics({f"search_{search.metric}": search.best_value}, step=0)
            tracking.root.finish_files()
            published = output.publish()
            tracking.root.finish(artifacts=published)
            return published, result, search


def tuning_record(search: SearchResult, study: str, storage: str | None) -> dict[str, Any]:
    """What model.json and run.json keep of a search."""
    states = search.trials["state"].value_counts().to_dict()
    return {
        "study": study,
        "storage": storage or "study.db",
        "metric": f"validation {search.metric}",
        "best_value": search.best_value,
        "best_params": search.params,
        "trials": {str(k): int(v) for k, v in states.items()},
        "seconds": round(search.seconds, 1),
    }
