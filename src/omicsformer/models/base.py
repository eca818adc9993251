"""What every model offers, and how models are registered, saved and loaded.

A model is registered as a :class:`ModelSpec`: a name, an options dataclass (validated from
``-o key=value`` or YAML), a builder that takes the data-derived sizes, and a loader. The built
object follows the :class:`Model` protocol: ``fit`` on training (and validation) arrays,
``predict`` the task's output (class probabilities for classification), ``save`` to a folder.

Saved models never execute code from the file on load: neural models store safetensors weights,
scikit-learn models use skops' audited format with an explicit list of trusted types, and XGBoost
its own JSON format. ``model.json`` beside the weights holds the model name, options, target
information and gene names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from omicsformer.config import TrainConfig, build_options
from omicsformer.errors import ConfigError, OmicsformerError, RunError
from omicsformer.fileio import first_line, read_json, write_json
from omicsformer.tasks.base import TargetInfo

if TYPE_CHECKING:
    from omicsformer.data.preprocess import Preprocessor


@dataclass
class ModelContext:
    """Sizes and settings a model takes from the data and the run, never from the user."""

    genes: list[str]
    target: TargetInfo
    seed: int = 0
    # the fitted preprocessing (training split only), for a model that maps raw values onto its
    # inputs (gene-transformer tokens=expressed); None: the inputs are the raw values
    preprocessor: Preprocessor | None = None

    @property
    def n_genes(self) -> int:
        return len(self.genes)


@dataclass
class Runtime:
    """How to train (neural models; baselines read only ``resample``)."""

    train: TrainConfig = field(default_factory=TrainConfig)
    checkpoint_dir: Path | None = None
    resume: bool = False
    progress: bool = True
    on_epoch_end: Callable[[int], None] | None = None
    report: Callable[[int, dict[str, float]], None] | None = None  # per-epoch validation row
    init: Any = None  # a Pretrained network to start from (omicsformer.pretrain.run)
    finetune: str = "all"  # with init: "all" or "head"
    augment: Callable[..., Any] | None = None  # batch augmentation (training batches only)
    # estimators (baselines): an augmenter whose sampler() resamples the rows of every fit,
    # once check_rows(...) accepts them (SMOTE through imbalanced-learn; augment/base.py)
    resample: Any = None
    track: Any = None  # a train.tracking.TrackedRun: its loggers get every epoch's row


@dataclass
class FitData:
    """Preprocessed arrays for one fit: features ``(N, G)`` float32 and encoded targets."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray | None = None
    y_val: np.ndarray | None = None
    task_state: dict[str, Any] = field(default_factory=dict)  # see omicsformer.tasks.base


class Model(Protocol):
    context: ModelContext

    def fit(self, data: FitData, runtime: Runtime) -> dict[str, Any]:
        """Train; return what was chosen on the way (e.g. regularisation), for the record."""
        ...

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The task output for ``x`` (class probabilities ``(N, C)`` for classification)."""
        ...

    def save(self, folder: Path) -> None: ...

    def n_parameters(self) -> int: ...


@dataclass(frozen=True)
class ModelSpec:
    """A registered model.

    Attributes
    ----------
    name, description
        Registry name and one line for ``omicsformer models``.
    options
        Dataclass of user-settable options with defaults.
    build
        ``build(options, context) -> Model``.
    load
        ``load(folder, options, context, fitted) -> Model`` for a saved model (``fitted`` is
        what ``fit`` returned, read back from model.json).
    tasks
        Tasks the model supports.
    family
        ``baseline`` or ``neural``.
    extra
        pip extra that provides an optional dependency (None if core).
    check
        ``check(options, train_config)``: raise a ConfigError early for an impossible set-up
        (e.g. an attention backend that cannot run on the chosen device or precision).
    """

    name: str
    description: str
    options: type
    build: Callable[[Any, ModelContext], Model]
    load: Callable[[Path, Any, ModelContext, dict[str, Any]], Model]
    tasks: tuple[str, ...]
    family: str
    extra: str | None = None
    check: Callable[[Any, TrainConfig], None] | None = None

    def parse_options(self, options: dict[str, Any]) -> Any:
        return build_options(self.options, options, f"options of model {self.name!r}")

    def saved_options(self, options: dict[str, Any]) -> dict[str, Any]:
        """Options read back from a saved record (model.json, pretrained.json), which holds
        every option the model had when it was saved: an option added since takes the value
        that keeps the record's meaning, not today's default. Each options class (and each of
        its bases, e.g. ``GroupingOptions``, ``BaseOptions``) declares those values in its
        ``SAVED_DEFAULTS``; they are merged along the class hierarchy."""
        old: dict[str, Any] = {}
        for cls in reversed(self.options.__mro__):
            old.update(vars(cls).get("SAVED_DEFAULTS", {}))
        return {**old, **options}

    def validate(self, options: dict[str, Any], train: TrainConfig) -> Any:
        """Parse options and check them against the training set-up, before any data is read."""
        parsed = self.parse_options(options)
        if self.check is not None:
            self.check(parsed, train)
        return parsed


def used_inputs(model: Model) -> np.ndarray | None:
    """The input columns (positions) a fitted ``model`` reads, when it reads only some of them
    (a Cox model on its own ``top_genes``); None: all. New data may lack the others."""
    used = getattr(model, "used_inputs", None)
    return None if used is None else used()


def build_model(spec: ModelSpec, options: Any, context: ModelContext) -> Model:
    """Build the model for ``context``'s data from its options: typed (``spec.options``, parsed
    once by the caller) or a mapping, validated here."""
    require_task(spec, context.target.task)
    typed = options if isinstance(options, spec.options) else spec.parse_options(options)
    return spec.build(typed, context)


def require_task(spec: ModelSpec, task: str) -> None:
    """Raise a ConfigError naming the models that can do ``task`` if ``spec`` cannot."""
    from omicsformer.models import MODELS

    if task not in spec.tasks:
        able = [name for name, other in MODELS.items() if task in other.tasks]
        raise ConfigError(
            f"model {spec.name!r} does not support the {task} task (it supports: "
            f"{', '.join(spec.tasks)}); models for {task}: {', '.join(able)}"
        )


def save_model(model: Model, spec: ModelSpec, options: Any, folder: Path, fitted: dict) -> None:
    """Write ``model.json`` and the model's weights into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder)
    write_json(
        folder / "model.json",
        {
            "model": spec.name,
            "options": dataclasses.asdict(options),
            "fitted": fitted,
            "target": model.context.target.to_dict(),
            "genes": model.context.genes,
            "seed": model.context.seed,
        },
    )


def load_model(folder: Path) -> tuple[Model, ModelSpec, dict[str, Any]]:
    """Load a saved model; returns the model, its spec and the content of ``model.json``."""
    from omicsformer.models import MODELS

    meta = read_json(folder / "model.json")
    try:
        spec = MODELS.get(meta["model"])
        options = spec.parse_options(spec.saved_options(meta["options"]))
        context = ModelContext(
            genes=list(meta["genes"]),
            target=TargetInfo.from_dict(meta["target"]),
            seed=meta["seed"],
        )
    except (KeyError, TypeError, ValueError, OmicsformerError) as exc:
        raise RunError(f"{folder / 'model.json'}: damaged ({first_line(exc)})") from None
    try:
        model = spec.load(folder, options, context, meta.get("fitted", {}))
    except OmicsformerError:
        raise
    except Exception as exc:  # a damaged weights file, or weights that do not fit model.json
        raise RunError(
            f"{folder}: the saved model cannot be loaded ({first_line(exc)}); the weights are "
            "damaged or do not fit model.json"
        ) from None
    return model, spec, meta
