"""The ``omicsformer`` command line: parses arguments, calls the library, maps errors to exit codes.

Exit codes: 0 success, 2 user error (bad input, unknown name, ...; one line on stderr),
130 interrupted. Any other failure is a bug and shows its traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from omicsformer.config import (
    DataConfig,
    ModelConfig,
    PreprocessConfig,
    RunConfig,
    SplitConfig,
    TaskConfig,
    TrainConfig,
    from_dict,
    parse_overrides,
)
from omicsformer.console import note, out
from omicsformer.errors import OmicsformerError

# --------------------------------------------------------------------------------- arguments


def _add_data_args(
    parser: argparse.ArgumentParser, *, required: bool, with_target: bool = True
) -> None:
    g = parser.add_argument_group("data")
    g.add_argument(
        "--data",
        required=required,
        help="a built-in dataset name or a .csv/.tsv/.parquet/.h5ad file",
    )
    g.add_argument(
        "--labels", help="clinical / labels table (.csv/.tsv/.parquet) joined on sample ID"
    )
    g.add_argument(
        "--layout",
        choices=["samples-by-genes", "genes-by-samples"],
        help="orientation of a table matrix (default: samples-by-genes)",
    )
    g.add_argument(
        "--sample-id", help="sample-ID column of the labels table (default: first column)"
    )
    g.add_argument("--layer", help="for .h5ad: use this layer instead of X")
    if with_target:
        g.add_argument("--target", help="obs / labels column to predict")
        g.add_argument("--time", help="survival: column with the follow-up time")
        g.add_argument("--event", help="survival: column with the event indicator (0/1)")


def _add_train_args(parser: argparse.ArgumentParser) -> None:
    _add_data_args(parser, required=False)
    p = parser.add_argument_group("preprocessing (fitted on the training split only)")
    p.add_argument("--transform", choices=["none", "log1p", "log2p1"], help="default: none")
    p.add_argument(
        "--impute", choices=["none", "median"], help="fill NaN/inf with training medians"
    )
    p.add_argument("--top-genes", type=int, help="keep the K most variable training genes")
    p.add_argument("--no-zscore", action="store_true", default=None, help="do not z-score genes")
    k = parser.add_argument_group("task")
    k.add_argument(
        "--task",
        choices=["auto", "classification", "survival", "regression"],
        help="default: auto (survival with --time/--event, regression for a continuous target)",
    )
    k.add_argument(
        "--ties", choices=["breslow", "efron"], help="Cox likelihood ties (default: breslow)"
    )
    k.add_argument("--regression-loss", choices=["mse", "huber"], help="default: mse")
    k.add_argument("--horizons", help="survival: comma-separated times for probabilities and AUC")
    s = parser.add_argument_group("split")
    s.add_argument("--val-fraction", type=float, help="default: 0.15")
    s.add_argument("--test-fraction", type=float, help="default: 0.15")
    m = parser.add_argument_group("model")
    m.add_argument("--model", help="registered model name (see `omicsformer models`)")
    m.add_argument(
        "-o",
        "--option",
        action="append",
        metavar="KEY=VALUE",
        help="model option, repeatable (e.g. -o C=0.01,0.1)",
    )
    m.add_argument(
        "--attention",
        help="attention backend of gene-level models: sdpa, eager, flash, linformer, nystrom, "
        "performer, linear",
    )
    m.add_argument(
        "--grouping", help="gene grouping (attomics, hybrid): random, kmeans or gmt:PATH"
    )
    m.add_argument(
        "--drop-ungrouped",
        action="store_true",
        default=None,
        help="attomics with gmt: drop genes in no set instead of keeping them as one group",
    )
    t = parser.add_argument_group("training (neural models)")
    t.add_argument("--max-epochs", type=int, help="default: 100")
    t.add_argument("--batch-size", type=int, help="global batch size (default: 8; 64 for survival)")
    t.add_argument("--lr", type=float, help="AdamW learning rate (default: the model's own)")
    t.add_argument("--weight-decay", type=float, help="AdamW weight decay (default: 0.01)")
    t.add_argument("--schedule", choices=["constant", "cosine"], help="learning-rate schedule")
    t.add_argument("--warmup-epochs", type=int, help="linear warm-up epochs (default: 0)")
    t.add_argument("--grad-clip", type=float, help="gradient-norm clipping, 0 = off (default: 1)")
    t.add_argument("--patience", type=int, help="early-stopping patience in epochs (default: 8)")
    t.add_argument("--monitor", help="validation quantity for early stopping: loss or a metric")
    t.add_argument("--device", choices=["cpu", "cuda", "auto"], help="default: auto")
    t.add_argument("--devices", type=int, help="processes / GPUs per node (default: 1)")
    t.add_argument("--num-nodes", type=int, help="nodes (default: 1)")
    t.add_argument("--strategy", choices=["auto", "ddp", "fsdp"], help="multi-device strategy")
    t.add_argument("--precision", choices=["32", "bf16-mixed", "16-mixed"], help="default: 32")
    a = parser.add_argument_group("augmentation (training data only)")
    a.add_argument(
        "--augment",
        help="comma-separated NAME[:key=value...]: noise, mask, scale, mixup, smote, cvae "
        "(e.g. noise:sigma=0.2,mixup:alpha=0.4)",
    )
    a.add_argument(
        "--synthetic-ratio",
        type=float,
        help="cvae: synthetic patients per real training patient (default: 1)",
    )
    parser.add_argument("--seed", type=int, help="random seed (default: 0)")
    parser.add_argument(
        "--config", help="start from this config.yaml (flags given here override it)"
    )


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """Overlay the flags actually given on a config file (or on the defaults)."""
    config = RunConfig.from_yaml(args.config) if args.config else RunConfig()
    sections: dict[str, dict[str, Any]] = {
        "data": {
            "source": args.data,
            "labels": args.labels,
            "layout": args.layout,
            "sample_id": args.sample_id,
            "layer": args.layer,
            "target": args.target,
        },
        "preprocess": {
            "transform": args.transform,
            "impute": args.impute,
            "top_genes": args.top_genes,
            "zscore": False if args.no_zscore else None,
        },
        "task": {
            "name": args.task,
            "time": args.time,
            "event": args.event,
            "ties": args.ties,
            "regression_loss": args.regression_loss,
            "horizons": args.horizons,
        },
        "split": {"val_fraction": args.val_fraction, "test_fraction": args.test_fraction},
        "train": {
            name: getattr(args, name)
            for name in (
                "max_epochs",
                "batch_size",
                "lr",
                "weight_decay",
                "schedule",
                "warmup_epochs",
                "grad_clip",
                "patience",
                "monitor",
                "device",
                "devices",
                "num_nodes",
                "strategy",
                "precision",
            )
        },
    }
    classes = {
        "data": DataConfig,
        "task": TaskConfig,
        "preprocess": PreprocessConfig,
        "split": SplitConfig,
        "train": TrainConfig,
    }
    for section, values in sections.items():
        merged = {
            **getattr(config, section).__dict__,
            **{k: v for k, v in values.items() if v is not None},
        }
        setattr(config, section, from_dict(classes[section], merged, section))
    if args.model is not None and args.model != config.model.name:
        config.model = ModelConfig(name=args.model, options={})
    config.model.options.update(parse_overrides(args.option))
    if args.grouping is not None:
        config.model.options["grouping"] = args.grouping
    if args.attention is not None:
        config.model.options["attention"] = args.attention
    if args.augment is not None:
        config.augment.methods = [m for m in args.augment.split(",") if m.strip()]
    if args.synthetic_ratio is not None:
        config.augment.methods = [
            f"{m}:ratio={args.synthetic_ratio}"
            if m.split(":")[0] == "cvae" and "ratio=" not in m
            else m
            for m in config.augment.methods
        ]
    if args.drop_ungrouped:
        config.model.options["drop_ungrouped"] = True
    if args.seed is not None:
        config.seed = args.seed
    if not config.data.source:
        raise OmicsformerError("--data is required (or --config with a data.source)")
    return config.validate()


# ---------------------------------------------------------------------------------- commands


def cmd_train(args: argparse.Namespace) -> int:
    from omicsformer.pipeline import resume_run, train_run
    from omicsformer.report.tables import print_metrics

    if args.resume:
        outcome = resume_run(args.resume)
    else:
        if not args.out:
            raise OmicsformerError("--out is required (or --resume RUN_DIR)")
        outcome = train_run(config_from_args(args), args.out, overwrite=args.force)
    if outcome is None:  # a secondary process of a multi-process run
        return 0
    folder, result = outcome
    print_metrics({result.spec.name: result.metrics}, result.task.metric_names)
    note(f"run written to {folder}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from omicsformer.compare import compare

    if args.model:
        raise OmicsformerError("compare takes --models (comma-separated), not --model")
    config = config_from_args(args)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    compare(
        config, models, args.out, folds=args.folds, overwrite=args.force, progress=args.progress
    )
    note(f"results written to {args.out}")
    return 0


def _load_data_for_run(args: argparse.Namespace, run: Any) -> Any:
    from omicsformer.data.readers import load_data

    columns = list(run.target.columns)
    for flag in ("target", "time", "event"):
        if getattr(args, flag, None):
            columns.append(getattr(args, flag))
    return load_data(
        args.data,
        labels=args.labels,
        layout=args.layout or "samples-by-genes",
        sample_id=args.sample_id,
        layer=args.layer,
        obs_columns=columns,
    )


def cmd_predict(args: argparse.Namespace) -> int:
    from omicsformer.fileio import write_with
    from omicsformer.pipeline import load_run, predictions_for

    run = load_run(args.run_dir)
    adata = _load_data_for_run(args, run)
    frame = predictions_for(run, adata)
    write_with(args.out, lambda tmp: frame.to_csv(tmp, index=False))
    note(f"{len(frame)} predictions written to {args.out}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from omicsformer.fileio import write_json
    from omicsformer.pipeline import evaluate_run, load_run
    from omicsformer.report.tables import print_metrics

    run = load_run(args.run_dir)
    adata = _load_data_for_run(args, run)
    columns = [args.target] if args.target else None
    if args.time or args.event:
        columns = [args.time or run.target.columns[0], args.event or run.target.columns[1]]
    metrics = evaluate_run(run, adata, columns)
    print_metrics({run.spec.name: {"evaluation": metrics}}, run.task.metric_names)
    if args.out:
        write_json(args.out, metrics)
    return 0


def cmd_interpret(args: argparse.Namespace) -> int:
    from omicsformer.interpret.run import DEFAULT_METHODS, interpret
    from omicsformer.pipeline import load_run

    run = load_run(args.run_dir)
    adata = _load_data_for_run(args, run)
    samples = None
    if args.samples and not args.all:
        samples = [s.strip() for s in args.samples.split(",") if s.strip()]
    methods = tuple(m.strip() for m in args.methods.split(",")) if args.methods else DEFAULT_METHODS
    result = interpret(
        run,
        adata,
        args.out,
        samples=samples,
        top_k=args.top_k,
        methods=methods,
        per_head=args.per_head,
        plots=args.plots,
        overwrite=args.force,
    )
    recurrent = result["recurrent"]
    if len(recurrent):
        _print_frame(recurrent.groupby(["method", "layer"]).head(5), list(recurrent.columns))
    note(f"written to {args.out} (interactions.parquet, gene_importance.csv, heatmaps)")
    return 0


def _int_list(text: str, flag: str) -> list[int]:
    try:
        values = [int(v.replace("_", "")) for v in text.split(",") if v.strip()]
    except ValueError:
        raise OmicsformerError(f"{flag} expects comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise OmicsformerError(f"{flag} expects positive integers, got {text!r}")
    return values


def cmd_bench_attention(args: argparse.Namespace) -> int:
    from omicsformer.bench.attention import bench_attention

    frame = bench_attention(
        _int_list(args.genes, "--genes"),
        [b.strip() for b in args.backends.split(",") if b.strip()],
        args.out,
        batch=args.batch,
        dim=args.dim,
        heads=args.heads,
        device=args.device,
        precision=args.precision,
        mode=args.mode,
        repeats=args.repeats,
        memory_budget_gb=args.memory_budget_gb,
        timeout=args.timeout,
        overwrite=args.force,
    )
    _print_frame(
        frame,
        [
            "backend",
            "n",
            "status",
            "seconds",
            "peak_memory_mb",
            "gflops",
            "fraction_of_matmul",
            "note",
        ],
    )
    note(f"written to {args.out} (attention.csv, attention.png)")
    return 0


def cmd_bench_model(args: argparse.Namespace) -> int:
    from omicsformer.bench.model import bench_model

    frame = bench_model(
        [m.strip() for m in args.models.split(",") if m.strip()],
        _int_list(args.genes, "--genes"),
        args.out,
        batch=args.batch,
        device=args.device,
        precision=args.precision,
        options=parse_overrides(args.option),
        repeats=args.repeats,
        timeout=args.timeout,
        overwrite=args.force,
    )
    _print_frame(
        frame, ["model", "genes", "status", "seconds", "peak_memory_mb", "n_parameters", "note"]
    )
    note(f"written to {args.out}/model.csv")
    return 0


def cmd_bench_augmentation(args: argparse.Namespace) -> int:
    from omicsformer.bench.augmentation import bench_augmentation, summary_markdown

    augments = [a.strip() for a in (args.augment or "none").split(",")]
    args.augment = None  # the alternatives are compared; the config itself has none
    config = config_from_args(args)
    fractions = [float(f) for f in args.train_fractions.split(",") if f.strip()]
    frame = bench_augmentation(
        config,
        args.model or "mlp",
        args.out,
        fractions=fractions,
        augments=augments,
        folds=args.folds,
        overwrite=args.force,
    )
    metric = next(c for c in ("balanced_accuracy", "c_index", "r2") if c in frame)
    out.print(summary_markdown(frame, metric, "augmentation learning curves"))
    note(f"written to {args.out} (augmentation.csv, summary.md, learning_curves.png)")
    return 0


def cmd_bench_interactions(args: argparse.Namespace) -> int:
    from omicsformer.bench.interactions import bench_interactions
    from omicsformer.compare import split_options
    from omicsformer.config import yaml_value

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    data = {k: yaml_value(v) for k, v in parse_overrides(args.data_option).items()}
    frame = bench_interactions(
        args.out,
        models=models,
        data=data,
        methods=tuple(m.strip() for m in args.methods.split(",")),
        seed=args.seed,
        max_epochs=args.max_epochs,
        patience=args.patience,
        test_patients=args.test_patients,
        options=split_options(models, parse_overrides(args.option)),
        overwrite=args.force,
    )
    _print_frame(frame, list(frame.columns))
    note(f"written to {args.out}/interactions.csv")
    return 0


def _print_frame(frame: Any, columns: list[str]) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table()
    shown = [c for c in columns if c in frame]
    for column in shown:
        table.add_column(
            column, justify="left" if column in ("backend", "model", "note") else "right"
        )
    for _, row in frame.iterrows():
        cells = []
        for column in shown:
            value = row[column]
            if isinstance(value, float):
                value = (
                    ""
                    if value != value
                    else (f"{value:.0%}" if "fraction" in column else f"{value:.4g}")
                )
            cells.append(escape(str(value)))
        table.add_row(*cells)
    out.print(table)


def cmd_datasets(args: argparse.Namespace) -> int:
    from rich.markup import escape
    from rich.table import Table

    from omicsformer.data.datasets import DATASETS

    table = Table(title="built-in datasets")
    for column in ("name", "samples", "genes", "tasks", "targets", "source", "licence"):
        table.add_column(column, overflow="fold")
    for name, spec in DATASETS.items():
        row = (
            name,
            str(spec.shape[0]),
            str(spec.shape[1]),
            ", ".join(spec.default_targets),
            ", ".join(spec.targets),
            spec.source,
            spec.licence,
        )
        table.add_row(*map(escape, row))
    out.print(table)
    for name, spec in DATASETS.items():
        for target, meaning in spec.targets.items():
            out.print(escape(f"  {name} {target}: {meaning}"))
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    import importlib.util

    from rich.markup import escape
    from rich.table import Table

    from omicsformer.models import MODELS

    table = Table(title="models")
    for column in ("name", "family", "tasks", "description", "needs"):
        table.add_column(column, overflow="fold")
    for name, spec in MODELS.items():
        needs = ""
        if spec.extra:
            installed = importlib.util.find_spec(spec.extra) is not None
            needs = f"omicsformer[{spec.extra}]" + ("" if installed else " (not installed)")
        row = (name, spec.family, ", ".join(spec.tasks), spec.description, needs)
        table.add_row(*map(escape, row))
    out.print(table)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from omicsformer.demo import run_demo

    run_demo(
        Path(args.out),
        models=args.models.split(",") if args.models else None,
        folds=args.folds,
        attention=args.attention,
        top_genes=args.top_genes,
    )
    note(f"results written to {args.out} (results.csv, summary.md)")
    return 0


# ------------------------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="omicsformer",
        description="Predict patient phenotypes from gene expression with attention models.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = sub.add_parser("train", help="train one model on a train/val/test split")
    _add_train_args(train)
    train.add_argument("--out", help="run folder to create")
    train.add_argument("--force", action="store_true", help="replace an existing run folder")
    train.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run")
    train.set_defaults(func=cmd_train)

    compare = sub.add_parser("compare", help="several models on the same cross-validation folds")
    _add_train_args(compare)
    compare.add_argument(
        "--models", required=True, help="comma-separated models, e.g. logreg,rf,mlp"
    )
    compare.add_argument("--folds", type=int, default=5, help="stratified folds (default: 5)")
    compare.add_argument("--out", required=True, help="output folder (results.csv, summary.md)")
    compare.add_argument("--force", action="store_true", help="replace an existing output folder")
    compare.add_argument("--progress", action="store_true", help="show a bar per training run")
    compare.set_defaults(func=cmd_compare)

    predict = sub.add_parser("predict", help="predict new samples with a trained run")
    predict.add_argument("run_dir", help="a run folder made by `omicsformer train`")
    _add_data_args(predict, required=True, with_target=False)
    predict.add_argument("--out", required=True, help="predictions CSV to write")
    predict.set_defaults(func=cmd_predict)

    evaluate = sub.add_parser("evaluate", help="score a trained run on labelled data")
    evaluate.add_argument("run_dir", help="a run folder made by `omicsformer train`")
    _add_data_args(evaluate, required=True)
    evaluate.add_argument("--out", help="also write the metrics to this JSON file")
    evaluate.set_defaults(func=cmd_evaluate)

    interp = sub.add_parser("interpret", help="per-patient gene-gene interactions of a trained run")
    interp.add_argument("run_dir", help="a run folder of a neural model")
    _add_data_args(interp, required=True, with_target=False)
    which = interp.add_mutually_exclusive_group()
    which.add_argument("--samples", help="comma-separated sample IDs (default: all)")
    which.add_argument("--all", action="store_true", help="every sample of the data")
    interp.add_argument("--top-k", type=int, default=50, help="interactions kept per patient")
    interp.add_argument(
        "--methods",
        help="comma-separated: attention, rollout, integrated_gradients, gradient_x_input, "
        "hessian, occlusion (default: all but occlusion)",
    )
    interp.add_argument("--per-head", action="store_true", help="also keep every head's edges")
    interp.add_argument("--plots", type=int, default=5, help="patient heatmaps to draw")
    interp.add_argument("--out", required=True)
    interp.add_argument("--force", action="store_true")
    interp.set_defaults(func=cmd_interpret)

    bench = sub.add_parser("bench", help="benchmarks: attention kernels, model training steps")
    bench_sub = bench.add_subparsers(dest="bench", required=True, metavar="BENCHMARK")
    attention = bench_sub.add_parser(
        "attention", help="time and memory of attention backends vs genes"
    )
    attention.add_argument("--genes", default="1000,4000,16000,60000", help="token counts")
    attention.add_argument(
        "--backends", default="eager,sdpa,linformer,nystrom,performer,linear", help="backends"
    )
    attention.add_argument("--batch", type=int, default=1)
    attention.add_argument("--dim", type=int, default=128, help="model width (heads x head dim)")
    attention.add_argument("--heads", type=int, default=4)
    attention.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    attention.add_argument("--precision", choices=["32", "bf16", "16"], default="32")
    attention.add_argument("--mode", choices=["fwd", "fwd+bwd"], default="fwd+bwd")
    attention.add_argument("--repeats", type=int, default=3, help="timed repeats (median)")
    attention.add_argument(
        "--memory-budget-gb", type=float, help="skip configurations estimated above this"
    )
    attention.add_argument("--timeout", type=float, default=600, help="seconds per configuration")
    attention.add_argument("--out", required=True)
    attention.add_argument("--force", action="store_true")
    attention.set_defaults(func=cmd_bench_attention)
    model = bench_sub.add_parser("model", help="one training step of each neural model")
    model.add_argument("--models", default="mlp,attomics,gene-transformer,hybrid")
    model.add_argument("--genes", default="1000,4000")
    model.add_argument("--batch", type=int, default=8)
    model.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    model.add_argument("--precision", choices=["32", "bf16"], default="32")
    model.add_argument("-o", "--option", action="append", metavar="[MODEL.]KEY=VALUE")
    model.add_argument("--repeats", type=int, default=3)
    model.add_argument("--timeout", type=float, default=600)
    model.add_argument("--out", required=True)
    model.add_argument("--force", action="store_true")
    model.set_defaults(func=cmd_bench_model)

    aug = bench_sub.add_parser("augmentation", help="learning curves with each augmentation")
    _add_train_args(aug)
    aug.add_argument("--train-fractions", default="0.1,0.25,0.5,1.0")
    aug.add_argument("--folds", type=int, default=5)
    aug.add_argument("--out", required=True)
    aug.add_argument("--force", action="store_true")
    aug.set_defaults(func=cmd_bench_augmentation)

    inter = bench_sub.add_parser(
        "interactions", help="recovery of planted gene pairs by each model and method"
    )
    inter.add_argument("--models", default="gene-transformer,hybrid,attomics,mlp")
    inter.add_argument(
        "--methods", default="attention,hessian,occlusion", help="attention, hessian, occlusion"
    )
    inter.add_argument(
        "--data-option",
        action="append",
        metavar="KEY=VALUE",
        help="synthetic generator setting, e.g. n_genes=100 (default: 2000 samples, 50 genes, "
        "3 planted pairs)",
    )
    inter.add_argument("-o", "--option", action="append", metavar="[MODEL.]KEY=VALUE")
    inter.add_argument("--seed", type=int, default=0)
    inter.add_argument("--max-epochs", type=int, default=60)
    inter.add_argument("--patience", type=int, default=15)
    inter.add_argument("--test-patients", type=int, default=200)
    inter.add_argument("--out", required=True)
    inter.add_argument("--force", action="store_true")
    inter.set_defaults(func=cmd_bench_interactions)

    datasets = sub.add_parser("datasets", help="list the built-in datasets")
    datasets.set_defaults(func=cmd_datasets)
    models = sub.add_parser("models", help="list the registered models")
    models.set_defaults(func=cmd_models)

    demo = sub.add_parser("demo", help="run the demonstration on the bundled leukemia cohort")
    demo.add_argument("--out", default="runs/demo", help="output folder (default: runs/demo)")
    demo.add_argument("--models", help="comma-separated models (default: logreg,rf,mlp,attomics)")
    demo.add_argument("--folds", type=int, default=5, help="cross-validation folds (default: 5)")
    demo.add_argument("--attention", help="attention backend of gene-transformer / hybrid")
    demo.add_argument("--top-genes", type=int, help="keep the K most variable training genes")
    demo.set_defaults(func=cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except OmicsformerError as exc:
        message = " ".join(str(exc).split())  # always exactly one line
        print(f"omicsformer: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("omicsformer: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
