"""``omicsformer tune`` and ``omicsformer compare``: a search, and models side by side."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from omicsformer.cli.common import (
    check_model_flags,
    check_services,
    config_from_args,
    names,
    page_of,
    print_frame,
)
from omicsformer.cli.declarations import Compare, CrossValidation, Models, Output
from omicsformer.cli.options import (
    add_folds,
    add_options,
    add_output,
    add_track_args,
    add_train_args,
    add_tune_args,
    with_flags,
)
from omicsformer.console import note


def add_commands(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    tune = command("tune", "search hyper-parameters on the training patients, then train")
    add_train_args(tune)
    add_track_args(tune)
    add_tune_args(tune, in_compare=False)
    add_output(tune, "run folder to create")
    tune.set_defaults(func=cmd_tune)

    compare = command("compare", "several models on the same cross-validation folds")
    add_train_args(compare, with_model=False, folds=True)
    add_track_args(compare)
    add_options(
        compare, Models, ["models"], required=["models"],
        help={"models": "comma-separated models, e.g. logreg,rf,mlp"},
    )  # fmt: skip
    add_folds(compare)
    add_options(compare, CrossValidation, ["repeats"])
    add_tune_args(compare, in_compare=True)
    p = compare.add_argument_group("pretraining inside every fold (training patients only)")
    add_options(p, Compare, ["pretrain", "pretrain_data", "pretrain_epochs"])
    add_options(p, Models, ["mask_fraction"])
    add_output(compare, "output folder (results.csv, summary.md)")
    add_options(compare, Output, ["progress", "no_report"])
    compare.set_defaults(func=cmd_compare)


def cmd_tune(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    _tune_settings(config, args)
    check_services(config, storage=True)
    from omicsformer.report.tables import print_metrics
    from omicsformer.tuning.run import tune_run

    folder, result, search = tune_run(config, args.out, overwrite=args.force)
    trials = search.trials.sort_values(
        "value", ascending=search.metric in result.task.lower_is_better
    )
    print_frame(trials, list(trials.columns))
    note(
        f"best validation {search.metric} {search.best_value:.3f} in {len(trials)} trials "
        f"({search.seconds:.0f} s): {search.params}"
    )
    print_metrics({f"{result.spec.name} (tuned)": result.metrics}, result.task.metric_names)
    note(f"run written to {folder} (trials.csv, study.db)")
    return 0


def _tune_settings(config: Any, args: argparse.Namespace) -> None:
    """The search flags of ``tune`` and ``compare --tune``."""
    config.tune = with_flags(config.tune, args)
    if getattr(args, "tune", None):  # compare --tune TRIALS
        config.tune.trials = args.tune


def cmd_compare(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    if args.tune:
        _tune_settings(config, args)
    check_services(config, storage=bool(args.tune))
    from omicsformer.compare import Pretraining, compare

    pretrain = None
    if args.pretrain or args.pretrain_data:
        cohorts = names(args.pretrain_data)
        pretrain = Pretraining(cohorts, args.pretrain_epochs, args.mask_fraction)
    models = names(args.models)
    check_model_flags(args, models, "--models")
    compare(
        config,
        models,
        args.out,
        folds=args.folds,
        repeats=args.repeats,
        overwrite=args.force,
        progress=args.progress,
        tune=bool(args.tune),
        pretrain=pretrain,
        report=not args.no_report,
    )
    note(f"results written to {args.out}{page_of(args.out)}")
    return 0
