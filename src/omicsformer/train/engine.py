"""An explicit training loop on Lightning Fabric.

Fabric provides the device, the precision (fp32, bf16 or fp16 mixed), and multi-process training
(DDP, FSDP; several GPUs or nodes, or several CPU processes with gloo) without hiding the loop.
The loop itself is written out here, top to bottom:

    for each epoch:
        seed from (seed, epoch)                      -> a resumed run replays the same batches
        shuffle the training indices, shard them by rank, cut into batches
        for each batch: forward (autocast), loss, backward, clip, step
        evaluate the full validation set             -> loss and task metrics (in batches)
        early stopping on ``monitor`` with ``patience`` and ``min_delta``; keep the best weights
        write history row and checkpoint (rank 0); the row to the experiment trackers

Batches are cut from in-memory tensors (cohorts fit in memory); ``batch_size`` is the global batch
and each of the N processes takes ``batch_size / N`` rows, so a multi-process run makes the same
number of optimizer steps as a single process.

Every pass without a weight update (validation here; prediction, embedding and interpretation
elsewhere) goes through :func:`in_batches` with the evaluation batch size (``eval_batch_size``,
by default the training batch: a batch that fit with gradients fits without them). An
allocation failure in any pass ends as one :class:`~omicsformer.errors.OutOfMemory` line naming
the pass and the batch size to try.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from omicsformer.config import TrainConfig
from omicsformer.console import note
from omicsformer.errors import ConfigError, RunError
from omicsformer.fileio import read_file, write_with
from omicsformer.memory import out_of_memory_as_error
from omicsformer.train.progress import EpochProgress

PRECISION = {"32": "32-true", "bf16-mixed": "bf16-mixed", "16-mixed": "16-mixed"}
CHECKPOINT = "train_state.pt"
EVAL_FLAG = "--eval-batch-size"  # the flag of TrainConfig.eval_batch_size, named in errors


@dataclass
class TrainData:
    """Tensors for one fit: inputs (N, G) float32 and targets (task-specific)."""

    x_train: Tensor
    y_train: Tensor
    x_val: Tensor | None = None
    y_val: Tensor | None = None
    augment: Callable[..., tuple[Tensor, Tensor]] | None = None  # training batches only


@dataclass
class TaskHooks:
    """What the loop needs from the task: a loss, logits -> output, and metrics of outputs."""

    loss: Callable[[Tensor, Tensor], Tensor]
    output: Callable[[Tensor], np.ndarray]
    metrics: Callable[[np.ndarray, np.ndarray], dict[str, Any]]
    y_val_numpy: np.ndarray | None = None
    lower_is_better: frozenset[str] = frozenset()  # task metrics where less is better
    main_metric: str = "loss"  # what monitor "auto" means


@dataclass
class TrainResult:
    best_state: dict[str, Tensor]
    history: list[dict[str, float]]
    best_epoch: int
    epochs_run: int
    stopped_early: bool
    seconds: float


@dataclass
class LoopState:
    """Everything a resumed run needs besides the model and optimizer."""

    epoch: int = 0
    best_score: float = math.inf  # the monitored quantity, signed so that lower is better
    best_loss: float = math.inf  # validation loss at the best epoch: breaks exact ties
    best_epoch: int = 0
    bad_epochs: int = 0
    history: list[dict[str, float]] = field(default_factory=list)


def resolve_device(device: str) -> str:
    """``--device`` as the place to run: ``auto`` is ``cuda`` when a GPU is there, else ``cpu``;
    ``cuda`` without a GPU is a ConfigError."""
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError("--device cuda was asked for but no CUDA GPU is available")
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return device


def make_fabric(cfg: TrainConfig, loggers: Sequence[Any] = ()) -> Any:
    """A Lightning Fabric for the configured device, processes and precision; ``loggers``
    (Fabric loggers, see :mod:`omicsformer.train.tracking`) receive ``fabric.log_dict``."""
    from lightning_fabric import Fabric

    accelerator = resolve_device(cfg.device)
    if cfg.strategy == "fsdp" and accelerator != "cuda":
        raise ConfigError("--strategy fsdp needs CUDA GPUs; use ddp on CPU")
    if cfg.precision == "16-mixed" and accelerator == "cpu":
        raise ConfigError("--precision 16-mixed needs a GPU; use bf16-mixed on CPU")
    strategy = cfg.strategy
    if strategy == "auto" and cfg.devices * cfg.num_nodes > 1:
        strategy = "ddp"
    return Fabric(
        accelerator=accelerator,
        devices=cfg.devices,
        num_nodes=cfg.num_nodes,
        strategy=strategy,
        precision=PRECISION[cfg.precision],
        loggers=list(loggers),
    )


def _lr_factor(cfg: TrainConfig, epoch: int) -> float:
    """Learning-rate multiplier at ``epoch`` (0-based): linear warm-up, then constant or cosine."""
    if epoch < cfg.warmup_epochs:
        return (epoch + 1) / (cfg.warmup_epochs + 1)
    if cfg.schedule == "cosine":
        span = max(cfg.max_epochs - cfg.warmup_epochs, 1)
        return 0.5 * (1 + math.cos(math.pi * (epoch - cfg.warmup_epochs) / span))
    return 1.0


def _batches(
    n: int, batch_size: int, rank: int, world: int, generator: torch.Generator
) -> list[Tensor]:
    """Shuffled row indices for this rank, cut into near-equal batches (same count on each rank)."""
    order = torch.randperm(n, generator=generator)
    if (
        world > 1
    ):  # pad by wrapping so every rank gets the same number of rows (as DistributedSampler)
        total = math.ceil(n / world) * world
        order = torch.cat([order, order[: total - n]])[rank::world]
    per_rank = max(batch_size // world, 1)
    n_batches = max(math.ceil(len(order) / per_rank), 1)
    chunks = list(torch.tensor_split(order, n_batches))
    if len(chunks) > 1 and len(chunks[-1]) < 2:  # a batch of one breaks batch norm
        chunks[-2] = torch.cat([chunks[-2], chunks.pop()])
    return chunks


def eval_batch_size(cfg: TrainConfig) -> int:
    """The batch of passes without a weight update: ``eval_batch_size``, else the training
    batch."""
    size = cfg.eval_batch_size or cfg.batch_size
    if size is None:
        raise ConfigError("an evaluation pass needs a batch size")
    return size


@torch.no_grad()
def in_batches(
    apply: Callable[[Tensor], Tensor],
    x: Tensor,
    batch_size: int,
    what: str,
    *,
    to_cpu: bool = True,
) -> Tensor:
    """``apply(batch)`` over consecutive batches of ``x`` (N, ...) without gradients,
    concatenated in float32 (on the CPU unless ``to_cpu`` is false): the one place every
    evaluation pass is batched. Fixed batches keep results reproducible; an allocation
    failure becomes one :class:`~omicsformer.errors.OutOfMemory` line naming pass ``what``."""
    if batch_size < 1:
        raise ConfigError(f"the batch size of {what} must be at least 1, got {batch_size}")
    parts = []
    with out_of_memory_as_error(what, batch_size, EVAL_FLAG):
        for i in range(0, len(x), batch_size):
            out = apply(x[i : i + batch_size]).float()  # (b, ...)
            parts.append(out.cpu() if to_cpu else out)
    return torch.cat(parts)


def predict_logits(
    module: nn.Module,
    x: Tensor,
    batch_size: int,
    apply: Callable[[Tensor], Tensor] | None = None,
    what: str = "prediction",
) -> Tensor:
    """Logits for ``x`` (or ``apply(batch)``, e.g. the module's patient embedding) in
    evaluation mode, in batches of ``batch_size`` (see :func:`in_batches`)."""
    module.eval()
    apply = apply or module
    device = next(module.parameters()).device
    return in_batches(lambda batch: apply(batch.to(device)), x, batch_size, what)


def fit(
    module: nn.Module,
    data: TrainData,
    hooks: TaskHooks,
    cfg: TrainConfig,
    *,
    seed: int,
    checkpoint_dir: Path | None = None,
    resume: bool = False,
    progress: bool = True,
    on_epoch_end: Callable[[int], None] | None = None,
    report: Callable[[int, dict[str, float]], None] | None = None,
    loggers: Sequence[Any] = (),
    score_start: bool = False,
) -> TrainResult:
    """Train ``module``; returns the best weights (on CPU) and the per-epoch history.

    With ``checkpoint_dir`` the loop state is saved after every epoch, and ``resume`` continues
    from it: a run killed mid-epoch loses at most that epoch.

    Model selection: the kept weights are those of the epoch with the best ``cfg.monitor`` on
    the validation part (a task metric, or the loss); among epochs with exactly the same metric
    (a balanced accuracy of 15 patients moves in steps) the lower validation loss wins, or with
    ``cfg.epoch_ties == "earlier"`` the earlier epoch (a tie then does not count as progress). Early
    stopping ends training after ``patience`` epochs without a better epoch, never before
    ``min_epochs``. ``report(epoch, history_row)`` is called after every epoch (tuning prunes
    trials from it; it may raise to stop training). Every history row also goes to
    ``loggers`` (experiment tracking), at step = epoch.

    ``score_start``: the untrained network is a candidate too (a network that starts as its
    base, :mod:`omicsformer.models.residual`): it is scored before the first epoch, as epoch 0
    of the history (its training loss over every training row in evaluation mode, its
    validation loss and metrics), and kept if no epoch beats it.
    """
    fabric = make_fabric(cfg, loggers)
    fabric.launch()
    torch.manual_seed(seed)
    if fabric.world_size > 1 and fabric.device.type == "cuda":
        # batch statistics over all processes (PyTorch supports this on GPUs only; on CPU each
        # process normalises with its own shard's statistics)
        module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
    if cfg.lr is None or cfg.batch_size is None:
        raise ConfigError("the training loop needs a learning rate and a batch size")
    optimizer = torch.optim.AdamW(module.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    state = LoopState()
    if resume:
        state = _load_checkpoint(checkpoint_dir, module, optimizer)
        note(f"resuming after epoch {state.epoch}")
        for row in state.history:  # a resumed run's trackers get its whole history
            fabric.log_dict(row, step=int(row["epoch"]))
    model, optimizer = fabric.setup(module, optimizer)
    x_train = fabric.to_device(data.x_train)
    y_train = fabric.to_device(data.y_train)
    has_val = data.x_val is not None and len(data.x_val) > 0
    monitor = hooks.main_metric if cfg.monitor == "auto" else cfg.monitor
    best_state = {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}
    if resume and checkpoint_dir is not None and (checkpoint_dir / "best.pt").exists():
        best_state = read_file(checkpoint_dir / "best.pt", _load_tensors)

    if score_start and has_val and not resume:  # epoch 0: the untrained network (its base)
        start = time.perf_counter()
        row = {"epoch": 0, "lr": 0.0, "train_loss": _loss(model, data, hooks, fabric, cfg)}
        row.update(_validate(model, data, hooks, fabric, eval_batch_size(cfg)))
        state.best_score = monitored(row, monitor, hooks.lower_is_better)
        state.best_loss = row["val_loss"]
        row["seconds"] = time.perf_counter() - start
        state.history.append(row)
        fabric.log_dict(row, step=0)

    show = progress and fabric.is_global_zero
    bar = EpochProgress(cfg.max_epochs, state.epoch, monitor) if show else None
    start = time.perf_counter()
    stopped_early = False
    try:
        for epoch in range(state.epoch, cfg.max_epochs):
            epoch_start = time.perf_counter()
            torch.manual_seed(seed * 100_003 + epoch)  # dropout etc. depend only on (seed, epoch)
            generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
            for group in optimizer.param_groups:
                group["lr"] = cfg.lr * _lr_factor(cfg, epoch)
            model.train()
            total, count = 0.0, 0
            batches = _batches(
                len(x_train), cfg.batch_size, fabric.global_rank, fabric.world_size, generator
            )
            with out_of_memory_as_error("a training epoch", cfg.batch_size, "--batch-size"):
                for rows in batches:
                    rows = rows.to(x_train.device)
                    optimizer.zero_grad(set_to_none=True)
                    x_batch, y_batch = x_train[rows], y_train[rows]
                    if data.augment is not None:  # seeded by (seed, epoch) through the generator
                        x_batch, y_batch = data.augment(x_batch, y_batch, generator, rows.cpu())
                    with fabric.autocast():
                        logits = model(x_batch)
                    loss = hooks.loss(logits, y_batch)
                    fabric.backward(loss)
                    if cfg.grad_clip > 0:
                        fabric.clip_gradients(model, optimizer, max_norm=cfg.grad_clip)
                    optimizer.step()
                    total += float(loss.detach()) * len(rows)
                    count += len(rows)
            train_loss = float(
                fabric.all_reduce(torch.tensor(total / max(count, 1)), reduce_op="mean")
            )
            row: dict[str, float] = {
                "epoch": epoch + 1,
                "lr": optimizer.param_groups[0]["lr"],
                "train_loss": train_loss,
            }
            if has_val:
                row.update(_validate(model, data, hooks, fabric, eval_batch_size(cfg)))
                score = monitored(row, monitor, hooks.lower_is_better)
                tie = (
                    cfg.epoch_ties == "loss"
                    and score == state.best_score
                    and row["val_loss"] < state.best_loss
                )
                improved = score < state.best_score - cfg.min_delta or tie
                state.bad_epochs = 0 if improved else state.bad_epochs + 1
            else:
                improved = True  # without validation data the last epoch is kept
            if improved:
                if has_val:
                    state.best_score = min(score, state.best_score)
                    state.best_loss = row["val_loss"]
                state.best_epoch = epoch + 1
                best_state = {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}
            row["seconds"] = time.perf_counter() - epoch_start
            state.history.append(row)
            fabric.log_dict(row, step=epoch + 1)  # to the experiment trackers (rank 0)
            state.epoch = epoch + 1
            if checkpoint_dir is not None and fabric.is_global_zero:
                _save_checkpoint(
                    checkpoint_dir, module, optimizer, state, best_state if improved else None
                )
            stopped_early = (
                has_val and state.bad_epochs >= cfg.patience and epoch + 1 >= cfg.min_epochs
            )
            if bar is not None:
                bar.update(row, last=stopped_early or epoch + 1 == cfg.max_epochs)
            if on_epoch_end is not None:
                on_epoch_end(epoch + 1)
            if report is not None:
                report(epoch + 1, row)
            if stopped_early:
                break
    finally:
        if bar is not None:
            bar.stop()
    if show and stopped_early:
        note(
            f"stopped early after epoch {state.epoch}: no gain in {monitor} for "
            f"{cfg.patience} epochs; keeping epoch {state.best_epoch}"
            + (" (the untrained network: its base)" if state.best_epoch == 0 else "")
        )
    return TrainResult(
        best_state=best_state,
        history=state.history,
        best_epoch=state.best_epoch,
        epochs_run=state.epoch,
        stopped_early=stopped_early,
        seconds=time.perf_counter() - start,
    )


def monitored(row: dict[str, float], monitor: str, lower_is_better: frozenset[str]) -> float:
    """The monitored validation quantity of a history row, signed so that lower is better."""
    if monitor == "loss":
        return row["val_loss"]
    value = row.get(f"val_{monitor}", math.nan)
    if math.isnan(value):
        raise ConfigError(f"cannot monitor {monitor!r}: not a validation metric of this task")
    return value if monitor in lower_is_better else -value


def _loss(
    model: nn.Module, data: TrainData, hooks: TaskHooks, fabric: Any, cfg: TrainConfig
) -> float:
    """The training loss of the network as it is, over every training row (evaluation mode, no
    augmentation; in batches): epoch 0's, before any step."""
    model.eval()
    with fabric.autocast():
        logits = in_batches(
            lambda batch: model(fabric.to_device(batch)),
            data.x_train,
            eval_batch_size(cfg),
            "the untrained network's training loss",
            to_cpu=False,
        )
    return float(hooks.loss(logits, fabric.to_device(data.y_train)))


def _validate(
    model: nn.Module, data: TrainData, hooks: TaskHooks, fabric: Any, batch_size: int
) -> dict[str, float]:
    """Validation loss and metrics on the full validation set, in batches of ``batch_size``
    (identical on every rank)."""
    model.eval()
    with fabric.autocast():
        logits = in_batches(
            lambda batch: model(fabric.to_device(batch)),
            data.x_val,
            batch_size,
            "validation",
            to_cpu=False,
        )
    loss = float(hooks.loss(logits, fabric.to_device(data.y_val)))
    row = {"val_loss": loss}
    metrics = hooks.metrics(hooks.y_val_numpy, hooks.output(logits))
    row.update({f"val_{k}": float(v) for k, v in metrics.items() if isinstance(v, float)})
    return row


def _save_checkpoint(
    folder: Path,
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    state: LoopState,
    best_state: dict[str, Tensor] | None,
) -> None:
    """Write the loop state (every epoch) and the best weights (when they changed)."""
    folder.mkdir(parents=True, exist_ok=True)
    payload = {
        "model": module.state_dict(),
        "optimizer": optimizer.state_dict(),
        "epoch": state.epoch,
        "best_score": state.best_score,
        "best_loss": state.best_loss,
        "best_epoch": state.best_epoch,
        "bad_epochs": state.bad_epochs,
        "history": state.history,
    }
    if best_state is not None:
        write_with(folder / "best.pt", lambda tmp: torch.save(best_state, tmp))
    write_with(folder / CHECKPOINT, lambda tmp: torch.save(payload, tmp))


def _load_checkpoint(
    folder: Path | None, module: nn.Module, optimizer: torch.optim.Optimizer
) -> LoopState:
    path = folder / CHECKPOINT if folder is not None else None
    if path is None or not path.exists():
        raise RunError(f"no training checkpoint to resume from in {folder}")

    def restore(path: Path) -> LoopState:
        payload = _load_tensors(path)
        module.load_state_dict(payload["model"])
        optimizer.load_state_dict(payload["optimizer"])
        return LoopState(
            epoch=int(payload["epoch"]),
            best_score=float(payload["best_score"]),
            best_loss=float(payload.get("best_loss", math.inf)),
            best_epoch=int(payload["best_epoch"]),
            bad_epochs=int(payload["bad_epochs"]),
            history=list(payload["history"]),
        )

    return read_file(path, restore)


def _load_tensors(path: Path) -> Any:
    return torch.load(path, weights_only=True)  # tensors and plain values only: no code runs
