"""Every flag of every command, declared once, and the argparse flags made from the declarations.

A flag is a typed dataclass field made by :func:`omicsformer.config.setting` (default, help,
range, flag name): the run configuration's sections (:data:`SECTIONS`, flags that become a
:class:`RunConfig`) and, below, the commands' own flags (output, models, cross-validation,
benchmarks, ...). A command takes a flag by naming its declaration (:func:`add_config_arguments`
for run settings, whose values stay text until :func:`read_flags` builds the RunConfig;
:func:`add_options` for the commands' own, parsed and range-checked by argparse); a flag several
commands share is one declaration, so its name, type, range and help are the same everywhere.
A command may narrow a shared flag's help, default, choices or whether it is required (``--out``
says what it writes), never its name, type or range. ``tests/test_cli_declarations.py`` walks
the parser: every option string comes from one declaration (:data:`HOMONYMS`: the names that
stand for different settings in different commands).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from omicsformer.cli.declarations import Compare, Models, Output
from omicsformer.config import (
    AugmentConfig,
    DataConfig,
    ModelConfig,
    PreprocessConfig,
    RunConfig,
    SplitConfig,
    TaskConfig,
    TrackConfig,
    TrainConfig,
    TuneConfig,
    settings,
    value_text,
)
from omicsformer.errors import ConfigError


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


# ---------------------------------------------------------------------- flags from declarations
def add_options(
    parser: Any,
    section: type,
    fields: Sequence[str],
    *,
    required: Sequence[str] = (),
    defaults: dict[str, Any] | None = None,
    help: dict[str, str] | None = None,
    choices: dict[str, Sequence[str]] | None = None,
) -> None:
    """Add the flags of a command's own declarations (``section``'s ``fields``) to ``parser``
    (or a group): parsed to their type and range-checked by argparse, so a bad value is one
    usage line before anything runs. A command may give a field another ``defaults`` value, a
    narrower ``help`` text or ``choices``, and make it ``required``."""
    for s in settings(section, fields):
        default = (defaults or {}).get(s.name, s.default)
        text = _flag_help(s, value_text(default) or None, (help or {}).get(s.name))
        names = [n for n in (s.short, s.flag) if n]
        if s.hint is bool:
            action = parser.add_argument(*names, action="store_true", help=text)
        elif s.repeat:
            action = parser.add_argument(
                *names, action="append", metavar=s.metavar, required=s.name in required, help=text
            )
        else:
            action = parser.add_argument(
                *names,
                type=_reader(s),
                default=default,
                choices=(choices or {}).get(s.name, s.choices),
                metavar=s.metavar,
                required=s.name in required,
                help=text,
            )
        action.declared = (section, s.name)
        if section in SECTIONS.values():  # a run setting: for the docs' options table
            action.setting = action.declared


def add_folds(parser: Any) -> None:
    """``--folds``: the run setting ``split.folds``, 5 unless given."""
    add_options(parser, SplitConfig, ["folds"], defaults={"folds": 5})


def _reader(s: Any) -> Any:
    """An argparse type: the text as ``s``'s declared type, range-checked."""

    def read(text: str) -> Any:
        try:
            return s.read(text, s.flag)
        except ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc).removeprefix(f"{s.flag}: ")) from None

    read.__name__ = s.type_text()  # argparse names the type in its messages
    return read


def add_config_arguments(
    parser: Any,
    section: type,
    fields: Sequence[str] | None = None,
    *,
    required: Sequence[str] = (),
    shown: dict[str, str] | None = None,
    help: dict[str, str] | None = None,
    choices: dict[str, Sequence[str]] | None = None,
) -> None:
    """Add the flags of ``section``'s declared run settings to ``parser`` (or an argument
    group): ``fields`` (these, in this order; default: every field that has a flag), ``required``
    among them. The help text, range, shown default and choices come from the declaration;
    ``shown`` replaces a shown default (e.g. "the run's"), ``help`` a help text and ``choices``
    the choices where a command means something narrower. The value stays text until
    :func:`read_flags` reads it."""
    for s in settings(section, fields):
        if s.flag is None and fields is None:
            continue
        if s.flag is None:
            raise ValueError(f"{section.__name__}.{s.name} is declared without a flag")
        default = "" if s.name in required else (shown or {}).get(s.name)
        text = _flag_help(s, default, (help or {}).get(s.name))
        if s.hint is bool:  # --no-NAME for a default of true, --NAME for false
            action = parser.add_argument(
                s.flag, action="store_const", const=not s.default, help=text
            )
        else:
            action = parser.add_argument(
                s.flag,
                choices=(choices or {}).get(s.name, s.choices),
                metavar=s.metavar,
                required=s.name in required,
                help=text,
            )
        action.setting = (section, s.name)  # for the docs' options table
        action.declared = action.setting


def _flag_help(s: Any, shown: str | None, text: str | None) -> str:
    text = text or s.describe()
    notes = [str(s.range)] if s.range else []
    default = s.default_text() if shown is None else shown  # "": none shown
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


def with_flags(obj: Any, args: argparse.Namespace, fields: Sequence[str] | None = None) -> Any:
    """A copy of config section ``obj`` with the flags given for it."""
    return dataclasses.replace(obj, **read_flags(args, type(obj), fields))


# ------------------------------------------------------------ the run settings each command takes
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
    "model": ["name"],
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


def add_data_args(
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


def add_train_args(
    parser: argparse.ArgumentParser, *, with_model: bool = True, folds: bool = False
) -> None:
    """The flags of a training set-up; ``folds``: cross-validation instead of one split."""
    add_data_args(parser, required=False)
    p = parser.add_argument_group("preprocessing (fitted on the training split only)")
    add_config_arguments(p, PreprocessConfig, TRAIN_FLAGS["preprocess"])
    add_config_arguments(p, DataConfig, ["batch_key"])
    k = parser.add_argument_group("task")
    add_config_arguments(k, TaskConfig, ["name", "ties", "regression_loss", "horizons"])
    s = parser.add_argument_group("split")
    add_config_arguments(s, DataConfig, ["group_by"])
    add_config_arguments(s, SplitConfig, ["val_fraction"] if folds else TRAIN_FLAGS["split"])
    m = parser.add_argument_group("model")
    if with_model:
        add_config_arguments(m, ModelConfig, ["name"])
    add_options(m, Models, ["option", "attention", "grouping"])
    add_config_arguments(m, ModelConfig, ["init", "finetune"])
    add_options(m, Models, ["drop_ungrouped"])
    add_config_arguments(parser.add_argument_group("training (neural models)"), TrainConfig)
    a = parser.add_argument_group("augmentation (training data only)")
    add_config_arguments(a, AugmentConfig)
    add_options(a, Models, ["synthetic_ratio"])
    add_config_arguments(parser, RunConfig, ["seed"])
    add_options(parser, Output, ["config"])


def add_track_args(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("experiment tracking (docs/tracking.md)")
    add_config_arguments(g, TrackConfig)


def add_tune_args(parser: argparse.ArgumentParser, *, in_compare: bool) -> None:
    g = parser.add_argument_group("hyper-parameter search (Optuna; training patients only)")
    if in_compare:
        add_options(g, Compare, ["tune"])
    else:
        add_config_arguments(g, TuneConfig, ["trials"])
    add_config_arguments(g, TuneConfig, ["timeout", "inner_folds", "pruner", "storage"])
    add_config_arguments(g, TuneConfig, ["study_name"])


def add_eval_batch(parser: argparse.ArgumentParser) -> None:
    """--eval-batch-size of a command on a saved run (default: the run's own)."""
    text = {"eval_batch_size": "samples per batch through the network (default: the run's own)"}
    add_config_arguments(parser, TrainConfig, ["eval_batch_size"], help=text)


def add_output(
    parser: Any,
    what: str,
    *,
    required: bool = True,
    default: str | None = None,
    force: bool = True,
) -> None:
    """``--out`` (saying ``what`` is written there) and, with ``force``, ``--force``."""
    add_options(
        parser,
        Output,
        ["out", "force"] if force else ["out"],
        required=["out"] if required else [],
        defaults={"out": default},
        help={"out": what},
    )
