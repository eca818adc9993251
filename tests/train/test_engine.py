import math
from itertools import pairwise

import numpy as np
import pytest
import torch
from torch import nn

from omicsformer.config import TrainConfig
from omicsformer.errors import ConfigError, OutOfMemory
from omicsformer.train.engine import (
    TaskHooks,
    TrainData,
    _batches,
    _lr_factor,
    fit,
    in_batches,
    make_fabric,
    predict_logits,
)


def test_batches_cover_every_row_once_and_shard_evenly():
    g = torch.Generator().manual_seed(0)
    batches = _batches(23, 8, rank=0, world=1, generator=g)
    assert sorted(torch.cat(batches).tolist()) == list(range(23))
    assert all(len(b) >= 2 for b in batches)
    shards = [
        _batches(23, 8, rank=r, world=2, generator=torch.Generator().manual_seed(0)) for r in (0, 1)
    ]
    assert len(shards[0]) == len(shards[1])  # same number of steps on every rank
    seen = torch.cat([torch.cat(s) for s in shards])
    assert set(seen.tolist()) == set(range(23)) and len(seen) == 24  # one row repeated to pad


def test_learning_rate_schedule():
    cfg = TrainConfig(max_epochs=10, warmup_epochs=2, schedule="cosine")
    factors = [_lr_factor(cfg, e) for e in range(10)]
    assert factors[0] < factors[1] < factors[2] == 1.0
    assert factors[-1] < 0.05 and all(a >= b for a, b in pairwise(factors[2:]))
    assert _lr_factor(TrainConfig(), 50) == 1.0


def linear_problem(n=64):
    x = torch.randn(n, 5, generator=torch.Generator().manual_seed(0))
    y = (x[:, 0] > 0).long()
    return x, y


def hooks(y_val):
    loss = nn.CrossEntropyLoss()
    return TaskHooks(
        loss=lambda logits, y: loss(logits, y),
        output=lambda logits: logits.softmax(-1).numpy(),
        metrics=lambda y, p: {"accuracy": float((p.argmax(1) == y).mean())},
        y_val_numpy=y_val,
    )


def test_early_stopping_keeps_the_best_epoch():
    x, y = linear_problem()
    noise = torch.randint(0, 2, (32,), generator=torch.Generator().manual_seed(1))
    module = nn.Linear(5, 2)
    cfg = TrainConfig(
        max_epochs=200, batch_size=16, lr=0.05, patience=3, min_delta=0.0, min_epochs=0
    )
    result = fit(
        module, TrainData(x, y, x[:32], noise), hooks(noise.numpy()), cfg, seed=0, progress=False
    )
    assert result.stopped_early and result.epochs_run < 200
    assert result.epochs_run - result.best_epoch == 3
    val_losses = [row["val_loss"] for row in result.history]
    assert result.best_epoch == int(np.argmin(val_losses)) + 1


def test_min_epochs_holds_early_stopping_back():
    x, y = linear_problem()
    noise = torch.randint(0, 2, (32,), generator=torch.Generator().manual_seed(1))
    cfg = TrainConfig(max_epochs=200, batch_size=16, lr=0.05, patience=1, min_epochs=25)
    result = fit(
        nn.Linear(5, 2),
        TrainData(x, y, x[:32], noise),
        hooks(noise.numpy()),
        cfg,
        seed=0,
        progress=False,
    )
    assert result.stopped_early and result.epochs_run >= 25


@pytest.mark.parametrize("ties", ["loss", "earlier"])
def test_the_task_metric_picks_the_epoch_and_ties_go_to_the_lower_loss_or_the_earlier(ties):
    """Validation accuracy (higher is better) monitored; among epochs of equal accuracy the
    one with the lowest validation loss is kept (``epoch_ties=loss``), or the first of them
    (``earlier``, the default)."""
    x, y = linear_problem()
    cfg = TrainConfig(
        max_epochs=30, batch_size=16, lr=0.05, patience=100, monitor="accuracy", epoch_ties=ties
    )
    result = fit(
        nn.Linear(5, 2), TrainData(x, y, x, y), hooks(y.numpy()), cfg, seed=0, progress=False
    )
    history = result.history
    best = max(row["val_accuracy"] for row in history)
    tied = [row for row in history if row["val_accuracy"] == best]
    assert len(tied) > 1  # the tie-break was exercised
    if ties == "loss":
        kept = min(tied, key=lambda row: row["val_loss"])
    else:
        kept = tied[0]
    assert result.best_epoch == kept["epoch"]
    assert min(tied, key=lambda row: row["val_loss"]) != tied[0]  # the two rules differ here


def test_a_lower_is_better_metric_is_minimised():
    x, y = linear_problem()
    task_hooks = hooks(y.numpy())
    task_hooks.metrics = lambda y, p: {"error": float((p.argmax(1) != y).mean())}
    task_hooks.lower_is_better = frozenset({"error"})
    task_hooks.main_metric = "error"
    cfg = TrainConfig(max_epochs=15, batch_size=16, lr=0.05, patience=100)  # monitor auto
    result = fit(nn.Linear(5, 2), TrainData(x, y, x, y), task_hooks, cfg, seed=0, progress=False)
    errors = [row["val_error"] for row in result.history]
    assert result.history[result.best_epoch - 1]["val_error"] == min(errors)


def test_training_is_deterministic_for_a_seed():
    x, y = linear_problem()
    states = []
    for _ in range(2):
        torch.manual_seed(0)
        module = nn.Sequential(nn.Linear(5, 8), nn.Dropout(0.3), nn.Linear(8, 2))
        cfg = TrainConfig(max_epochs=5, batch_size=8, lr=0.01)
        states.append(
            fit(module, TrainData(x, y), hooks(None), cfg, seed=3, progress=False).best_state
        )
    for key in states[0]:
        assert torch.equal(states[0][key], states[1][key])


def test_monitor_must_be_a_metric_and_fsdp_needs_gpus():
    x, y = linear_problem()
    cfg = TrainConfig(max_epochs=2, lr=0.01, batch_size=8, monitor="nope")
    with pytest.raises(ConfigError, match="cannot monitor 'nope'"):
        fit(nn.Linear(5, 2), TrainData(x, y, x, y), hooks(y.numpy()), cfg, seed=0, progress=False)
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="fsdp needs CUDA"):
            make_fabric(TrainConfig(strategy="fsdp"))
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            make_fabric(TrainConfig(device="cuda"))


def test_bf16_mixed_precision_trains_on_cpu():
    x, y = linear_problem()
    cfg = TrainConfig(max_epochs=20, batch_size=16, lr=0.05, precision="bf16-mixed")
    result = fit(nn.Linear(5, 2), TrainData(x, y), hooks(None), cfg, seed=0, progress=False)
    assert math.isfinite(result.history[-1]["train_loss"])
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]


class Recorder(nn.Module):
    """A batch-norm network that records the rows of every batch it sees (with / without
    gradients)."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(5, 8), nn.BatchNorm1d(8), nn.Dropout(0.5), nn.Linear(8, 2)
        )
        self.seen: list[tuple[bool, int]] = []

    def forward(self, x):
        self.seen.append((torch.is_grad_enabled(), x.shape[0]))
        return self.net(x)


def test_validation_runs_in_eval_batches_of_the_configured_size():
    x, y = linear_problem(64)
    module = Recorder()
    cfg = TrainConfig(max_epochs=2, batch_size=16, eval_batch_size=6, lr=0.01, min_epochs=0)
    fit(module, TrainData(x, y, x[:20], y[:20]), hooks(y[:20].numpy()), cfg, seed=0, progress=False)
    evaluation = [rows for grad, rows in module.seen if not grad]
    assert evaluation == [6, 6, 6, 2] * 2  # 20 validation rows per epoch
    default = Recorder()  # default: the training batch
    cfg = TrainConfig(max_epochs=1, batch_size=16, lr=0.01, min_epochs=0)
    fit(
        default, TrainData(x, y, x[:20], y[:20]), hooks(y[:20].numpy()), cfg, seed=0, progress=False
    )
    assert [rows for grad, rows in default.seen if not grad] == [16, 4]


def test_predictions_do_not_depend_on_the_eval_batch():
    x, y = linear_problem(64)
    module = Recorder()
    cfg = TrainConfig(max_epochs=3, batch_size=8, lr=0.05, min_epochs=0)
    fit(module, TrainData(x, y), hooks(None), cfg, seed=0, progress=False)
    whole = predict_logits(module, x, 64)
    for size in (1, 5, 13):
        module.seen.clear()
        torch.testing.assert_close(predict_logits(module, x, size), whole, rtol=0, atol=1e-6)
        assert [rows for _, rows in module.seen] == [size] * (64 // size) + [64 % size] * (
            64 % size > 0
        )


@pytest.mark.parametrize(
    "error",
    [
        RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried to allocate 4 GB"),
        torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 49.00 GiB"),
        MemoryError(),
    ],
)
def test_out_of_memory_in_a_pass_is_one_error_naming_the_batch(error):
    def apply(batch):
        raise error

    with pytest.raises(OutOfMemory) as caught:
        in_batches(apply, torch.zeros(10, 3), 6, "embedding")
    assert str(caught.value).startswith(
        "out of memory in embedding with batch size 6; try --eval-batch-size 3 (or lower memory:"
    )
    with pytest.raises(ValueError, match="bad shape"):  # other errors stay bugs

        def broken(batch):
            raise ValueError("bad shape")

        in_batches(broken, torch.zeros(10, 3), 6, "embedding")


def test_out_of_memory_in_a_training_epoch_names_the_training_batch(monkeypatch):
    x, y = linear_problem(32)
    module = Recorder()

    def forward(x):
        if torch.is_grad_enabled():
            raise RuntimeError("DefaultCPUAllocator: can't allocate memory")
        return x

    monkeypatch.setattr(module, "forward", forward)
    cfg = TrainConfig(max_epochs=1, batch_size=1, lr=0.01)
    with pytest.raises(OutOfMemory, match="training epoch with batch size 1; lower memory with"):
        fit(module, TrainData(x, y), hooks(None), cfg, seed=0, progress=False)
