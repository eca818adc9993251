"""Plots written into run folders (PNG, matplotlib's non-interactive Agg backend)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd


def learning_curve(
    history: pd.DataFrame, path: str | Path, monitor: str = "loss", best_epoch: int | None = None
) -> None:
    """Training and validation loss per epoch, and the monitored validation metric; a dotted
    line marks the kept epoch."""
    metric = f"val_{monitor}" if monitor != "loss" else "val_balanced_accuracy"
    panels = 2 if metric in history else 1
    fig, axes = plt.subplots(1, panels, figsize=(5 * panels, 3.6), squeeze=False)
    ax = axes[0, 0]
    ax.plot(history["epoch"], history["train_loss"], label="train")
    if "val_loss" in history:
        ax.plot(history["epoch"], history["val_loss"], label="validation")
        if best_epoch is None:
            best_epoch = int(history["epoch"][history["val_loss"].idxmin()])
        ax.axvline(best_epoch, color="grey", linestyle=":", label="kept epoch")
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


def risk_groups(risk: np.ndarray, groups: int = 2) -> np.ndarray:
    """Group index by predicted risk: 0 = lowest; median split (2) or tertiles (3)."""
    edges = np.quantile(risk, np.linspace(0, 1, groups + 1)[1:-1])
    return np.searchsorted(edges, risk, side="right")


def log_rank_p(time: np.ndarray, event: np.ndarray, group: np.ndarray) -> float:
    """Log-rank test p-value between the groups (scikit-survival); NaN if undefined."""
    from sksurv.compare import compare_survival
    from sksurv.util import Surv

    if len(np.unique(group)) < 2 or event.sum() == 0:
        return float("nan")
    try:
        return float(compare_survival(Surv.from_arrays(event, time), group)[1])
    except ValueError:
        return float("nan")


def kaplan_meier_by_risk(
    time: np.ndarray, event: np.ndarray, risk: np.ndarray, path: str | Path, groups: int = 2
) -> float:
    """Kaplan-Meier curves of patients split by predicted risk, with the log-rank p-value."""
    from sksurv.nonparametric import kaplan_meier_estimator

    event = np.asarray(event, dtype=bool)
    group = risk_groups(np.asarray(risk, float), groups)
    p = log_rank_p(np.asarray(time, float), event, group)
    names = ["low risk", "high risk"] if groups == 2 else ["low risk", "intermediate", "high risk"]
    fig, ax = plt.subplots(figsize=(5.5, 4))
    for g in np.unique(group):
        members = group == g
        t, s = kaplan_meier_estimator(event[members], np.asarray(time, float)[members])
        ax.step(
            t,
            s,
            where="post",
            label=f"{names[g]} (n={members.sum()}, {event[members].sum()} events)",
        )
    ax.set_xlabel("time")
    ax.set_ylabel("survival probability")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"Test patients by predicted risk; log-rank p = {p:.3g}")
    ax.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=110)
    plt.close(fig)
    return p


def predicted_vs_observed(y: np.ndarray, predicted: np.ndarray, path: str | Path) -> None:
    """Scatter of predicted against observed values, with the identity line."""
    from omicsformer.metrics.regression import pearson, r2

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.scatter(y, predicted, s=14, alpha=0.7)
    low, high = float(min(np.min(y), np.min(predicted))), float(max(np.max(y), np.max(predicted)))
    ax.plot([low, high], [low, high], color="grey", linestyle=":")
    ax.set_xlabel("observed")
    ax.set_ylabel("predicted")
    ax.set_title(f"R² {r2(y, predicted):.3f}, Pearson r {pearson(y, predicted):.3f}")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=110)
    plt.close(fig)
