"""``omicsformer bench``: attention kernels, model training steps, the GPU table, augmentation
learning curves, interaction recovery."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from omicsformer.cli.common import config_from_args, names, print_frame
from omicsformer.cli.declarations import Bench, CrossValidation, Interpret, Models, Output
from omicsformer.cli.options import (
    Formatter,
    add_config_arguments,
    add_folds,
    add_options,
    add_output,
    add_train_args,
    read_flags,
)
from omicsformer.config import (
    BENCH_MODELS,
    GPU_MODEL,
    INTERACTION_MODELS,
    DataConfig,
    ModelConfig,
    PreprocessConfig,
    RunConfig,
    TrainConfig,
    parse_overrides,
    parse_spec,
)
from omicsformer.console import note, out
from omicsformer.errors import ConfigError

SIZES = ["genes", "batch", "dim", "heads"]
TIMING = ["device", "precision", "timeout"]


def add_repeats(parser: argparse.ArgumentParser) -> None:
    """--repeats of a benchmark: timed repeats of each configuration."""
    add_options(
        parser,
        CrossValidation,
        ["repeats"],
        defaults={"repeats": 3},
        help={"repeats": "timed repeats (median)"},
    )


def add_commands(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    bench = command("bench", "benchmarks: attention kernels, model training steps")
    bench_sub = bench.add_subparsers(dest="bench", required=True, metavar="BENCHMARK")

    def benchmark(name: str, help: str) -> argparse.ArgumentParser:
        return bench_sub.add_parser(
            name, help=help, description=help, formatter_class=Formatter, allow_abbrev=False
        )

    def results_folder(parser: argparse.ArgumentParser, func: Callable[..., int]) -> None:
        """The output folder and --no-report of a benchmark that writes a results folder."""
        add_output(parser, "output folder to create")
        add_options(parser, Output, ["no_report"])
        parser.set_defaults(func=func)

    attention = benchmark("attention", "time and memory of attention backends vs genes")
    add_options(
        attention,
        Bench,
        [*SIZES, "backends", *TIMING, "mode", "mask_density", "tokens", "zero_fraction"],
        defaults={"genes": [1000, 4000, 16000, 60000]},
        help={
            "genes": "comma-separated token counts",
            "backends": "comma-separated attention backends (default: every backend that runs "
            "on a CPU)",
        },
    )
    add_repeats(attention)
    add_options(attention, Bench, ["memory_budget_gb"])
    results_folder(attention, cmd_bench_attention)

    model = benchmark("model", "one training step of each neural model")
    add_options(model, Models, ["models"], defaults={"models": ",".join(BENCH_MODELS)})
    add_options(
        model,
        Bench,
        ["genes", "batch", *TIMING, "tokens", "zero_fraction"],
        defaults={"batch": 8},
        choices={"precision": ["32", "bf16"]},
    )
    add_repeats(model)
    add_config_arguments(
        model,
        DataConfig,
        ["source"],
        help={
            "source": "measure on this matrix (a file or built-in name), every gene of it, "
            "instead of random data (--genes is then not used); preprocessing is fitted on all "
            "its patients: a speed benchmark, not an accuracy one"
        },
    )
    add_config_arguments(
        model,
        PreprocessConfig,
        ["transform", "top_genes"],
        help={
            "transform": "--data: value transform before the z-score, as in a run",
            "top_genes": "--data: keep the K most variable genes (default: all)",
        },
    )
    add_options(model, Models, ["option"])
    results_folder(model, cmd_bench_model)

    gpu = benchmark(
        "gpu",
        "the GPU table of docs/attention-methods.md: every backend, bf16 and fp32, 1k-60k genes, "
        "the largest batch that fits, TFLOP/s against the device's peak, expressed-only vs dense",
    )
    add_options(
        gpu,
        Bench,
        ["genes", "backends", "precisions"],
        defaults={"genes": [1000, 4000, 16000, 30000, 60000]},
        help={
            "backends": "comma-separated attention backends, and flex (the default backend with "
            "a gene-set mask, through FlexAttention); default: every backend that does not "
            "write the N x N matrix out (one that cannot run here, for its device or package, "
            "is a row saying why)"
        },
    )
    add_config_arguments(
        gpu,
        ModelConfig,
        ["name"],
        shown={"name": GPU_MODEL},
        help={"name": "model whose training step is timed dense and expressed-only ('' for none)"},
    )
    add_options(
        gpu,
        Bench,
        ["dim", "heads", "zero_fraction", "max_batch", "device", "smoke", "timeout"],
        defaults={"dim": 512, "heads": 8, "device": "cuda", "timeout": 1800},
    )
    add_repeats(gpu)
    add_output(
        gpu,
        "folder of attention-gpu.csv and attention-gpu.png (docs/, where "
        "docs/attention-methods.md reads them)",
        required=False,
        default="docs",
    )
    gpu.set_defaults(func=cmd_bench_gpu)

    aug = benchmark("augmentation", "learning curves with each augmentation")
    add_train_args(aug, folds=True)
    add_options(aug, Bench, ["train_fractions"])
    add_folds(aug)
    add_options(aug, CrossValidation, ["repeats"])
    results_folder(aug, cmd_bench_augmentation)

    inter = benchmark("interactions", "recovery of planted gene pairs by each model and method")
    add_options(inter, Models, ["models"], defaults={"models": ",".join(INTERACTION_MODELS)})
    add_options(
        inter,
        Interpret,
        ["methods"],
        defaults={"methods": "attention,hessian,occlusion"},
        help={"methods": "comma-separated: attention, hessian, occlusion"},
    )
    add_config_arguments(
        inter,
        DataConfig,
        ["source"],
        shown={"source": "synthetic"},
        help={
            "source": "the synthetic generator, its settings in the one option language "
            "(synthetic:n_genes=100,n_pairs=5; see `omicsformer datasets synthetic`); a "
            "setting not given takes the benchmark's: 2000 samples, 50 genes, 3 planted pairs"
        },
    )
    add_options(inter, Models, ["option"])
    add_config_arguments(inter, RunConfig, ["seed"])
    add_config_arguments(inter, TrainConfig, ["max_epochs", "patience"], shown=INTERACTION_TRAINING)
    add_options(inter, Bench, ["test_patients"])
    results_folder(inter, cmd_bench_interactions)


INTERACTION_TRAINING = {"max_epochs": "60", "patience": "15"}  # short fits of small networks


def cmd_bench_attention(args: argparse.Namespace) -> int:
    from omicsformer.bench.attention import bench_attention
    from omicsformer.nn.attention import BACKENDS
    from omicsformer.report.pages.bench import ATTENTION_COLUMNS

    frame = bench_attention(
        args.genes,
        names(args.backends) or [n for n, c in BACKENDS.items() if "cpu" in c.info.devices],
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
        report=not args.no_report,
        mask_densities=args.mask_density,
        tokens=names(args.tokens),
        zero_fraction=args.zero_fraction,
    )
    print_frame(frame, ATTENTION_COLUMNS)
    note(f"written to {args.out} (attention.csv, attention.png, report.html)")
    return 0


def cmd_bench_model(args: argparse.Namespace) -> int:
    from omicsformer.bench.model import bench_model
    from omicsformer.report.pages.bench import MODEL_COLUMNS

    preprocess = read_flags(args, PreprocessConfig, ["transform", "top_genes"])
    frame = bench_model(
        names(args.models),
        args.genes,
        args.out,
        batch=args.batch,
        device=args.device,
        precision=args.precision,
        options=parse_overrides(args.option),
        repeats=args.repeats,
        timeout=args.timeout,
        overwrite=args.force,
        report=not args.no_report,
        tokens=names(args.tokens),
        zero_fraction=args.zero_fraction,
        data=args.data,
        transform=preprocess.get("transform", PreprocessConfig().transform),
        top_genes=preprocess.get("top_genes"),
    )
    print_frame(frame, MODEL_COLUMNS)
    note(f"written to {args.out}/model.csv")
    return 0


def cmd_bench_gpu(args: argparse.Namespace) -> int:
    from omicsformer.bench.gpu import CSV_NAME, PLOT_NAME, bench_gpu

    _, table = bench_gpu(
        args.out,
        genes=args.genes,
        backends=names(args.backends) or None,
        precisions=names(args.precisions),
        model=GPU_MODEL if args.model is None else (args.model or None),
        dim=args.dim,
        heads=args.heads,
        zero_fraction=args.zero_fraction,
        max_batch=args.max_batch,
        repeats=args.repeats,
        device=args.device,
        smoke=args.smoke,
        timeout=args.timeout,
        overwrite=args.force,
    )
    sys.stdout.write(table + "\n")  # Markdown to paste, plain
    note(f"written to {Path(args.out) / CSV_NAME} and {Path(args.out) / PLOT_NAME}")
    return 0


def cmd_bench_augmentation(args: argparse.Namespace) -> int:
    from omicsformer.augment import split_specs
    from omicsformer.bench.augmentation import bench_augmentation, summary_markdown

    augments = split_specs(args.augment or "none")  # wgan:steps=2,n=40 is one alternative
    args.augment = None  # the alternatives are compared; the config itself has none
    config = config_from_args(args)
    frame = bench_augmentation(
        config,
        args.model or "mlp",
        args.out,
        fractions=args.train_fractions,
        augments=augments,
        folds=args.folds,
        repeats=args.repeats,
        overwrite=args.force,
        report=not args.no_report,
    )
    metric = next(c for c in ("balanced_accuracy", "c_index", "r2") if c in frame)
    out.print(summary_markdown(frame, metric, "augmentation learning curves"))
    note(f"written to {args.out} (augmentation.csv, summary.md, learning_curves.png)")
    return 0


def planted_data(source: str) -> dict[str, str]:
    """The synthetic generator's settings from ``--data synthetic[:KEY=VALUE,...]``: the planted
    pairs are known only for data it generates."""
    name, params = parse_spec(source, what="dataset")
    if name != "synthetic":
        raise ConfigError(
            f"bench interactions needs planted gene pairs, so --data must be the synthetic "
            f"generator (synthetic:KEY=VALUE,...), got {name!r}"
        )
    return params


def cmd_bench_interactions(args: argparse.Namespace) -> int:
    from omicsformer.bench.interactions import bench_interactions
    from omicsformer.compare import split_options

    models = names(args.models)
    data = planted_data(read_flags(args, DataConfig, ["source"]).get("source", "synthetic"))
    training = read_flags(args, TrainConfig, ["max_epochs", "patience"])
    frame = bench_interactions(
        args.out,
        models=models,
        data=data,
        methods=tuple(m.strip() for m in args.methods.split(",")),
        seed=read_flags(args, RunConfig, ["seed"]).get("seed", 0),
        max_epochs=training.get("max_epochs", int(INTERACTION_TRAINING["max_epochs"])),
        patience=training.get("patience", int(INTERACTION_TRAINING["patience"])),
        test_patients=args.test_patients,
        options=split_options(models, parse_overrides(args.option)),
        overwrite=args.force,
        report=not args.no_report,
    )
    print_frame(frame, list(frame.columns))
    note(f"written to {args.out}/interactions.csv")
    return 0
