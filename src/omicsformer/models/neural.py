"""The bridge between PyTorch modules and the :class:`~omicsformer.models.base.Model` protocol.

A neural model is registered with two functions:

- ``architecture(options, context, x_train) -> dict``: everything the network's shape depends on
  that is derived from the training data (e.g. the AttOmics gene grouping), as plain JSON values;
  saved in ``model.json`` so the same network is rebuilt on load;
- ``network(options, context, architecture) -> nn.Module``.

:class:`TorchModel` trains the network with :mod:`omicsformer.train.engine`, keeps the best
weights, predicts with the task's output function, and saves weights as safetensors. Prediction
and embedding run in batches of ``eval_batch_size`` (the run's setting, saved with the fitted
model; a saved run's may be overridden before predicting).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from omicsformer.config import TrainConfig
from omicsformer.errors import ConfigError, RunError
from omicsformer.fileio import read_file, write_with
from omicsformer.models.base import FitData, ModelContext, ModelSpec, Runtime
from omicsformer.tasks import TASKS
from omicsformer.train import engine

Architecture = Callable[[Any, ModelContext, np.ndarray], dict[str, Any]]
Network = Callable[[Any, ModelContext, dict[str, Any]], nn.Module]


def count_parameters(module: nn.Module) -> int:
    """Trainable numbers; modules with padded storage report their real count."""
    own = getattr(module, "n_parameters", None)
    if callable(own):
        return int(own())
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


class TorchModel:
    """A PyTorch network behind the common fit / predict / save interface."""

    def __init__(
        self,
        options: Any,
        context: ModelContext,
        architecture: Architecture,
        network: Network,
        default_lr: float = 1e-3,
    ) -> None:
        self.default_lr = default_lr
        self.options = options
        self.context = context
        self.architecture = architecture
        self.network = network
        self.arch: dict[str, Any] = {}
        self.task_state: dict[str, Any] = {}
        self.module: nn.Module | None = None
        self.history: list[dict[str, float]] = []
        self.eval_batch_size: int | None = None  # samples per prediction / embedding batch

    @property
    def task(self) -> Any:
        return TASKS.get(self.context.target.task)

    def fit(self, data: FitData, runtime: Runtime) -> dict[str, Any]:
        torch.manual_seed(self.context.seed)  # weight initialisation depends on the seed only
        init = runtime.init
        same_genes = init is not None and list(init.genes) == list(self.context.genes)
        self.arch = self.architecture(self.options, self.context, data.x_train)
        if same_genes:  # the pretrained network's grouping etc.: every weight carries over
            self.arch = {**self.arch, **init.architecture}
        self.module = self.network(self.options, self.context, self.arch)
        started_from = None
        if init is not None:
            started_from = self._start_from(init, same_genes, runtime.finetune)
        base = self._fit_base(data)
        task = self.task
        has_val = data.x_val is not None and len(data.x_val) > 0
        train_data = engine.TrainData(
            x_train=torch.from_numpy(np.ascontiguousarray(data.x_train)),
            y_train=task.target_tensor(data.y_train),
            x_val=torch.from_numpy(np.ascontiguousarray(data.x_val)) if has_val else None,
            y_val=task.target_tensor(data.y_val) if has_val else None,
            augment=runtime.augment,
        )
        self.task_state = dict(data.task_state)
        state = self.task_state
        hooks = engine.TaskHooks(
            loss=task.loss_function(
                data.y_train, self.context.target, runtime.train.class_weight, state
            ),
            output=lambda logits: task.output(logits, state),
            metrics=task.epoch_metrics,
            y_val_numpy=data.y_val if has_val else None,
            lower_is_better=task.lower_is_better,
            main_metric=task.main_metric,
        )
        train = runtime.train
        if train.lr is None:
            train = dataclasses.replace(train, lr=self.default_lr)
        if train.batch_size is None:
            train = dataclasses.replace(train, batch_size=task.default_batch_size)
        if train.monitor == "auto":
            train = dataclasses.replace(train, monitor=task.main_metric)
        self.eval_batch_size = engine.eval_batch_size(train)
        result = engine.fit(
            self.module,
            train_data,
            hooks,
            train,
            seed=self.context.seed,
            checkpoint_dir=runtime.checkpoint_dir,
            resume=runtime.resume,
            progress=runtime.progress,
            on_epoch_end=runtime.on_epoch_end,
            report=runtime.report,
            loggers=runtime.track.loggers if runtime.track is not None else (),
            score_start=self.has_base,
        )
        self.module.load_state_dict(result.best_state)
        self.history = result.history
        # the scalars of the task state (output scale, ties) are saved with the weights
        scalars = {k: v for k, v in self.task_state.items() if not isinstance(v, list | dict)}
        self.arch = {**self.arch, "task_state": scalars}
        return {
            "architecture": self.arch,
            **({"init": started_from} if started_from else {}),
            **({"base": base} if base else {}),
            "best_epoch": result.best_epoch,
            "epochs_run": result.epochs_run,
            "stopped_early": result.stopped_early,
            "train_seconds": round(result.seconds, 3),
            "lr": train.lr,
            "batch_size": train.batch_size,
            "eval_batch_size": self.eval_batch_size,
            "monitor": train.monitor,
        }

    @property
    def has_base(self) -> bool:
        """Whether the network adds its output to a linear base (``base`` not ``none``)."""
        return getattr(self.module, "base", None) is not None

    def _fit_base(self, data: FitData) -> dict[str, Any] | None:
        """``base=fitted``: fit the task's linear baseline on the training rows and fix it as
        the network's base; returns what was fitted (for model.json)."""
        kind = getattr(self.options, "base", "none")
        if kind != "fitted":
            return None if kind == "none" else {"kind": kind}
        from omicsformer.models.residual import fit_base

        weight, bias, record = fit_base(self.context, data)
        self.module.base.set_fitted(weight, bias)
        return {"kind": "fitted", **record}

    def base_predict(self, x: np.ndarray) -> np.ndarray | None:
        """The task output of the base alone (the untrained network), or None without one."""
        if not self.has_base:
            return None
        values = torch.from_numpy(np.ascontiguousarray(x))
        logits = engine.predict_logits(self.module, values, self.batch, apply=self.module.base)
        return self.task.output(logits, self.task_state)

    def _start_from(self, init: Any, same_genes: bool, finetune: str) -> dict[str, Any]:
        """Copy a pretrained network's weights; freeze all but the head for ``finetune=head``."""
        from omicsformer.console import note
        from omicsformer.models.transfer import freeze_all_but_head, transfer

        if not same_genes and not getattr(self.module, "gene_tables", ()):
            raise ConfigError(
                f"{init.describe()}: {init.model} is fine-tuned on the pretrained genes only, and "
                f"the data lacks some of them (or --top-genes chose others); give the same genes"
            )
        summary = transfer(self.module, init, self.context.genes)
        note(summary)
        record: dict[str, Any] = {"from": str(init.folder or "in memory"), "summary": summary}
        if finetune == "head":
            record["trainable_parameters"] = freeze_all_but_head(self.module)
        record["finetune"] = finetune
        return record

    @property
    def batch(self) -> int:
        """Samples per batch of prediction, embedding and interpretation."""
        return self.eval_batch_size or 256  # 256: runs saved before the setting existed

    def logits(self, x: np.ndarray) -> torch.Tensor:
        if self.module is None:
            raise RunError("the model has not been trained")
        values = torch.from_numpy(np.ascontiguousarray(x))
        return engine.predict_logits(self.module, values, self.batch)

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.task.output(self.logits(x), self.task_state)

    def embed(self, x: np.ndarray) -> np.ndarray:
        """(N, E) float32: each patient as the network's output layer sees it (the last hidden
        layer; pooled tokens for the gene-level models)."""
        if self.module is None:
            raise RunError("the model has not been trained")
        values = torch.from_numpy(np.ascontiguousarray(x))
        out = engine.predict_logits(
            self.module, values, self.batch, apply=self.module.patient_embedding, what="embedding"
        )
        return out.numpy()

    def save(self, folder: Path) -> None:
        state = {k: v.detach().cpu().contiguous() for k, v in self.module.state_dict().items()}
        write_with(folder / "weights.safetensors", lambda tmp: save_file(state, str(tmp)))

    def n_parameters(self) -> int:
        return count_parameters(self.module) if self.module is not None else 0

    @classmethod
    def loader(cls, architecture: Architecture, network: Network) -> Callable[..., TorchModel]:
        """A ``ModelSpec.load`` function for a network built by ``network``."""

        def load(
            folder: Path, options: Any, context: ModelContext, fitted: dict[str, Any]
        ) -> TorchModel:
            weights = read_file(folder / "weights.safetensors", lambda p: load_file(str(p)))
            model = cls(options, context, architecture, network)
            model.arch = fitted.get("architecture", {})
            model.task_state = model.arch.get("task_state", {})
            model.eval_batch_size = fitted.get("eval_batch_size") or fitted.get("batch_size")
            model.module = network(options, context, model.arch)
            model.module.load_state_dict(weights)
            model.module.eval()
            return model

        return load


def check_heads(dim: int, heads: int) -> None:
    """Attention splits the width ``dim`` into ``heads`` equal parts."""
    if dim % heads:
        raise ConfigError(
            f"dim {dim} is not divisible by heads {heads}; choose heads that divide it"
        )


def check_attention(
    name: str, train: TrainConfig | None, masked: bool = False, key_padding: bool = False
) -> None:
    """Fail early if attention backend ``name`` cannot run with the training configuration
    (``train`` None: check the mask support only)."""
    from omicsformer.nn.attention import BACKENDS, check_backend

    if train is None:
        backend = BACKENDS.get(name)
        backend.check(device=backend.info.devices[0], masked=masked, key_padding=key_padding)
        return
    device = train.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    check_backend(
        name, device=device, precision=train.precision, masked=masked, key_padding=key_padding
    )


def neural_spec(
    name: str,
    description: str,
    options: type,
    architecture: Architecture,
    network: Network,
    tasks: tuple[str, ...] = ("classification", "survival", "regression"),
    check: Callable[[Any, TrainConfig], None] | None = None,
    default_lr: float = 1e-3,
) -> ModelSpec:
    """A :class:`ModelSpec` for a network trained by :class:`TorchModel`.

    ``default_lr`` is used when the run does not set ``--lr``.
    """
    return ModelSpec(
        name=name,
        description=f"{description} (default lr {default_lr:g})",
        options=options,
        build=lambda opts, context: TorchModel(opts, context, architecture, network, default_lr),
        load=TorchModel.loader(architecture, network),
        tasks=tasks,
        family="neural",
        check=check,
    )
