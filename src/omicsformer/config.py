"""Run configuration: typed dataclasses, YAML files and ``key=value`` overrides.

This is the one place where configuration becomes arguments. A :class:`RunConfig` is built from CLI
options (or read from a run's ``config.yaml``), validated here, written to the run folder, and
turned into plain typed arguments for the data, model and training code.

Every option (of a RunConfig section, a model, ...) is declared once, as a dataclass field made
by :func:`setting` or :func:`bounded`: default, help text, valid range, tuning search space and,
for RunConfig sections, the command-line flag. :func:`settings` reads the declarations: the CLI
generates its flags from them, ``omicsformer models NAME`` and ``docs/options.md`` print them,
and every value (flag, ``-o``, YAML) is parsed and range-checked through them once.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

import yaml

from omicsformer.data.transforms import TRANSFORMS
from omicsformer.errors import ConfigError
from omicsformer.tuning.space import Choice, Float, Int


@dataclass(frozen=True)
class Range:
    """The values a numeric option may take (each item, for a list option)."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False

    def check(self, value: Any, where: str) -> None:
        for item in value if isinstance(value, list | tuple) else [value]:
            if item is None or isinstance(item, bool) or not isinstance(item, int | float):
                continue
            low_bad = self.low is not None and (
                item <= self.low if self.open_low else item < self.low
            )
            high_bad = self.high is not None and (
                item >= self.high if self.open_high else item > self.high
            )
            if low_bad or high_bad or item != item:
                raise ConfigError(f"{where}: must be {self}, got {item!r}")

    def __bool__(self) -> bool:
        return self.low is not None or self.high is not None

    def __str__(self) -> str:
        if self.high is None:
            return f"{'greater than' if self.open_low else 'at least'} {self.low}"
        if self.low is None:
            return f"{'less than' if self.open_high else 'at most'} {self.high}"
        left, right = "(" if self.open_low else "[", ")" if self.open_high else "]"
        return f"in {left}{self.low}, {self.high}{right}"


def setting(
    default: Any = None,
    *,
    help: str = "",
    flag: str | bool = True,
    metavar: str | None = None,
    search: Any = None,
    short: str | None = None,
    repeat: bool = False,
    **limits: Any,
) -> Any:
    """A dataclass field declared once, with everything the CLI, ``-o``, YAML, tuning and the
    docs need: its default (a list default is copied for each instance), ``help`` text, valid
    range ``Range(**limits)`` (``low``, ``high``, ``open_low``, ``open_high``; checked whenever
    the value is read: a flag, ``-o``, YAML), the ``search`` space of ``omicsformer tune`` (see
    :mod:`omicsformer.tuning.space`), and for a :class:`RunConfig` section its command-line
    ``flag``: True for ``--name-with-dashes``, a string for another name (``--no-NAME`` for a
    boolean that defaults to true), False for none. ``metavar`` names the flag's value in
    ``--help``, ``short`` is a one-letter alias (``-o``), and ``repeat`` makes a list flag
    repeatable (each use adds one item) instead of comma-separated. See :func:`settings` for
    how the declarations are read."""
    metadata = {
        "range": Range(**limits),
        "search": search,
        "help": help,
        "flag": flag,
        "metavar": metavar,
        "short": short,
        "repeat": repeat,
    }
    if isinstance(default, list | dict):
        return field(default_factory=lambda: type(default)(default), metadata=metadata)
    return field(default=default, metadata=metadata)


def bounded(
    default: Any = dataclasses.MISSING, *, search: Any = None, help: str = "", **limits: Any
) -> Any:
    """A component option (of a model, augmenter, ...) with a range, a search space and help
    text: :func:`setting` without a command-line flag."""
    return setting(default, search=search, help=help, flag=False, **limits)


PROBABILITY = {"low": 0, "high": 1, "open_high": True}  # dropout: 1 would drop everything


@dataclass(frozen=True)
class Setting:
    """One declared field, as :func:`settings` reads it (fields made without :func:`setting`
    have no help, no range and, in a run-configuration section, a ``--name`` flag)."""

    name: str
    hint: Any
    default: Any  # dataclasses.MISSING when the field has none
    help: str
    range: Range
    search: Any
    flag: str | None
    metavar: str | None
    short: str | None = None
    repeat: bool = False

    @property
    def choices(self) -> tuple[str, ...] | None:
        """The values of a ``Literal`` type (also inside ``X | None``), else None."""
        hint = self.hint
        if get_origin(hint) in (typing.Union, types.UnionType):
            hint = next((a for a in get_args(hint) if a is not type(None)), hint)
        return tuple(map(str, get_args(hint))) if get_origin(hint) is Literal else None

    @property
    def dest(self) -> str | None:
        """The argparse attribute of the flag."""
        return self.flag.lstrip("-").replace("-", "_") if self.flag else None

    def read(self, value: Any, where: str) -> Any:
        """``value`` (text from a flag or ``-o``, or a YAML value) as the declared type,
        range-checked; errors name ``where`` (a flag, or ``section.name``)."""
        value = coerce(value, self.hint, where)
        self.range.check(value, where)
        return value

    def type_text(self) -> str:
        """The type as the docs and ``omicsformer models`` show it."""
        return _type_text(self.hint)

    def default_text(self) -> str:
        """The default as the docs and ``--help`` show it ("" for None or an empty list)."""
        return value_text(self.default)

    def describe(self) -> str:
        """The help text, else the field's name in words."""
        return self.help or self.name.replace("_", " ")


def settings(cls: type, names: typing.Iterable[str] | None = None) -> list[Setting]:
    """The declared fields of dataclass ``cls`` (``names``: these, in this order)."""
    hints = get_type_hints(cls)
    found = {}
    for f in dataclasses.fields(cls):
        default = f.default
        if f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        flag = f.metadata.get("flag", not dataclasses.is_dataclass(hints[f.name]))
        found[f.name] = Setting(
            name=f.name,
            hint=hints[f.name],
            default=default,
            help=f.metadata.get("help") or "",
            range=f.metadata.get("range") or Range(),
            search=f.metadata.get("search"),
            flag=f"--{f.name.replace('_', '-')}" if flag is True else (flag or None),
            metavar=f.metadata.get("metavar"),
            short=f.metadata.get("short"),
            repeat=bool(f.metadata.get("repeat")),
        )
    if names is None:
        return list(found.values())
    unknown = [n for n in names if n not in found]
    if unknown:
        raise KeyError(f"{cls.__name__} has no field {', '.join(unknown)}")
    return [found[n] for n in names]


def settings_rows(cls: type, names: typing.Iterable[str] | None = None) -> list[dict[str, str]]:
    """One row of text per declared setting of ``cls``: what ``omicsformer models NAME`` and
    the options tables of the docs show."""
    return [
        {
            "option": s.name,
            "type": s.type_text(),
            "default": s.default_text(),
            "range": str(s.range) if s.range else "",
            "searched": str(s.search) if s.search is not None else "",
            "help": s.describe(),
        }
        for s in settings(cls, names)
    ]


def check_ranges(obj: Any, where: str) -> None:
    """Check every declared range of dataclass ``obj`` (and of its dataclass fields): for a
    configuration built in Python rather than read from flags or YAML."""
    for s in settings(type(obj)):
        value = getattr(obj, s.name)
        if dataclasses.is_dataclass(value):
            check_ranges(value, f"{where}.{s.name}")
        else:
            s.range.check(value, f"{where}.{s.name}")


def value_text(value: Any) -> str:
    if value is None or value is dataclasses.MISSING:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, list | tuple):
        return ",".join(map(value_text, value))
    if isinstance(value, dict):
        return ",".join(f"{k}={value_text(v)}" for k, v in value.items())
    return str(value)


def _type_text(hint: Any) -> str:
    origin, args = get_origin(hint), get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [_type_text(a) for a in args if a is not type(None)]
        return " | ".join(inner) + (" | none" if type(None) in args else "")
    if origin is Literal:
        return "|".join(map(str, args))
    if origin in (list, tuple):
        return f"list of {_type_text(args[0])}" if args else "list"
    if origin is dict or hint is dict:
        return "mapping"
    return {int: "int", float: "float", bool: "bool", str: "text"}.get(hint, str(hint))


# The model lists commands use when none are named, written here only (the CLI's defaults and help
# texts, the demo and pretraining read them); each name is a registered model's (a test checks).
DEMO_MODELS = ("logreg", "rf", "mlp", "attomics")
BENCH_MODELS = ("mlp", "attomics", "gene-transformer", "hybrid")
INTERACTION_MODELS = ("gene-transformer", "hybrid", "attomics", "mlp")
PRETRAINABLE = ("gene-transformer", "hybrid", "attomics")  # masked-expression pretraining
GPU_MODEL = "gene-transformer"  # the model of bench gpu's training-step rows


Layout = Literal["samples-by-genes", "genes-by-samples"]
Transform = Literal[TRANSFORMS]  # the names are written in data/transforms.py only
Impute = Literal["none", "median"]
GeneId = Literal["keep", "symbol", "ensembl", "entrez"]
DuplicateGenes = Literal["mean", "sum", "max", "first"]


@dataclass
class DataConfig:
    """Where the expression matrix and the target come from.

    ``source`` is a built-in dataset name (optionally with parameters, ``synthetic:n_genes=2000``)
    or a file path (.csv, .tsv, .parquet, .h5ad; .gz accepted for text files). ``gene_id``
    names the genes by ``symbol``, ``ensembl`` or ``entrez`` ID (``keep``: as read, Ensembl
    versions stripped) and ``duplicate_genes`` combines genes that end up with one name (see
    :mod:`omicsformer.data.gene_ids`); both are reapplied to new data by predict and evaluate.
    A ``source`` may also be a UCSC Xena matrix or a GDC download folder: ``gdc_column`` is the
    GDC STAR files' value column (None: ``tpm_unstranded``); ``sample_types`` the TCGA
    sample-type codes kept (empty: all).
    """

    source: str = setting(
        "", flag="--data", help="a built-in dataset name or a .csv/.tsv/.parquet/.h5ad file"
    )
    labels: str | None = setting(
        help="clinical / labels table (.csv/.tsv/.parquet) joined on sample ID"
    )
    layout: Layout = setting("samples-by-genes", help="orientation of a table matrix")
    sample_id: str | None = setting(
        help="sample-ID column of the labels table (default: first column)"
    )
    layer: str | None = setting(help="for .h5ad: use this layer instead of X (default: X)")
    target: str | None = setting(help="obs / labels column to predict")
    gene_id: GeneId = setting(
        "keep",
        help="name genes by human symbol, Ensembl or Entrez ID, mapped with the shipped "
        "org.Hs.eg.db table; keep: as read (Ensembl versions and _PAR_Y copies removed)",
    )
    duplicate_genes: DuplicateGenes = setting(
        "mean",
        help="how genes that end up with one name are combined, per sample: mean keeps any "
        "scale, sum suits raw counts",
    )
    gdc_column: str | None = setting(
        help="GDC folder: value column of the STAR files: unstranded (counts), tpm_unstranded, "
        "fpkm_unstranded, fpkm_uq_unstranded, ... (default: tpm_unstranded)"
    )
    sample_types: list[str] = setting(
        [],
        help="keep these TCGA sample types, comma-separated codes or names (01 primary tumour, "
        "11 solid tissue normal, ...; default: all)",
    )
    batch_key: str | None = setting(
        metavar="COL",
        help="correct batch effects with ComBat by this obs / labels column, fitted on the "
        "training samples only (needs omicsformer[batch]; default: no correction)",
    )
    group_by: str | None = setting(
        metavar="COL",
        help="grouped splits: samples sharing a value of this column (patient, centre, batch) "
        "never sit on both sides of a split (default: samples split one by one)",
    )


@dataclass
class PreprocessConfig:
    """Preprocessing fitted on the training split only (see :mod:`omicsformer.data.preprocess`)."""

    transform: Transform = setting("none", help="value transform, before anything else")
    impute: Impute = setting(
        "none", help="median: fill NaN/inf with training medians (none: NaN is an error)"
    )
    top_genes: int | None = setting(
        low=1, help="keep the K most variable training genes (default: every gene)"
    )
    zscore: bool = setting(True, flag="--no-zscore", help="do not z-score genes")


@dataclass
class SplitConfig:
    """Held-out fractions for a single train/val/test split, or the number of folds."""

    val_fraction: float = setting(
        0.15,
        low=0,
        high=0.99,
        help="validation part for early stopping: of the samples (train, tune) or of each "
        "training fold (compare)",
    )
    test_fraction: float = setting(0.15, low=0, high=0.99, open_low=True, help="test part")
    folds: int | None = setting(
        low=2, help="stratified cross-validation folds of compare, bench augmentation and the demo"
    )


TaskName = Literal["auto", "classification", "survival", "regression"]


@dataclass
class TaskConfig:
    """What is predicted and how it is scored.

    ``name`` ``auto`` infers the task: survival when ``time`` / ``event`` are given, regression
    for a numeric target with many distinct values, classification otherwise (the choice is
    printed and saved). ``ties`` is the Cox likelihood's handling of tied event times;
    ``regression_loss`` the loss of neural regression models; ``horizons`` the times at which
    survival probabilities and time-dependent AUC are reported (default: the 25th, 50th and 75th
    percentiles of the training event times).
    """

    name: TaskName = setting(
        "auto",
        flag="--task",
        help="auto: survival with --time/--event, regression for a continuous target, else "
        "classification",
    )
    time: str | None = setting(help="survival: column with the follow-up time")
    event: str | None = setting(help="survival: column with the event indicator (0/1)")
    ties: Literal["breslow", "efron"] = setting("breslow", help="Cox likelihood ties")
    regression_loss: Literal["mse", "huber"] = setting(
        "mse", help="loss of neural regression models"
    )
    horizons: list[float] = setting(
        [],
        low=0,
        open_low=True,
        help="survival: comma-separated times for probabilities and AUC (default: quartiles "
        "of the training event times)",
    )


@dataclass
class ModelConfig:
    """A registered model name and its options (validated against the model's own config).

    ``init`` a folder made by ``omicsformer pretrain`` to start from (its options are the
    defaults of ``options``); ``finetune`` ``all`` trains the whole network, ``head`` the output
    head only.
    """

    name: str = setting(
        "logreg", flag="--model", help="registered model name, see `omicsformer models`"
    )
    options: dict[str, Any] = setting(
        {}, flag=False, help="the model's options (-o KEY=VALUE), see `omicsformer models NAME`"
    )
    init: str | None = setting(
        metavar="PRETRAINED",
        help="start from a folder made by `omicsformer pretrain` (its model and options); "
        "compare takes one per model, comma-separated, and adds NAME (pretrained)",
    )
    finetune: Literal["all", "head"] = setting(
        "all", help="with --init: train the whole network or the output head only"
    )


Device = Literal["cpu", "cuda", "auto"]
Strategy = Literal["auto", "ddp", "fsdp"]
Precision = Literal["32", "bf16-mixed", "16-mixed"]
Schedule = Literal["constant", "cosine"]


@dataclass
class TrainConfig:
    """The training loop of neural models (see :mod:`omicsformer.train.engine`).

    ``batch_size`` is the global batch: with N processes each takes ``batch_size / N`` samples.
    ``lr`` None means the model's own default (see ``omicsformer models``); ``batch_size`` None
    means the task's (8 for classification and regression; 64 for survival, since the Cox
    likelihood of a batch only compares patients within it).
    ``eval_batch_size`` None means the training batch size: every pass over data that updates
    no weights (validation, prediction, embedding, interpretation) runs in batches of it, so
    that a cohort that trained also predicts; a saved run keeps it, and ``--eval-batch-size``
    overrides it on predict, evaluate, embed and interpret.
    ``monitor`` picks the epoch whose weights are kept and drives early stopping: ``auto`` (the
    task's main metric on the validation part: balanced accuracy, Harrell's C, R²), ``loss``, or
    any task metric (its direction is the task's). Training never stops early before
    ``min_epochs``.
    """

    max_epochs: int = setting(100, low=1, help="training epochs at most")
    batch_size: int | None = setting(
        low=1,
        search=Choice((8, 16, 32)),
        help="global batch size (default: 8; 64 for survival)",
    )
    eval_batch_size: int | None = setting(
        low=1,
        help="samples per batch of every pass without a weight update: validation, prediction, "
        "embedding, interpretation (default: the training batch size, which fit with gradients)",
    )
    lr: float | None = setting(
        low=0,
        open_low=True,
        search=Float(1e-5, 1e-2, log=True),
        help="AdamW learning rate (default: the model's own)",
    )
    weight_decay: float = setting(
        1e-2, low=0, search=Float(1e-4, 0.1, log=True), help="AdamW weight decay"
    )
    schedule: Schedule = setting("constant", help="learning-rate schedule")
    warmup_epochs: int = setting(0, low=0, search=Int(0, 5), help="linear warm-up epochs")
    grad_clip: float = setting(1.0, low=0, help="gradient-norm clipping, 0 = off")
    patience: int = setting(8, low=1, search=Int(5, 20), help="early-stopping patience in epochs")
    min_epochs: int = setting(10, low=0, help="never stop early before this epoch")
    min_delta: float = setting(
        1e-3, low=0, flag=False, help="smallest change of the monitored quantity that counts"
    )
    monitor: str = setting(
        "auto",
        help="validation quantity that picks the kept epoch and stops training: auto (the task's "
        "metric: balanced_accuracy, c_index, r2), loss, or a task metric",
    )
    epoch_ties: Literal["loss", "earlier"] = setting(
        "earlier",
        help="of epochs with the same monitored score, keep the one with the lower validation "
        "loss, or the earlier one (a network that starts as its base then keeps it until an "
        "epoch beats it)",
    )
    class_weight: Literal["balanced", "none"] = setting(
        "balanced", flag=False, help="class weights of the classification loss"
    )
    device: Device = setting("auto", help="where to train: auto picks a GPU when there is one")
    devices: int = setting(1, low=1, help="processes / GPUs per node")
    num_nodes: int = setting(1, low=1, help="nodes")
    strategy: Strategy = setting("auto", help="multi-device strategy")
    precision: Precision = setting("32", help="number format of training")

    def validate(self) -> TrainConfig:
        check_ranges(self, "train")
        return self


@dataclass
class AugmentConfig:
    """Augmentations of the training data (see :mod:`omicsformer.augment`), e.g.
    ``["noise:sigma=0.2", "mixup:alpha=0.4"]``; empty = none."""

    methods: list[str] = setting(
        [],
        flag="--augment",
        help="comma-separated NAME[:key=value...]: noise, mask, scale, mixup, smote, cvae, wgan "
        "(e.g. noise:sigma=0.2,mixup:alpha=0.4; default: none)",
    )


Pruner = Literal["median", "halving", "none"]


@dataclass
class TuneConfig:
    """Hyper-parameter search (see :mod:`omicsformer.tuning.search`).

    ``trials`` per search (``timeout`` seconds at most, if set); ``inner_folds`` 1 scores each
    trial on the validation part of the training patients, K >= 2 on K inner folds of them;
    ``pruner`` stops unpromising trials early; ``storage`` an Optuna database URL (default: a
    SQLite file in the output folder) shared by every process that works on ``study_name``;
    ``pinned`` the settings the user fixed (``model.NAME``, ``train.NAME``), kept out of the
    search.
    """

    trials: int = setting(20, low=1, help="trials to run")
    timeout: float | None = setting(
        low=0, open_low=True, help="stop a search after this many seconds (default: no limit)"
    )
    inner_folds: int = setting(
        1,
        low=1,
        help="1: score trials on the validation part; K >= 2: on K inner folds of the training "
        "patients",
    )
    pruner: Pruner = setting(
        "median", help="stop unpromising trials on the per-epoch validation metric"
    )
    storage: str | None = setting(
        help="Optuna database URL shared by several processes or machines, e.g. "
        "postgresql://host/db (default: a SQLite file in the output folder); checked before "
        "any data is read; a server has 10 s to take a connection (?connect_timeout=N in the "
        "URL sets it)"
    )
    study_name: str | None = setting(help="study to create or join in --storage")
    pinned: list[str] = setting(
        [], flag=False, help="settings the user fixed, kept out of the search"
    )

    def sampler_seed(self, seed: int) -> int | None:
        """The TPE seed: the run's, for a private study; none for a shared one, so that
        workers on several machines do not propose the same values."""
        return seed if self.storage is None else None

    def validate(self) -> TuneConfig:
        check_ranges(self, "tune")
        return self


TrackBackend = Literal["none", "csv", "tensorboard", "mlflow"]


@dataclass
class TrackConfig:
    """Experiment tracking (see :mod:`omicsformer.train.tracking`): the run's settings, its
    per-epoch metrics and its final metrics go to a CSV folder, TensorBoard event files or an
    MLflow tracking server; ``compare`` and ``tune`` log one run per model x fold or trial.

    ``log_uri``: for csv and tensorboard a folder (default: ``logs/`` inside the output folder);
    for mlflow a tracking URI (default: ``$MLFLOW_TRACKING_URI`` if set, else the SQLite store
    ``mlflow.db`` in the current folder, MLflow 3's own default). ``log_timeout``: how long each
    request to an MLflow server may wait to connect and for an answer.
    """

    log: TrackBackend = setting(
        "none", help="experiment tracker for settings, per-epoch and final metrics"
    )
    log_uri: str | None = setting(
        metavar="URI",
        help="csv / tensorboard: a folder (default: logs/ in the output folder); mlflow: a "
        "tracking URI (default: $MLFLOW_TRACKING_URI, else sqlite:///mlflow.db here)",
    )
    experiment: str | None = setting(help="MLflow experiment the runs go to (default: omicsformer)")
    log_timeout: int = setting(
        10,
        low=1,
        metavar="SECONDS",
        help="mlflow: seconds to wait for the tracking server to connect or answer, per try (2 "
        "tries); it is asked before any data is read",
    )


@dataclass
class RunConfig:
    """Everything needed to repeat a run."""

    data: DataConfig = field(default_factory=DataConfig)
    task: TaskConfig = field(default_factory=TaskConfig)
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    tune: TuneConfig = field(default_factory=TuneConfig)
    track: TrackConfig = field(default_factory=TrackConfig)
    seed: int = setting(0, low=0, high=2**32 - 1, help="random seed")  # numpy takes 32 bits

    def validate(self) -> RunConfig:
        """Check the declared ranges (for a config built in Python) and what involves several
        settings; return self."""
        check_ranges(self, "config")
        s = self.split
        if s.val_fraction + s.test_fraction >= 0.9:
            raise ConfigError("val + test fractions must leave at least 10% for training")
        d = self.data
        if d.batch_key is not None and d.batch_key == d.group_by:
            raise ConfigError(
                f"--batch-key and --group-by are both {d.batch_key!r}: with grouped splits no test "
                "batch is seen in training, and ComBat can only correct batches it was fitted on"
            )
        if (self.task.time is None) != (self.task.event is None):
            raise ConfigError("survival needs both --time and --event")
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        return from_dict(cls, data, "config").validate()

    @classmethod
    def from_yaml(cls, path: str | Path) -> RunConfig:
        return cls.from_dict(read_config_file(path))


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The mapping a config YAML file holds (not yet checked against the declarations)."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level")
    return data


def from_dict(cls: type, data: dict[str, Any], where: str) -> Any:
    """Build dataclass ``cls`` from a mapping, checking keys and coercing simple types."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a mapping, got {data!r}")
    declared = {s.name: s for s in settings(cls)}
    unknown = sorted(set(data) - set(declared))
    if unknown:
        raise ConfigError(
            f"unknown key(s) in {where}: {', '.join(unknown)}; "
            f"valid keys: {', '.join(sorted(declared))}"
        )
    return cls(**{key: declared[key].read(value, f"{where}.{key}") for key, value in data.items()})


def coerce(value: Any, hint: Any, where: str) -> Any:
    """Convert ``value`` (from YAML or a ``key=value`` string) to the annotated type ``hint``."""
    origin = get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value or {}, where)
    if origin in (typing.Union, types.UnionType):
        options = get_args(hint)
        if value is None or (isinstance(value, str) and value.lower() in ("none", "null")):
            if type(None) in options:
                return None
        errors = []
        for option in (o for o in options if o is not type(None)):
            try:
                return coerce(value, option, where)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{where}: invalid value {value!r}")
    if origin is Literal:
        choices = get_args(hint)
        text = str(value)
        if text not in choices:
            raise ConfigError(f"{where}: {value!r} is not one of: {', '.join(map(str, choices))}")
        return text
    if origin in (list, tuple):
        (item,) = get_args(hint)[:1] or (Any,)
        if isinstance(value, str):
            value = [v for v in value.split(",") if v.strip()]
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        items = [coerce(v, item, where) for v in value]
        return items if origin is list else tuple(items)
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if hint is Any:
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        text = str(value).lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if hint in (int, float):
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        try:
            number = float(value) if hint is float else _to_int(value)
        except (TypeError, ValueError, OverflowError):
            kind = "an integer" if hint is int else "a number"
            raise ConfigError(f"{where}: expected {kind}, got {value!r}") from None
        if not math.isfinite(number):
            raise ConfigError(f"{where}: expected a finite number, got {value!r}")
        return number
    if hint is str:
        if isinstance(value, dict | list):
            raise ConfigError(f"{where}: expected text, got {value!r}")
        return str(value)
    return value


def _to_int(value: Any) -> int:
    number = float(value)
    if not number.is_integer():
        raise ValueError(value)
    return int(number)


def parse_overrides(items: list[str] | None) -> dict[str, str]:
    """Parse ``key=value`` strings into a flat mapping (keys may be dotted)."""
    result: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"expected KEY=VALUE, got {item!r}")
        result[key.strip()] = value.strip()
    return result


def build_options(config_cls: type, options: dict[str, Any], where: str) -> Any:
    """Validate a model's (or component's) options against its config dataclass."""
    return from_dict(config_cls, options, where)


def yaml_value(text: str) -> Any:
    """Read one override value as YAML would (numbers, booleans, lists), else as text."""
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def parse_spec(
    text: str, *, positional: str | None = None, what: str = "option"
) -> tuple[str, dict[str, str]]:
    """Read the one option language, ``name:key=value,key=value``, into ``(name, {key: text})``.

    Datasets (``synthetic:n_genes=2000``), augmentations (``noise:sigma=0.2``) and gene sets
    (``gmt:path=PATH``) are written this way; ``-o key=value`` is one of its items, without a
    name. Values stay text: the caller's options dataclass types and checks them
    (:func:`from_dict`), once. With ``positional``, ``name:VALUE`` is short for
    ``name:positional=VALUE`` and the whole rest is that one value, so a path may hold ``,``,
    ``=`` or ``:`` (``gmt:PATH``). ``what`` names the kind of spec in error messages.
    """
    name, _, rest = text.strip().partition(":")
    name = name.strip()
    if not name or "=" in name:
        raise ConfigError(f"{what} {text!r}: expected NAME or NAME:KEY=VALUE,KEY=VALUE")
    if positional is not None:
        value = rest.strip().removeprefix(f"{positional}=")
        return name, ({positional: value} if value else {})
    params: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in rest.split(","))):
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(
                f"{what} {name!r}: parameter {item!r} must be KEY=VALUE (in {text!r})"
            )
        if key in params:
            raise ConfigError(f"{what} {name!r}: parameter {key!r} is given twice (in {text!r})")
        params[key] = value.strip()
    return name, params


def format_spec(name: str, params: dict[str, Any]) -> str:
    """The text :func:`parse_spec` reads back as ``(name, params)``: ``name:key=value,...``."""
    items = ",".join(f"{key}={value}" for key, value in params.items())
    return f"{name}:{items}" if items else name
