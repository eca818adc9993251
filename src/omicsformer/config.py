"""Run configuration: typed dataclasses, YAML files and ``key=value`` overrides.

This is the one place where configuration becomes arguments. A :class:`RunConfig` is built from CLI
options (or read from a run's ``config.yaml``), validated here, written to the run folder, and
turned into plain typed arguments for the data, model and training code.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, get_args, get_origin, get_type_hints

import yaml

from omicsformer.errors import ConfigError
from omicsformer.tuning.space import Choice, Float, Int

Layout = Literal["samples-by-genes", "genes-by-samples"]
Transform = Literal["none", "log1p", "log2p1"]
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

    source: str = ""
    labels: str | None = None
    layout: Layout = "samples-by-genes"
    sample_id: str | None = None
    layer: str | None = None
    target: str | None = None
    gene_id: GeneId = "keep"
    duplicate_genes: DuplicateGenes = "mean"
    gdc_column: str | None = None
    sample_types: list[str] = field(default_factory=list)
    batch_key: str | None = None  # ComBat by this column, fitted on training samples
    group_by: str | None = None  # samples sharing a value stay on one side of every split


@dataclass
class PreprocessConfig:
    """Preprocessing fitted on the training split only (see :mod:`omicsformer.data.preprocess`)."""

    transform: Transform = "none"
    impute: Impute = "none"
    top_genes: int | None = None
    zscore: bool = True


@dataclass
class SplitConfig:
    """Held-out fractions for a single train/val/test split, or the number of folds."""

    val_fraction: float = 0.15
    test_fraction: float = 0.15
    folds: int | None = None


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

    name: TaskName = "auto"
    time: str | None = None
    event: str | None = None
    ties: Literal["breslow", "efron"] = "breslow"
    regression_loss: Literal["mse", "huber"] = "mse"
    horizons: list[float] = field(default_factory=list)


@dataclass
class ModelConfig:
    """A registered model name and its options (validated against the model's own config).

    ``init`` a folder made by ``omicsformer pretrain`` to start from (its options are the
    defaults of ``options``); ``finetune`` ``all`` trains the whole network, ``head`` the output
    head only.
    """

    name: str = "logreg"
    options: dict[str, Any] = field(default_factory=dict)
    init: str | None = None
    finetune: Literal["all", "head"] = "all"


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
    ``monitor`` picks the epoch whose weights are kept and drives early stopping: ``auto`` (the
    task's main metric on the validation part: balanced accuracy, Harrell's C, R²), ``loss``, or
    any task metric (its direction is the task's). Training never stops early before
    ``min_epochs``.
    """

    max_epochs: int = 100
    batch_size: int | None = field(default=None, metadata={"search": Choice((8, 16, 32))})
    lr: float | None = field(default=None, metadata={"search": Float(1e-5, 1e-2, log=True)})
    weight_decay: float = field(default=1e-2, metadata={"search": Float(1e-4, 0.1, log=True)})
    schedule: Schedule = "constant"
    warmup_epochs: int = field(default=0, metadata={"search": Int(0, 5)})
    grad_clip: float = 1.0
    patience: int = field(default=8, metadata={"search": Int(5, 20)})
    min_epochs: int = 10
    min_delta: float = 1e-3
    monitor: str = "auto"
    class_weight: Literal["balanced", "none"] = "balanced"
    device: Device = "auto"
    devices: int = 1
    num_nodes: int = 1
    strategy: Strategy = "auto"
    precision: Precision = "32"

    def validate(self) -> TrainConfig:
        if self.max_epochs < 1 or (self.batch_size is not None and self.batch_size < 1):
            raise ConfigError("--max-epochs and --batch-size must be at least 1")
        if (self.lr is not None and self.lr <= 0) or self.weight_decay < 0 or self.grad_clip < 0:
            raise ConfigError("--lr must be positive; weight decay and clipping non-negative")
        if self.devices < 1 or self.num_nodes < 1:
            raise ConfigError("--devices and --num-nodes must be at least 1")
        if self.patience < 1:
            raise ConfigError("--patience must be at least 1")
        if self.warmup_epochs < 0 or self.min_delta < 0 or self.min_epochs < 0:
            raise ConfigError("--warmup-epochs, --min-epochs and min_delta must not be negative")
        return self


@dataclass
class AugmentConfig:
    """Augmentations of the training data (see :mod:`omicsformer.augment`), e.g.
    ``["noise:sigma=0.2", "mixup:alpha=0.4"]``; empty = none."""

    methods: list[str] = field(default_factory=list)


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

    trials: int = 20
    timeout: float | None = None
    inner_folds: int = 1
    pruner: Pruner = "median"
    storage: str | None = None
    study_name: str | None = None
    pinned: list[str] = field(default_factory=list)

    def sampler_seed(self, seed: int) -> int | None:
        """The TPE seed: the run's, for a private study; none for a shared one, so that
        workers on several machines do not propose the same values."""
        return seed if self.storage is None else None

    def validate(self) -> TuneConfig:
        if self.trials < 1 or self.inner_folds < 1:
            raise ConfigError("--trials and --inner-folds must be at least 1")
        if self.timeout is not None and self.timeout <= 0:
            raise ConfigError("--timeout must be positive")
        return self


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
    seed: int = 0

    def validate(self) -> RunConfig:
        """Check value ranges that types alone do not express; return self."""
        s = self.split
        if not (0 <= s.val_fraction < 1 and 0 < s.test_fraction < 1):
            raise ConfigError("split fractions must satisfy 0 <= val < 1 and 0 < test < 1")
        if s.val_fraction + s.test_fraction >= 0.9:
            raise ConfigError("val + test fractions must leave at least 10% for training")
        if s.folds is not None and s.folds < 2:
            raise ConfigError(f"--folds must be at least 2, got {s.folds}")
        if self.preprocess.top_genes is not None and self.preprocess.top_genes < 1:
            raise ConfigError(
                f"--top-genes must be a positive integer, got {self.preprocess.top_genes}"
            )
        d = self.data
        if d.batch_key is not None and d.batch_key == d.group_by:
            raise ConfigError(
                f"--batch-key and --group-by are both {d.batch_key!r}: with grouped splits no test "
                "batch is seen in training, and ComBat can only correct batches it was fitted on"
            )
        if (self.task.time is None) != (self.task.event is None):
            raise ConfigError("survival needs both --time and --event")
        if not 0 <= self.seed < 2**32:
            raise ConfigError(f"the seed must be in [0, 2^32 - 1], got {self.seed}")
        if any(h <= 0 for h in self.task.horizons):
            raise ConfigError("--horizons must be positive times")
        self.train.validate()
        self.tune.validate()
        return self

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        return from_dict(cls, data, "config").validate()

    @classmethod
    def from_yaml(cls, path: str | Path) -> RunConfig:
        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except FileNotFoundError:
            raise ConfigError(f"config file {path} does not exist") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"config file {path} must hold a mapping at the top level")
        return cls.from_dict(data)


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

    def __str__(self) -> str:
        if self.high is None:
            return f"{'greater than' if self.open_low else 'at least'} {self.low}"
        if self.low is None:
            return f"{'less than' if self.open_high else 'at most'} {self.high}"
        left, right = "(" if self.open_low else "[", ")" if self.open_high else "]"
        return f"in {left}{self.low}, {self.high}{right}"


def bounded(default: Any = dataclasses.MISSING, *, search: Any = None, **limits: Any) -> Any:
    """A dataclass field whose value is checked against ``Range(**limits)`` when options are
    read (``-o``, YAML), before any data is read, and that ``omicsformer tune`` may search in
    ``search`` (a space of :mod:`omicsformer.tuning.space`). A list default is given as the
    list itself (it is copied for each instance)."""
    metadata = {"range": Range(**limits), "search": search}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


PROBABILITY = {"low": 0, "high": 1, "open_high": True}  # dropout: 1 would drop everything


def from_dict(cls: type, data: dict[str, Any], where: str) -> Any:
    """Build dataclass ``cls`` from a mapping, checking keys and coercing simple types."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a mapping, got {data!r}")
    hints = get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"unknown key(s) in {where}: {', '.join(unknown)}; "
            f"valid keys: {', '.join(sorted(names))}"
        )
    kwargs = {key: coerce(value, hints[key], f"{where}.{key}") for key, value in data.items()}
    limits = {f.name: f.metadata["range"] for f in dataclasses.fields(cls) if "range" in f.metadata}
    for key, value in kwargs.items():
        if key in limits:
            limits[key].check(value, f"{where}.{key}")
    return cls(**kwargs)


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
        except (TypeError, ValueError):
            kind = "an integer" if hint is int else "a number"
            raise ConfigError(f"{where}: expected {kind}, got {value!r}") from None
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
