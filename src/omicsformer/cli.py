"""The ``omicsformer`` command line: parses arguments, calls the library, maps errors to exit codes.

Exit codes: 0 success, 2 user error (bad input, unknown name, ...; one line on stderr),
130 interrupted. Any other failure is a bug and shows its traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import typing
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from omicsformer.config import (
    BENCH_MODELS,
    DEMO_MODELS,
    INTERACTION_MODELS,
    PRETRAINABLE,
    AugmentConfig,
    DataConfig,
    ModelConfig,
    PreprocessConfig,
    Range,
    RunConfig,
    SplitConfig,
    TaskConfig,
    TrackConfig,
    TrainConfig,
    Transform,
    TuneConfig,
    parse_overrides,
    read_config_file,
    settings,
)
from omicsformer.console import note, one_line, out
from omicsformer.errors import ConfigError, OmicsformerError

# --------------------------------------------------------------------------------- arguments


class Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (exit 2), like every other user error."""

    def error(self, message: str) -> NoReturn:
        print(f"omicsformer: error: {message} (see: {self.prog} --help)", file=sys.stderr)
        sys.exit(2)


class Formatter(argparse.HelpFormatter):
    """Shows each option's default unless its help already says it."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        shown = action.default not in (None, False, argparse.SUPPRESS)
        if shown and "default" not in text and action.option_strings:
            text += " (default: %(default)s)"
        return text


def number(
    kind: type, low: float | None = None, high: float | None = None, *, open_low: bool = False
) -> Callable[[str], Any]:
    """An argparse type: an ``int`` or ``float`` within [low, high] (``open_low``: (low, high]);
    checked when the arguments are parsed, before any data is read."""

    def parse(text: str) -> Any:
        try:
            value = kind(text.replace("_", "")) if kind is int else kind(text)
        except ValueError:
            what = "an integer" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
        too_low = low is not None and (value <= low if open_low else value < low)
        if too_low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"must be {Range(low, high, open_low)}, got {text}")
        return value

    parse.__name__ = kind.__name__  # argparse names the type in its messages
    return parse


def number_list(kind: type, low: float, high: float | None = None, *, open_low: bool = False):
    """An argparse type: comma-separated numbers, each checked like :func:`number`."""
    one = number(kind, low, high, open_low=open_low)

    def parse(text: str) -> list[Any]:
        values = [one(v.strip()) for v in text.split(",") if v.strip()]
        if not values:
            raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}")
        return values

    return parse


COUNT = number(int, 1)  # epochs, batch sizes, processes, repeats: at least 1
NON_NEGATIVE = number(int, 0)
SEED = number(int, 0, 2**32 - 1)  # numpy and scikit-learn take 32-bit seeds
FOLDS = number(int, 2)
POSITIVE = number(float, 0, open_low=True)


# ------------------------------------------------------------------- run-configuration flags
# A RunConfig flag is declared once, on its config field (config.setting: default, help, range,
# flag name). add_config_arguments makes the argparse flag from it (the value stays text; a
# Literal type gives argparse choices, for --help); read_flags turns the given flags into typed,
# range-checked values, once, when the RunConfig is built, before any data is read.


def add_config_arguments(
    parser: Any,
    section: type,
    fields: Sequence[str] | None = None,
    *,
    required: Sequence[str] = (),
    shown: dict[str, str] | None = None,
    help: dict[str, str] | None = None,
) -> None:
    """Add the flags of ``section``'s declared settings to ``parser`` (or an argument group):
    ``fields`` (these, in this order; default: every field that has a flag), ``required``
    among them. The help text, range, shown default and choices come from the declaration;
    ``shown`` replaces a shown default (e.g. "the run's") and ``help`` a help text where a
    command means something narrower."""
    for s in settings(section, fields):
        if s.flag is None and fields is None:
            continue
        if s.flag is None:
            raise ValueError(f"{section.__name__}.{s.name} is declared without a flag")
        text = _flag_help(s, (shown or {}).get(s.name), (help or {}).get(s.name))
        if s.hint is bool:  # --no-NAME for a default of true, --NAME for false
            action = parser.add_argument(
                s.flag, action="store_const", const=not s.default, help=text
            )
        else:
            action = parser.add_argument(
                s.flag, choices=s.choices, metavar=s.metavar, required=s.name in required, help=text
            )
        action.setting = (section, s.name)  # for the docs' options table


def _flag_help(s: Any, shown: str | None, text: str | None) -> str:
    text = text or s.describe()
    notes = [str(s.range)] if s.range else []
    default = shown or s.default_text()
    if "(default: " in text:  # a default the help describes itself
        text = text.replace("(default: ", f"({''.join(n + '; ' for n in notes)}default: ", 1)
    else:
        if default and s.hint is not bool:
            notes.append(f"default: {default}")
        text += f" ({'; '.join(notes)})" if notes else ""
    return text.replace("%", "%%")  # argparse formats help with %


def read_flags(
    args: argparse.Namespace, section: type, fields: Sequence[str] | None = None
) -> dict[str, Any]:
    """The flags of ``section`` given on the command line (``fields``: only these), each parsed
    to its declared type and range-checked; an error names the flag."""
    values = {}
    for s in settings(section, fields):
        raw = getattr(args, s.dest, None) if s.dest else None
        if raw is not None:
            values[s.name] = s.read(raw, s.flag)
    return values


def _with_flags(obj: Any, args: argparse.Namespace, fields: Sequence[str] | None = None) -> Any:
    """A copy of config section ``obj`` with the flags given for it."""
    return dataclasses.replace(obj, **read_flags(args, type(obj), fields))


# the flags each command takes, by RunConfig section
DATA_FLAGS = ["source", "labels", "layout", "sample_id", "layer"]
GENE_ID_FLAGS = ["gene_id", "duplicate_genes"]
TCGA_FLAGS = ["gdc_column", "sample_types"]
TARGET_FLAGS = ["time", "event"]  # of TaskConfig; DataConfig.target beside them
TRAIN_FLAGS = {  # train, tune, compare, bench augmentation; the sections config_from_args reads
    "data": [*DATA_FLAGS, *GENE_ID_FLAGS, *TCGA_FLAGS, "target", "batch_key", "group_by"],
    "task": ["name", *TARGET_FLAGS, "ties", "regression_loss", "horizons"],
    "preprocess": ["transform", "impute", "top_genes", "zscore"],
    "split": ["val_fraction", "test_fraction"],
    "model": ["name", "init", "finetune"],
    "train": None,  # every training flag
    "augment": None,
    "track": None,
}
PRETRAIN_FLAGS = {
    "data": ["layout", "layer", *GENE_ID_FLAGS],
    "preprocess": ["transform", "top_genes"],
    "train": [
        *["max_epochs", "batch_size", "eval_batch_size", "lr", "patience", "min_epochs"],
        "device",
    ],
}
SECTIONS = {
    "data": DataConfig,
    "task": TaskConfig,
    "preprocess": PreprocessConfig,
    "split": SplitConfig,
    "model": ModelConfig,
    "train": TrainConfig,
    "augment": AugmentConfig,
    "tune": TuneConfig,
    "track": TrackConfig,
}


def _add_data_args(
    parser: argparse.ArgumentParser,
    *,
    required: bool,
    with_target: bool = True,
    from_run: bool = False,
) -> None:
    """The data flags; ``from_run``: a saved run's data settings are the defaults."""
    g = parser.add_argument_group("data")
    required_data = ["source"] if required else []
    add_config_arguments(g, DataConfig, DATA_FLAGS, required=required_data)
    from_run_shown = dict.fromkeys(GENE_ID_FLAGS, "the run's") if from_run else None
    add_config_arguments(g, DataConfig, GENE_ID_FLAGS, shown=from_run_shown)
    add_config_arguments(g, DataConfig, TCGA_FLAGS)
    if with_target:
        add_config_arguments(g, DataConfig, ["target"])
        add_config_arguments(g, TaskConfig, TARGET_FLAGS)


def _add_train_args(
    parser: argparse.ArgumentParser, *, with_model: bool = True, folds: bool = False
) -> None:
    """The flags of a training set-up; ``folds``: cross-validation instead of one split."""
    _add_data_args(parser, required=False)
    p = parser.add_argument_group("preprocessing (fitted on the training split only)")
    add_config_arguments(p, PreprocessConfig, TRAIN_FLAGS["preprocess"])
    add_config_arguments(p, DataConfig, ["batch_key"])
    k = parser.add_argument_group("task")
    add_config_arguments(k, TaskConfig, ["name", "ties", "regression_loss", "horizons"])
    s = parser.add_argument_group("split")
    add_config_arguments(s, DataConfig, ["group_by"])
    add_config_arguments(s, SplitConfig, ["val_fraction"] if folds else None)
    m = parser.add_argument_group("model")
    if with_model:
        add_config_arguments(m, ModelConfig, ["name"])
    m.add_argument(
        "-o",
        "--option",
        action="append",
        metavar="KEY=VALUE",
        help="model option, repeatable (e.g. -o C=0.01,0.1; see `omicsformer models NAME`); "
        "with several models, MODEL.KEY=VALUE for one of them",
    )
    m.add_argument(
        "--attention",
        help="attention backend of attomics and the gene-level models (a wrong name lists the "
        "valid ones; see README 'Gene-level attention: one switch')",
    )
    m.add_argument(
        "--grouping",
        help="gene grouping (attomics, hybrid): random, kmeans, go-bp (the shipped GO "
        "biological-process sets, human symbols) or gmt:PATH (default: random); gene sets: at "
        "most -o max_sets=50",
    )
    add_config_arguments(m, ModelConfig, ["init", "finetune"])
    m.add_argument(
        "--drop-ungrouped",
        action="store_true",
        default=None,
        help="attomics, hybrid with go-bp or gmt: drop the genes in no (kept) set instead of "
        "grouping them",
    )
    add_config_arguments(parser.add_argument_group("training (neural models)"), TrainConfig)
    a = parser.add_argument_group("augmentation (training data only)")
    add_config_arguments(a, AugmentConfig)
    a.add_argument(
        "--synthetic-ratio",
        type=POSITIVE,
        help="cvae: synthetic patients per real training patient (default: 1)",
    )
    add_config_arguments(parser, RunConfig, ["seed"])
    parser.add_argument(
        "--config", help="start from this config.yaml (flags given here override it)"
    )


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """Overlay the flags actually given on a config file (or on the defaults)."""
    # every flag is parsed and range-checked first, before a config file or any data is read
    given = {name: read_flags(args, SECTIONS[name], f) for name, f in TRAIN_FLAGS.items()}
    seed = read_flags(args, RunConfig, ["seed"]).get("seed")
    written = read_config_file(args.config) if args.config else {}
    config = RunConfig.from_dict(written) if args.config else RunConfig()
    model = given["model"].pop("name", None)  # compare takes --models instead
    if model is not None and model != config.model.name:
        config.model = ModelConfig(name=model, options={})
    for name, values in given.items():
        setattr(config, name, dataclasses.replace(getattr(config, name), **values))
    # an explicit model (--model, or the model a --config file names) wins or is refused
    chosen, by = (model, "--model") if model is not None else (None, "")
    names_model = isinstance(written.get("model"), dict) and "name" in written["model"]
    if chosen is None and names_model and hasattr(args, "model"):
        chosen, by = config.model.name, f"--config {args.config} (model.name)"
    if chosen is not None and config.model.init:
        from omicsformer.pipeline import init_mismatch
        from omicsformer.pretrain.run import pretrained_model

        held = pretrained_model(config.model.init)
        if held is not None and held != chosen:
            raise ConfigError(init_mismatch(config.model.init, held, chosen, by))
    config.model.options.update(parse_overrides(args.option))
    if args.grouping is not None:
        config.model.options["grouping"] = args.grouping
    if args.attention is not None:
        config.model.options["attention"] = args.attention
    if args.synthetic_ratio is not None:
        from omicsformer.augment import split_specs

        ratio = f"ratio={args.synthetic_ratio}"
        config.augment.methods = [
            f"{m}{',' if ':' in m else ':'}{ratio}"
            if m.split(":")[0] == "cvae" and "ratio=" not in m
            else m
            for m in split_specs(",".join(config.augment.methods))
        ]
    if args.drop_ungrouped:
        config.model.options["drop_ungrouped"] = True
    if seed is not None:
        config.seed = seed
    # what the user fixed stays out of a hyper-parameter search
    pinned = {f"train.{k}" for k in given["train"]}
    config.tune.pinned = sorted(set(config.tune.pinned) | pinned)
    if not config.data.source:
        raise OmicsformerError("--data is required (or --config with a data.source)")
    if hasattr(args, "model"):  # train, tune: one model (compare checks its --models)
        name = config.model.name
        if model is None and config.model.init:
            from omicsformer.pretrain.run import pretrained_model

            name = pretrained_model(config.model.init) or name
        check_model_flags(args, [name], "--model")
    return config.validate()


# model options that have a flag of their own besides -o
MODEL_FLAGS = {
    "grouping": "--grouping",
    "attention": "--attention",
    "drop_ungrouped": "--drop-ungrouped",
}


def check_model_flags(args: argparse.Namespace, models: list[str], flag: str) -> None:
    """Refuse a model-option flag (``--grouping``, ...) that none of ``models`` takes, naming
    the flag and the models it applies to (not the ``-o`` key it stands for)."""
    from omicsformer.models.options import takers_of

    for option, option_flag in MODEL_FLAGS.items():
        if getattr(args, option, None) is None:
            continue
        takers = takers_of(option)
        if not set(models) & set(takers):
            names = ", ".join(takers[:-1]) + f" and {takers[-1]}" if len(takers) > 1 else takers[0]
            raise ConfigError(
                f"{option_flag} applies to {names} only, not to {flag} {','.join(models)}"
            )


# ---------------------------------------------------------------------------------- commands


def check_services(config: RunConfig, *, storage: bool = False) -> None:
    """Ask the outside services a run needs (the MLflow store; the Optuna ``storage``) before
    the heavy imports, so that one that is down is one line within its timeout, seconds after
    the command starts. The run checks again, as it must when called from Python: the MLflow
    answer is remembered in the process, the storage is checked anew (cheap for a SQLite file;
    one more connection for a database server, which may have changed since)."""
    from omicsformer.train.tracking import check_tracking

    check_tracking(config.track)
    if storage and config.tune.storage is not None:
        from omicsformer.tuning.storage import check_storage

        check_storage(config.tune.storage)


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
    _print_frame(trials, list(trials.columns))
    note(
        f"best validation {search.metric} {search.best_value:.3f} in {len(trials)} trials "
        f"({search.seconds:.0f} s): {search.params}"
    )
    print_metrics({f"{result.spec.name} (tuned)": result.metrics}, result.task.metric_names)
    note(f"run written to {folder} (trials.csv, study.db)")
    return 0


def cmd_pretrain(args: argparse.Namespace) -> int:
    from omicsformer.pretrain.run import pretrain_cohorts

    c = RunConfig()
    data = _with_flags(c.data, args, PRETRAIN_FLAGS["data"])
    preprocess = _with_flags(c.preprocess, args, PRETRAIN_FLAGS["preprocess"])
    train = _with_flags(c.train, args, PRETRAIN_FLAGS["train"])
    seed = _with_flags(c, args, ["seed"]).seed
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


def _tune_settings(config: Any, args: argparse.Namespace) -> None:
    """The search flags of ``tune`` and ``compare --tune``."""
    config.tune = _with_flags(config.tune, args)
    if getattr(args, "tune", None):  # compare --tune TRIALS
        config.tune.trials = args.tune


def _add_track_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("experiment tracking (README 'Experiment tracking')")
    add_config_arguments(g, TrackConfig)


def _add_tune_args(parser: argparse.ArgumentParser, *, in_compare: bool) -> None:
    g = parser.add_argument_group("hyper-parameter search (Optuna; training patients only)")
    if in_compare:
        g.add_argument(
            "--tune",
            type=COUNT,
            metavar="TRIALS",
            help="also search TRIALS trials per model inside every training fold (nested CV) and "
            "report tuned beside default figures",
        )
    else:
        add_config_arguments(g, TuneConfig, ["trials"])
    add_config_arguments(g, TuneConfig, ["timeout", "inner_folds", "pruner", "storage"])
    add_config_arguments(g, TuneConfig, ["study_name"])


def cmd_compare(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    if args.tune:
        _tune_settings(config, args)
    check_services(config, storage=bool(args.tune))
    from omicsformer.compare import Pretraining, compare

    pretrain = None
    if args.pretrain or args.pretrain_data:
        cohorts = [c.strip() for c in (args.pretrain_data or "").split(",") if c.strip()]
        pretrain = Pretraining(cohorts, args.pretrain_epochs, args.mask_fraction)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
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
    note(f"results written to {args.out}{_page_of(args.out)}")
    return 0


def _page_of(folder: str | Path) -> str:
    """The end of a "results written" line that points at the folder's report.html, if it has
    one ('' with --no-report, or when the page failed: that is a warning, not an error)."""
    page = Path(folder) / "report.html"
    return f"; open {page} in a browser" if page.is_file() else ""


def _add_eval_batch(parser: argparse.ArgumentParser) -> None:
    """--eval-batch-size of a command on a saved run (default: the run's own)."""
    text = {"eval_batch_size": "samples per batch through the network (default: the run's own)"}
    add_config_arguments(parser, TrainConfig, ["eval_batch_size"], help=text)


def _load_run(args: argparse.Namespace) -> Any:
    """The saved run of ``args.run_dir``, with ``--eval-batch-size`` if given."""
    from omicsformer.runs import load_run

    given = read_flags(args, TrainConfig, ["eval_batch_size"])
    return load_run(args.run_dir, eval_batch_size=given.get("eval_batch_size"))


def _load_data_for_run(args: argparse.Namespace, run: Any) -> Any:
    from omicsformer.data import tcga
    from omicsformer.data.readers import load_data

    columns = list(run.target.columns)
    if run.preprocessor.batch is not None:
        columns.append(run.preprocessor.batch.key)
    for flag in ("target", "time", "event"):
        if getattr(args, flag, None):
            columns.append(getattr(args, flag))
    adata = load_data(
        args.data,
        labels=args.labels,
        layout=args.layout or "samples-by-genes",
        sample_id=args.sample_id,
        layer=args.layer,
        obs_columns=columns,
        gene_id=_run_gene_id(args.gene_id, run),
        duplicate_genes=args.duplicate_genes or run.config.data.duplicate_genes,
        # a GDC folder is read with the run's value column unless told otherwise
        gdc_column=args.gdc_column
        or (run.config.data.gdc_column if Path(args.data).is_dir() else None),
        sample_types=args.sample_types,
    )
    tcga.add_barcode_columns(adata)  # a --batch-key tss run finds each sample's centre
    return adata


def _run_gene_id(given: str | None, run: Any) -> str | None:
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


def cmd_predict(args: argparse.Namespace) -> int:
    from omicsformer.fileio import check_output_file, write_with
    from omicsformer.runs import predictions_for

    check_output_file(args.out, overwrite=args.force)  # before any data is read
    run = _load_run(args)
    adata = _load_data_for_run(args, run)
    frame = predictions_for(run, adata)
    write_with(args.out, lambda tmp: frame.to_csv(tmp, index=False))
    note(f"{len(frame)} predictions written to {args.out}")
    return 0


def cmd_embed(args: argparse.Namespace) -> int:
    from omicsformer.api import from_run
    from omicsformer.fileio import check_output_file, write_with

    if not args.out.endswith(".h5ad"):
        raise ConfigError(f"--out {args.out}: the embedding is written as AnnData (.h5ad)")
    check_output_file(args.out, overwrite=args.force)  # before any data is read
    run = _load_run(args)
    estimator = from_run(run)
    estimator.check_embeddable()  # before any data is read
    adata = _load_data_for_run(args, run)
    estimator.predict(adata)  # predictions into .obs, embedding into .obsm
    write_with(args.out, lambda tmp: adata.write_h5ad(tmp))
    width = adata.obsm["X_omicsformer"].shape[1]
    note(f"{adata.n_obs} samples embedded ({width} dimensions) in {args.out}")
    return 0


def _add_no_report(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-report",
        action="store_true",
        help="do not write report.html (the page of the results; `omicsformer report` makes it "
        "later)",
    )


def cmd_report(args: argparse.Namespace) -> int:
    from omicsformer.report.pages import write_report

    path = write_report(args.folder, args.out, overwrite=args.force)
    note(f"report written to {path}")
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from omicsformer.fileio import check_output_file, write_json
    from omicsformer.report.tables import print_metrics
    from omicsformer.runs import evaluate_run, warn_if_seen

    if args.out:
        check_output_file(args.out, overwrite=args.force)
    run = _load_run(args)
    adata = _load_data_for_run(args, run)
    columns = [args.target] if args.target else None
    if args.time or args.event:
        columns = [args.time or run.target.columns[0], args.event or run.target.columns[1]]
    warn_if_seen(run, adata)
    metrics = evaluate_run(run, adata, columns)
    print_metrics({run.spec.name: {"evaluation": metrics}}, run.task.metric_names)
    if args.out:
        write_json(args.out, metrics)
    return 0


def cmd_interpret(args: argparse.Namespace) -> int:
    from omicsformer.interpret.run import DEFAULT_METHODS, interpret

    run = _load_run(args)
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


def _names(text: str) -> list[str]:
    """A comma-separated list of names, blanks dropped."""
    return [name.strip() for name in text.split(",") if name.strip()]


def _add_token_modes(parser: argparse.ArgumentParser) -> None:
    """--tokens and --zero-fraction of bench attention and bench model."""
    parser.add_argument(
        "--tokens",
        default="all",
        help="comma-separated token modes to measure: all (every gene a token, dense) and/or "
        "expressed (each patient's expressed genes only, the models' -o tokens=expressed)",
    )
    parser.add_argument(
        "--zero-fraction",
        type=number(float, 0, 1),
        default=0.9,
        help="random data for --tokens expressed: the share of genes with a zero value per "
        "patient (0.9: single-cell-like counts; bulk RNA-seq is nearer 0.3-0.5)",
    )


def cmd_bench_attention(args: argparse.Namespace) -> int:
    from omicsformer.bench.attention import bench_attention
    from omicsformer.nn.attention import BACKENDS
    from omicsformer.report.pages.bench import ATTENTION_COLUMNS

    backends = [b.strip() for b in (args.backends or "").split(",") if b.strip()]
    frame = bench_attention(
        args.genes,
        backends or [n for n, c in BACKENDS.items() if "cpu" in c.info.devices],
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
        tokens=_names(args.tokens),
        zero_fraction=args.zero_fraction,
    )
    _print_frame(frame, ATTENTION_COLUMNS)
    note(f"written to {args.out} (attention.csv, attention.png, report.html)")
    return 0


def cmd_bench_model(args: argparse.Namespace) -> int:
    from omicsformer.bench.model import bench_model
    from omicsformer.report.pages.bench import MODEL_COLUMNS

    frame = bench_model(
        [m.strip() for m in args.models.split(",") if m.strip()],
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
        tokens=_names(args.tokens),
        zero_fraction=args.zero_fraction,
        data=args.data,
        transform=args.transform,
        top_genes=args.top_genes,
    )
    _print_frame(frame, MODEL_COLUMNS)
    note(f"written to {args.out}/model.csv")
    return 0


def cmd_bench_gpu(args: argparse.Namespace) -> int:
    from omicsformer.bench.gpu import CSV_NAME, PLOT_NAME, bench_gpu

    _, table = bench_gpu(
        args.out,
        genes=args.genes,
        backends=_names(args.backends) if args.backends else None,
        precisions=_names(args.precisions),
        model=args.model or None,
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
    from omicsformer.bench.augmentation import bench_augmentation, summary_markdown

    augments = [a.strip() for a in (args.augment or "none").split(",")]
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
        report=not args.no_report,
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
    for name, spec in DATASETS.items():
        for choice, meaning in spec.choices.items():
            out.print(escape(f"  {name}:{choice}: {meaning}"))
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    import importlib.util

    from rich.markup import escape
    from rich.table import Table

    from omicsformer.config import settings_rows
    from omicsformer.models import MODELS

    if args.name:  # one model's options, from its options dataclass
        spec = MODELS.get(args.name)
        out.print(escape(f"{spec.name}: {spec.description}"))
        table = Table(title=f"options of {spec.name} (-o KEY=VALUE; lists comma-separated)")
        rows = settings_rows(spec.options)
        for column in rows[0] if rows else ("option",):
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*map(escape, row.values()))
        out.print(table)
        return 0
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
    out.print("the options of a model (-o KEY=VALUE): omicsformer models NAME")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from omicsformer.demo import run_demo

    run_demo(
        Path(args.out),
        models=args.models.split(",") if args.models else None,
        folds=args.folds,
        attention=args.attention,
        top_genes=read_flags(args, PreprocessConfig, ["top_genes"]).get("top_genes"),
    )
    note(f"results written to {args.out} (results.csv, summary.md){_page_of(args.out)}")
    return 0


# ------------------------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="omicsformer",
        description="Predict patient phenotypes from gene expression with attention models.",
        formatter_class=Formatter,
        allow_abbrev=False,  # --model must not silently mean --models
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name, help=help, description=help, formatter_class=Formatter, allow_abbrev=False
        )

    train = command("train", "train one model on a train/val/test split")
    _add_train_args(train)
    _add_track_args(train)
    train.add_argument("--out", help="run folder to create")
    train.add_argument(
        "--force",
        action="store_true",
        help="replace an existing run folder made by omicsformer, or discard an interrupted run",
    )
    train.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run")
    train.set_defaults(func=cmd_train)

    pre = command(
        "pretrain", "self-supervised pretraining (masked expression) on unlabeled cohorts"
    )
    pre.add_argument(
        "--data",
        action="append",
        required=True,
        help="a cohort (file or built-in name); repeat for several, aligned by gene name",
    )
    add_config_arguments(pre, DataConfig, PRETRAIN_FLAGS["data"])
    pre.add_argument(
        "--model",
        required=True,
        choices=PRETRAINABLE,
        help="the network to pretrain",
    )
    _add_model_options(pre)
    add_config_arguments(
        pre,
        PreprocessConfig,
        PRETRAIN_FLAGS["preprocess"],
        help={"top_genes": "keep the K genes most variable within their cohorts"},
        shown={"top_genes": "every gene"},
    )
    pre.add_argument(
        "--mask-fraction",
        type=number(float, 0, 0.9, open_low=True),
        default=0.15,
        help="share of each patient's measured genes hidden and reconstructed",
    )
    add_config_arguments(
        pre,
        TrainConfig,
        PRETRAIN_FLAGS["train"],
        help={"batch_size": "batch size"},
        shown={"batch_size": "32"},
    )
    add_config_arguments(pre, RunConfig, ["seed"])
    pre.add_argument("--out", required=True, help="folder to create")
    _add_force(pre)
    pre.set_defaults(func=cmd_pretrain)

    tune = command("tune", "search hyper-parameters on the training patients, then train")
    _add_train_args(tune)
    _add_track_args(tune)
    _add_tune_args(tune, in_compare=False)
    tune.add_argument("--out", required=True, help="run folder to create")
    _add_force(tune)
    tune.set_defaults(func=cmd_tune)

    compare = command("compare", "several models on the same cross-validation folds")
    _add_train_args(compare, with_model=False, folds=True)
    _add_track_args(compare)
    compare.add_argument(
        "--models", required=True, help="comma-separated models, e.g. logreg,rf,mlp"
    )
    compare.add_argument("--folds", type=FOLDS, default=5, help="stratified folds, at least 2")
    compare.add_argument(
        "--repeats",
        type=COUNT,
        default=1,
        help="repetitions of the k-fold split, with split seeds SEED, SEED+1, ... (the models "
        "keep --seed); differences are tested over all repeats x folds",
    )
    _add_tune_args(compare, in_compare=True)
    p = compare.add_argument_group("pretraining inside every fold (training patients only)")
    p.add_argument(
        "--pretrain",
        action="store_true",
        help=f"also fine-tune {' / '.join(PRETRAINABLE)} from masked-expression "
        "pretraining on each fold's training patients, reported as NAME (pretrained)",
    )
    p.add_argument(
        "--pretrain-data",
        help="comma-separated unlabeled cohorts added to each fold's pretraining (implies "
        "--pretrain; aligned by gene name)",
    )
    p.add_argument("--pretrain-epochs", type=COUNT, default=30, help="pretraining epochs at most")
    p.add_argument(
        "--mask-fraction",
        type=number(float, 0, 0.9, open_low=True),
        default=0.15,
        help="share of each patient's genes hidden in pretraining",
    )
    compare.add_argument("--out", required=True, help="output folder (results.csv, summary.md)")
    _add_force(compare)
    compare.add_argument(
        "--progress", action="store_true", help="show the epochs of each training run"
    )
    _add_no_report(compare)
    compare.set_defaults(func=cmd_compare)

    predict = command("predict", "predict new samples with a trained run")
    predict.add_argument("run_dir", help="a run folder made by `omicsformer train`")
    _add_data_args(predict, required=True, with_target=False, from_run=True)
    predict.add_argument("--out", required=True, help="predictions CSV to write")
    predict.add_argument("--force", action="store_true", help="replace an existing --out file")
    _add_eval_batch(predict)
    predict.set_defaults(func=cmd_predict)

    embed = command(
        "embed", "patient embeddings and predictions of a trained neural run, as AnnData"
    )
    embed.add_argument("run_dir", help="a run folder of a neural model")
    _add_data_args(embed, required=True, with_target=False, from_run=True)
    embed.add_argument(
        "--out",
        required=True,
        help="AnnData (.h5ad) to write: the data, predictions in .obs, the embedding in "
        ".obsm['X_omicsformer']",
    )
    embed.add_argument("--force", action="store_true", help="replace an existing --out file")
    _add_eval_batch(embed)
    embed.set_defaults(func=cmd_embed)

    report = command(
        "report", "one self-contained HTML page of a run, comparison, benchmark or interpretation"
    )
    report.add_argument("folder", help="a folder written by omicsformer")
    report.add_argument("--out", help="HTML file to write (default: FOLDER/report.html)")
    report.add_argument("--force", action="store_true", help="replace an existing report file")
    report.set_defaults(func=cmd_report)

    evaluate = command("evaluate", "score a trained run on labelled data")
    evaluate.add_argument("run_dir", help="a run folder made by `omicsformer train`")
    _add_data_args(evaluate, required=True, from_run=True)
    evaluate.add_argument("--out", help="also write the metrics to this JSON file")
    evaluate.add_argument("--force", action="store_true", help="replace an existing --out file")
    _add_eval_batch(evaluate)
    evaluate.set_defaults(func=cmd_evaluate)

    interp = command("interpret", "per-patient gene-gene interactions of a trained run")
    interp.add_argument("run_dir", help="a run folder of a neural model")
    _add_data_args(interp, required=True, with_target=False, from_run=True)
    which = interp.add_mutually_exclusive_group()
    which.add_argument("--samples", help="comma-separated sample IDs (default: all)")
    which.add_argument("--all", action="store_true", help="every sample of the data")
    interp.add_argument("--top-k", type=COUNT, default=50, help="interactions kept per patient")
    interp.add_argument(
        "--methods",
        help="comma-separated: attention, rollout, integrated_gradients, gradient_x_input, "
        "hessian, occlusion (default: all but occlusion)",
    )
    interp.add_argument("--per-head", action="store_true", help="also keep every head's edges")
    interp.add_argument("--plots", type=NON_NEGATIVE, default=5, help="patient heatmaps to draw")
    interp.add_argument("--out", required=True, help="output folder to create")
    _add_eval_batch(interp)
    _add_force(interp)
    interp.set_defaults(func=cmd_interpret)

    bench = command("bench", "benchmarks: attention kernels, model training steps")
    bench_sub = bench.add_subparsers(dest="bench", required=True, metavar="BENCHMARK")

    def benchmark(name: str, help: str) -> argparse.ArgumentParser:
        return bench_sub.add_parser(
            name, help=help, description=help, formatter_class=Formatter, allow_abbrev=False
        )

    attention = benchmark("attention", "time and memory of attention backends vs genes")
    attention.add_argument(
        "--genes",
        type=number_list(int, 1),
        default="1000,4000,16000,60000",
        help="comma-separated token counts",
    )
    attention.add_argument(
        "--backends",
        help="comma-separated attention backends (default: every backend that runs on a CPU)",
    )
    attention.add_argument("--batch", type=COUNT, default=1, help="patients per step")
    attention.add_argument("--dim", type=COUNT, default=128, help="model width (heads x head dim)")
    attention.add_argument("--heads", type=COUNT, default=4, help="attention heads")
    attention.add_argument(
        "--device", choices=["cpu", "cuda"], default="cpu", help="where to measure"
    )
    attention.add_argument(
        "--precision", choices=["32", "bf16", "16"], default="32", help="number format"
    )
    attention.add_argument(
        "--mode", choices=["fwd", "fwd+bwd"], default="fwd+bwd", help="what is timed"
    )
    attention.add_argument("--repeats", type=COUNT, default=3, help="timed repeats (median)")
    attention.add_argument(
        "--mask-density",
        type=number_list(float, 0, 1, open_low=True),
        help="also time each backend with a gene-set mask (attention_mask=gmt:PATH) of synthetic "
        "random sets of F x N genes, for each comma-separated density F (e.g. 0.01,0.1)",
    )
    _add_token_modes(attention)
    attention.add_argument(
        "--memory-budget-gb",
        type=POSITIVE,
        help="skip configurations estimated above this (default: the machine's memory)",
    )
    attention.add_argument(
        "--timeout", type=POSITIVE, default=600, help="seconds per configuration"
    )
    attention.add_argument("--out", required=True, help="output folder to create")
    _add_force(attention)
    _add_no_report(attention)
    attention.set_defaults(func=cmd_bench_attention)

    model = benchmark("model", "one training step of each neural model")
    model.add_argument("--models", default=",".join(BENCH_MODELS), help="comma-separated models")
    model.add_argument(
        "--genes",
        type=number_list(int, 1),
        default="1000,4000",
        help="comma-separated gene counts",
    )
    model.add_argument("--batch", type=COUNT, default=8, help="patients per step")
    model.add_argument("--device", choices=["cpu", "cuda"], default="cpu", help="where to measure")
    model.add_argument("--precision", choices=["32", "bf16"], default="32", help="number format")
    model.add_argument(
        "--data",
        help="measure on this matrix (a file or built-in name), every gene of it, instead of "
        "random data (--genes is then not used); preprocessing is fitted on all its patients: "
        "a speed benchmark, not an accuracy one",
    )
    model.add_argument(
        "--transform",
        choices=list(typing.get_args(Transform)),
        default="none",
        help="--data: value transform before the z-score, as in a run",
    )
    model.add_argument(
        "--top-genes", type=COUNT, help="--data: keep the K most variable genes (default: all)"
    )
    _add_token_modes(model)
    _add_model_options(model)
    model.add_argument("--repeats", type=COUNT, default=3, help="timed repeats (median)")
    model.add_argument("--timeout", type=POSITIVE, default=600, help="seconds per configuration")
    model.add_argument("--out", required=True, help="output folder to create")
    _add_force(model)
    _add_no_report(model)
    model.set_defaults(func=cmd_bench_model)

    gpu = benchmark(
        "gpu",
        "the GPU table of docs/attention-methods.md: every backend, bf16 and fp32, 1k-60k genes, "
        "the largest batch that fits, TFLOP/s against the device's peak, expressed-only vs dense",
    )
    gpu.add_argument(
        "--genes",
        type=number_list(int, 1),
        default="1000,4000,16000,30000,60000",
        help="comma-separated gene (token) counts",
    )
    gpu.add_argument(
        "--backends",
        help="comma-separated attention backends, and flex (the default backend with a gene-set "
        "mask, through FlexAttention); default: every backend that does not write the N x N "
        "matrix out (one that cannot run here, for its device or package, is a row saying why)",
    )
    gpu.add_argument(
        "--precisions", default="bf16,32", help="comma-separated number formats: bf16 and/or 32"
    )
    gpu.add_argument(
        "--model",
        default="gene-transformer",
        help="model whose training step is timed dense and expressed-only ('' for none)",
    )
    gpu.add_argument("--dim", type=COUNT, default=512, help="layer width (heads x head dim)")
    gpu.add_argument("--heads", type=COUNT, default=8, help="attention heads")
    gpu.add_argument(
        "--zero-fraction",
        type=number(float, 0, 1),
        default=0.9,
        help="expressed-only rows: the share of genes with a zero value per patient",
    )
    gpu.add_argument(
        "--max-batch", type=COUNT, default=1024, help="cap of the largest-batch search"
    )
    gpu.add_argument("--repeats", type=COUNT, default=3, help="timed repeats (median)")
    gpu.add_argument("--device", choices=["cuda", "cpu"], default="cuda", help="where to measure")
    gpu.add_argument(
        "--smoke",
        action="store_true",
        help="one tiny configuration end to end (64 genes, the default backend, fp32; with "
        "--device cpu: the test suite's check)",
    )
    gpu.add_argument(
        "--timeout",
        type=POSITIVE,
        default=1800,
        help="seconds per configuration, its batch search included",
    )
    gpu.add_argument(
        "--out",
        default="docs",
        help="folder of attention-gpu.csv and attention-gpu.png (docs/, where "
        "docs/attention-methods.md reads them)",
    )
    _add_force(gpu)
    gpu.set_defaults(func=cmd_bench_gpu)

    aug = benchmark("augmentation", "learning curves with each augmentation")
    _add_train_args(aug, folds=True)
    aug.add_argument(
        "--train-fractions",
        type=number_list(float, 0, 1, open_low=True),
        default="0.1,0.25,0.5,1.0",
        help="comma-separated fractions of each training fold, in (0, 1]",
    )
    aug.add_argument("--folds", type=FOLDS, default=5, help="stratified folds, at least 2")
    aug.add_argument(
        "--repeats",
        type=COUNT,
        default=1,
        help="repetitions of the k-fold split, with split seeds SEED, SEED+1, ...; gains are "
        "tested over all repeats x folds",
    )
    aug.add_argument("--out", required=True, help="output folder to create")
    _add_force(aug)
    _add_no_report(aug)
    aug.set_defaults(func=cmd_bench_augmentation)

    inter = benchmark("interactions", "recovery of planted gene pairs by each model and method")
    inter.add_argument(
        "--models", default=",".join(INTERACTION_MODELS), help="comma-separated models"
    )
    inter.add_argument(
        "--methods",
        default="attention,hessian,occlusion",
        help="comma-separated: attention, hessian, occlusion",
    )
    inter.add_argument(
        "--data-option",
        action="append",
        metavar="KEY=VALUE",
        help="synthetic generator setting, e.g. n_genes=100 (default: 2000 samples, 50 genes, "
        "3 planted pairs)",
    )
    _add_model_options(inter)
    inter.add_argument("--seed", type=SEED, default=0, help="random seed")
    inter.add_argument("--max-epochs", type=COUNT, default=60, help="training epochs at most")
    inter.add_argument(
        "--patience", type=COUNT, default=15, help="early-stopping patience in epochs"
    )
    inter.add_argument(
        "--test-patients", type=COUNT, default=200, help="test patients whose pairs are scored"
    )
    inter.add_argument("--out", required=True, help="output folder to create")
    _add_force(inter)
    _add_no_report(inter)
    inter.set_defaults(func=cmd_bench_interactions)

    _add_fetch_command(command)
    command("datasets", "list the built-in datasets").set_defaults(func=cmd_datasets)
    models = command("models", "list the registered models, or one model's options")
    models.add_argument(
        "name", nargs="?", metavar="NAME", help="show this model's options (default: list models)"
    )
    models.set_defaults(func=cmd_models)

    demo = command("demo", "run the demonstration on the bundled leukemia cohort")
    demo.add_argument(
        "--out",
        default="runs/demo",
        help="output folder; a previous demo there is replaced, any other folder is refused",
    )
    demo.add_argument("--models", help=f"comma-separated models (default: {','.join(DEMO_MODELS)})")
    demo.add_argument("--folds", type=FOLDS, default=5, help="cross-validation folds")
    demo.add_argument("--attention", help="attention backend of gene-transformer / hybrid")
    add_config_arguments(demo, PreprocessConfig, ["top_genes"])
    demo.set_defaults(func=cmd_demo)
    return parser


def _add_fetch_command(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """``omicsformer fetch tcga``: a GDC project's files and clinical table, resumable."""
    from omicsformer.data.fetch import API, TIMEOUT

    fetch = command("fetch", "download public cohorts (TCGA from the GDC API)")
    fetch_sub = fetch.add_subparsers(dest="source", required=True, metavar="SOURCE")
    tcga = fetch_sub.add_parser(
        "tcga",
        help="a TCGA (GDC) project's expression files, sample sheet and clinical table",
        description="Download a GDC project's open STAR gene-count files (checksums verified, "
        "safe to interrupt and run again), its sample sheet and clinical table into a folder "
        "that --data reads.",
        formatter_class=Formatter,
        allow_abbrev=False,
    )
    tcga.add_argument("--project", required=True, help="GDC project ID, e.g. TCGA-BRCA")
    tcga.add_argument(
        "--data-type",
        default="Gene Expression Quantification",
        help="GDC data type of the files",
    )
    tcga.add_argument(
        "--workflow",
        help="GDC analysis workflow (default: STAR - Counts for gene expression, else none)",
    )
    tcga.add_argument(
        "--sample-types",
        help="only these sample types, comma-separated codes or GDC names (01, 11, "
        "Primary Tumor, ...; default: all)",
    )
    tcga.add_argument("--no-clinical", action="store_true", help="skip clinical.tsv")
    tcga.add_argument(
        "--max-files", type=COUNT, help="at most this many files, for a first look (default: all)"
    )
    tcga.add_argument("--api", default=API, help="GDC API root, an http(s) URL")
    tcga.add_argument(
        "--timeout",
        type=POSITIVE,
        default=TIMEOUT,
        metavar="SECONDS",
        help="give up on a request (a page of the file list, or one file) once the GDC API has "
        "sent nothing for this long in all: connecting, waiting for an answer or for the next "
        "bytes, retries (at most 4) and back-off included",
    )
    tcga.add_argument("--out", required=True, help="folder to fill (run again to complete it)")
    tcga.set_defaults(func=cmd_fetch_tcga)


def cmd_fetch_tcga(args: argparse.Namespace) -> int:
    from omicsformer.data.fetch import GDCClient, fetch_tcga
    from omicsformer.data.tcga import SAMPLE_TYPES, parse_sample_types

    codes = parse_sample_types(args.sample_types or "")
    unknown = [c for c in codes if c not in SAMPLE_TYPES]
    if unknown:
        raise OmicsformerError(
            f"unknown sample-type code {unknown[0]}; known: {', '.join(SAMPLE_TYPES)}"
        )
    types = [SAMPLE_TYPES[c] for c in codes]
    summary = fetch_tcga(
        args.project,
        args.out,
        data_type=args.data_type,
        workflow=args.workflow,
        sample_types=types,
        clinical=not args.no_clinical,
        max_files=args.max_files,
        client=GDCClient(args.api, timeout=args.timeout),
    )
    cases = f", {summary.cases} cases in clinical.tsv" if summary.cases is not None else ""
    note(
        f"{summary.files} files in {summary.folder} ({summary.downloaded} downloaded, "
        f"{summary.already_there} already there; every MD5 verified){cases}; read it with "
        f"--data {summary.folder}"
        + (
            f" --labels {Path(summary.folder) / 'clinical.tsv'}"
            if summary.cases is not None
            else ""
        )
    )
    return 0


def _add_model_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-o",
        "--option",
        action="append",
        metavar="[MODEL.]KEY=VALUE",
        help="model option, repeatable; a bare KEY goes to every model that has it",
    )


def _add_force(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace an existing output folder made by omicsformer (never any other folder)",
    )


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    from omicsformer import __version__

    try:
        torch = version("torch")
    except PackageNotFoundError:
        torch = "not installed"
    return f"omicsformer {__version__} (torch {torch}, Python {sys.version.split()[0]})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    with warnings.catch_warnings():
        _route_warnings()
        try:
            return int(args.func(args) or 0)
        except OmicsformerError as exc:
            return _fail(str(exc))
        except OSError as exc:  # a file system refusal: permissions, full disk, bad path
            if exc.errno is None:
                raise
            from omicsformer.fileio import describe_os_error

            return _fail(describe_os_error(exc))
        except KeyboardInterrupt:
            print("omicsformer: interrupted", file=sys.stderr)
            return 130
        except (MemoryError, RuntimeError) as exc:  # out of memory outside a batched pass
            from omicsformer.memory import is_out_of_memory

            if not is_out_of_memory(exc):
                raise
            return _fail(
                f"out of memory ({' '.join(str(exc).split())[:160] or type(exc).__name__}); "
                "give the process more memory or use fewer samples or genes (--top-genes)"
            )


def _fail(message: str) -> int:
    message = " ".join(message.split())  # always exactly one line
    print(f"omicsformer: error: {message}", file=sys.stderr)
    return 2


def _route_warnings() -> None:
    """Deprecation notices are for developers: hidden. Any other warning of a library becomes
    one note line (once per message) instead of a multi-line block around our own output."""
    warnings.simplefilter("ignore", FutureWarning)
    warnings.simplefilter("ignore", DeprecationWarning)
    warnings.simplefilter("ignore", PendingDeprecationWarning)
    seen: set[str] = set()

    def show(message: Any, category: type, filename: str, lineno: int, *rest: Any) -> None:
        text = one_line(str(message))  # never a quoted traceback
        if text in seen:
            return
        seen.add(text)
        note(f"warning ({category.__name__}): {text}")

    warnings.showwarning = show


if __name__ == "__main__":
    sys.exit(main())
