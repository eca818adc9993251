"""Training progress on stderr: a live bar on a terminal, plain lines anywhere else.

A job run under nohup, SLURM or CI has no terminal; a live bar would print nothing there, so
the same progress is written as one line per epoch, at most one every ``interval`` seconds
(the first and the last epoch always), which keeps a log readable for short epochs and
complete for long ones.
"""

from __future__ import annotations

import time
from typing import Any

from omicsformer.console import err, note


def describe(row: dict[str, float], monitor: str) -> str:
    """``epoch 3 loss 0.512 val_loss 0.601 [val_<monitor> ...]`` for a history row."""
    text = f"epoch {int(row['epoch'])} loss {row['train_loss']:.3f}"
    if "val_loss" in row:
        text += f" val_loss {row['val_loss']:.3f}"
        if monitor != "loss" and f"val_{monitor}" in row:
            text += f" val_{monitor} {row[f'val_{monitor}']:.3f}"
    return text


class EpochProgress:
    """Reports finished epochs; ``terminal`` None asks stderr whether it is one."""

    def __init__(
        self,
        total: int,
        done: int,
        monitor: str,
        *,
        interval: float = 10.0,
        terminal: bool | None = None,
    ) -> None:
        self.total = total
        self.monitor = monitor
        self.interval = interval
        self.terminal = err.is_terminal if terminal is None else terminal
        self._last_line = -float("inf")
        self._start = time.perf_counter()
        self._bar: Any = None
        if self.terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
            )

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                console=err,
                transient=True,
            )
            self._task = self._bar.add_task("training", total=total, completed=done)
            self._bar.start()

    def update(self, row: dict[str, float], *, last: bool = False) -> None:
        """One finished epoch (``last``: no epoch follows)."""
        text = describe(row, self.monitor)
        if self._bar is not None:
            self._bar.update(self._task, advance=1, description=text)
            return
        now = time.perf_counter()
        first = self._last_line == -float("inf")
        if first or last or now - self._last_line >= self.interval:
            self._last_line = now
            note(
                f"{text} ({int(row['epoch'])}/{self.total}, {row['seconds']:.1f} s/epoch, "
                f"{now - self._start:.0f} s elapsed)"
            )

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
