"""The base every neural model starts as, and the gates that let its blocks start as identities.

Each neural model predicts ``base(x) + r(x)`` (:mod:`omicsformer.nn.residual`), where r, the
network's own path, has its last layer started at zero, so the untrained network *is* its base:

- ``base=fitted`` (default): the task's penalised linear baseline (``Task.linear_baseline``:
  logreg, coxph, ridge) with its default options, fitted on the training patients first, with
  its own inner cross-validation, exactly as when it runs as a model of its own; its output,
  mapped to the network's output units (``Task.base_map``), is a fixed offset, and the network
  learns the residual;
- ``base=linear``: a linear layer over every gene (started at zero), trained with the rest;
- ``base=none``: the network alone.

With a base the training loop scores the untrained network (the base) on the validation part
before the first epoch, as epoch 0: a network that never beats its base there is kept as its
base. ``layer_scale`` gates each transformer block's residual branches (``None``: no gates; 0:
every block starts as the identity).

Runs saved before these options existed had neither a base nor gates: each options class says so
in its ``SAVED_DEFAULTS`` (:meth:`ModelSpec.saved_options`), and saved model files and
pretrained networks without the keys are read with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from torch import Tensor

from omicsformer.config import bounded
from omicsformer.models.base import FitData, ModelContext, Runtime, build_model
from omicsformer.tasks import TASKS

Base = Literal["fitted", "linear", "none"]


@dataclass
class BaseOptions:
    """What a neural model starts as and adds to (a base of every neural model's options)."""

    # what model files and pretrained networks written before the option existed mean
    SAVED_DEFAULTS: ClassVar[dict[str, Any]] = {"base": "none"}

    base: Base = bounded(
        "fitted",
        help="fitted: start as the task's penalised linear baseline (logreg / coxph / ridge, "
        "fitted first with its inner CV) and learn the residual; linear: add a linear layer "
        "over every gene, trained with the rest; none: the network alone",
    )


@dataclass
class GateOptions:
    """Gates on the residual branches of transformer blocks."""

    SAVED_DEFAULTS: ClassVar[dict[str, Any]] = {"layer_scale": None}  # as BaseOptions'

    layer_scale: float | None = bounded(
        0.0,
        low=0,
        help="initial value of each block's per-channel residual gates (LayerScale); 0: every "
        "block starts as the identity (ReZero); none: no gates",
    )


def fit_base(context: ModelContext, data: FitData) -> tuple[Tensor, Tensor, dict[str, Any]]:
    """Fit the task's linear baseline on the training rows of ``data`` (its own inner CV) and
    return its map in the network's output units, weight (C, G) and bias (C,), with a record
    for model.json (the baseline's name, what its search chose, its inner score)."""
    from omicsformer.models import MODELS

    task = TASKS.get(context.target.task)
    spec = MODELS.get(task.linear_baseline)
    model = build_model(spec, spec.parse_options({}), context)
    fitted = model.fit(FitData(data.x_train, data.y_train, task_state=data.task_state), Runtime())
    weight, bias = model.linear_map()
    present = np.unique(data.y_train) if context.target.task == "classification" else None
    weight, bias = task.base_map(weight, bias, context.target, data.task_state, present)
    record = {"model": spec.name, **{k: v for k, v in fitted.items() if k != "architecture"}}
    as_tensor = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float32))  # noqa: E731
    return as_tensor(weight), as_tensor(bias), record
