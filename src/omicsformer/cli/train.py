"""``omicsformer train`` and ``omicsformer pretrain``: one run, or one pretraining."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from omicsformer.cli.common import check_services, config_from_args
from omicsformer.cli.declarations import Models, Output, Pretrain
from omicsformer.cli.options import (
    PRETRAIN_FLAGS,
    add_config_arguments,
    add_options,
    add_output,
    add_track_args,
    add_train_args,
    read_flags,
    with_flags,
)
from omicsformer.config import (
    PRETRAINABLE,
    DataConfig,
    ModelConfig,
    PreprocessConfig,
    RunConfig,
    TrainConfig,
    parse_overrides,
)
from omicsformer.console import note
from omicsformer.errors import OmicsformerError


def add_commands(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    train = command("train", "train one model on a train/val/test split")
    add_train_args(train)
    add_track_args(train)
    add_output(train, "run folder to create", required=False)
    add_options(train, Output, ["resume"])
    train.set_defaults(func=cmd_train)

    pre = command(
        "pretrain", "self-supervised pretraining (masked expression) on unlabeled cohorts"
    )
    add_options(pre, Pretrain, ["data"], required=["data"])
    add_config_arguments(pre, DataConfig, PRETRAIN_FLAGS["data"])
    add_config_arguments(
        pre,
        ModelConfig,
        PRETRAIN_FLAGS["model"],
        required=["name"],
        choices={"name": PRETRAINABLE},
        help={"name": "the network to pretrain"},
    )
    add_options(pre, Models, ["option"])
    add_config_arguments(
        pre,
        PreprocessConfig,
        PRETRAIN_FLAGS["preprocess"],
        help={"top_genes": "keep the K genes most variable within their cohorts"},
        shown={"top_genes": "every gene"},
    )
    add_options(pre, Models, ["mask_fraction"])
    add_config_arguments(
        pre,
        TrainConfig,
        PRETRAIN_FLAGS["train"],
        help={"batch_size": "batch size"},
        shown={"batch_size": "32"},
    )
    add_config_arguments(pre, RunConfig, ["seed"])
    add_output(pre, "folder to create")
    pre.set_defaults(func=cmd_pretrain)


def cmd_train(args: argparse.Namespace) -> int:
    if args.resume:  # the saved settings; the evaluation batch may change (it trains nothing)
        from omicsformer.pipeline import resume_run

        given = read_flags(args, TrainConfig, ["eval_batch_size"])
        outcome = resume_run(args.resume, eval_batch_size=given.get("eval_batch_size"))
    else:
        if not args.out:
            raise OmicsformerError("--out is required (or --resume RUN_DIR)")
        config = config_from_args(args)
        check_services(config)
        from omicsformer.pipeline import train_run

        outcome = train_run(config, args.out, overwrite=args.force)
    if outcome is None:  # a secondary process of a multi-process run
        return 0
    from omicsformer.report.tables import print_metrics

    folder, result = outcome
    rows = {result.spec.name: result.metrics}
    if result.base_metrics is not None:  # what the network added is the difference
        rows[f"{result.spec.name}: its base alone"] = result.base_metrics
    print_metrics(rows, result.task.metric_names)
    if result.fitted.get("best_epoch") == 0:
        note(
            "no epoch beat the untrained network on the validation part: the model kept is its "
            "base (-o base=none trains the network alone)"
        )
    note(f"run written to {folder}")
    return 0


def cmd_pretrain(args: argparse.Namespace) -> int:
    from omicsformer.pretrain.run import pretrain_cohorts

    c = RunConfig()
    data = with_flags(c.data, args, PRETRAIN_FLAGS["data"])
    preprocess = with_flags(c.preprocess, args, PRETRAIN_FLAGS["preprocess"])
    train = with_flags(c.train, args, PRETRAIN_FLAGS["train"])
    seed = with_flags(c, args, ["seed"]).seed
    folder, pretrained = pretrain_cohorts(
        args.data,
        args.model,
        parse_overrides(args.option),
        args.out,
        train,
        layout=data.layout,
        layer=data.layer,
        gene_id=data.gene_id,
        duplicate_genes=data.duplicate_genes,
        transform=preprocess.transform,
        top_genes=preprocess.top_genes,
        fraction=args.mask_fraction,
        seed=seed,
        overwrite=args.force,
    )
    info = pretrained.info
    note(
        f"pretrained {pretrained.model} on {info['n_patients']} patients x {info['n_genes']} "
        f"genes: held-out reconstruction MSE {info['best_val_reconstruction_mse']:.3f} "
        f"(epoch {info['best_epoch']} of {info['epochs_run']}, {info['seconds']:.0f} s); "
        f"written to {folder}"
    )
    return 0
