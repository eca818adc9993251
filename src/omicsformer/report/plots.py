"""Plots written into run folders (PNG, matplotlib's non-interactive Agg backend)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd


def learning_curve(history: pd.DataFrame, path: str | Path, monitor: str = "loss") -> None:
    """Training and validation loss per epoch, and the monitored validation metric."""
    metric = f"val_{monitor}" if monitor != "loss" else "val_balanced_accuracy"
    panels = 2 if metric in history else 1
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 3.6), squeeze=False)
    ax = axes[0, 0]
    ax.plot(history["epoch"], history["train_loss"], label="train")
    if "val_loss" in history:
        ax.plot(history["epoch"], history["val_loss"], label="validation")
        best = history["val_loss"].idxmin() if monitor == "loss" else history[metric].idxmax()
        ax.axvline(history["epoch"][best], color="grey", linestyle=":", label="best epoch")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss")
    ax.legend()
    if panels == 2:
        axes[0, 1].plot(history["epoch"], history[metric], color="tab:green")
        axes[0, 1].set_xlabel("epoch")
        axes[0, 1].set_ylabel(metric.removeprefix("val_") + " (validation)")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=110)
    plt.close(fig)
