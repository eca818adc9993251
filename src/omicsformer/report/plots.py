"""Figures of predictions (matplotlib's non-interactive Agg backend).

Each ``*_figure`` function takes arrays and returns a matplotlib Figure: the HTML report embeds
it (:meth:`omicsformer.report.html.Figure.of`) and the run folder saves it as a PNG
(:func:`save_png`), so both show one drawing. Notation: ``y`` (N,) integer class codes
(classification) or observed values (regression); ``proba`` (N, C) class probabilities;
``time`` / ``event`` / ``risk`` (N,) survival follow-up, event indicator and predicted risk.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def save_png(fig: Figure, path: str | Path, dpi: int = 110) -> None:
    """Write ``fig`` as a PNG and close it."""
    fig.savefig(path, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)


# ------------------------------------------------------------------------------------ training
def learning_curve_figure(
    history: pd.DataFrame, monitor: str = "loss", best_epoch: int | None = None
) -> Figure:
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
    return fig


def learning_curve(
    history: pd.DataFrame, path: str | Path, monitor: str = "loss", best_epoch: int | None = None
) -> None:
    """:func:`learning_curve_figure` as a PNG (the run folder's learning_curve.png)."""
    save_png(learning_curve_figure(history, monitor, best_epoch), path)


# ------------------------------------------------------------------------------------ survival
def risk_groups(risk: np.ndarray, groups: int = 2) -> np.ndarray:
    """Group index by predicted risk: 0 = lowest; median split (2) or tertiles (3)."""
    edges = np.quantile(risk, np.linspace(0, 1, groups + 1)[1:-1])
    return np.searchsorted(edges, risk, side="right")


def risk_group_names(groups: int) -> list[str]:
    return ["low risk", "high risk"] if groups == 2 else ["low risk", "intermediate", "high risk"]


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


def numbers_at_risk(
    time: np.ndarray, group: np.ndarray, ticks: np.ndarray, groups: int = 2
) -> pd.DataFrame:
    """Patients still followed (time >= t) at each tick, one row per risk group."""
    time, group = np.asarray(time, float), np.asarray(group)
    counts = [[int(np.sum((group == g) & (time >= t))) for t in ticks] for g in range(groups)]
    return pd.DataFrame(counts, index=risk_group_names(groups), columns=[f"{t:g}" for t in ticks])


def at_risk_ticks(time: np.ndarray, count: int = 6) -> np.ndarray:
    """Round time points from 0 to the last follow-up, where numbers at risk are counted."""
    from matplotlib.ticker import MaxNLocator

    ticks = MaxNLocator(count - 1).tick_values(0.0, float(np.max(time)))
    return ticks[(ticks >= 0) & (ticks <= np.max(time))]


def kaplan_meier_figure(
    time: np.ndarray, event: np.ndarray, risk: np.ndarray, groups: int = 2
) -> tuple[Figure, float, pd.DataFrame]:
    """Kaplan-Meier curves of patients split by predicted risk (median or tertiles), with the
    numbers at risk under the plot and the log-rank p-value in the title.

    Returns the figure, the p-value and the numbers-at-risk table.
    """
    from sksurv.nonparametric import kaplan_meier_estimator

    time, event = np.asarray(time, float), np.asarray(event, dtype=bool)
    group = risk_groups(np.asarray(risk, float), groups)
    p = log_rank_p(time, event, group)
    names = risk_group_names(groups)
    ticks = at_risk_ticks(time)
    table = numbers_at_risk(time, group, ticks, groups)
    fig, (ax, below) = plt.subplots(
        2, 1, figsize=(6, 4.2 + 0.25 * groups), sharex=True, height_ratios=[4, 0.4 + 0.3 * groups]
    )
    colours = [f"C{g}" for g in range(groups)]
    for g in np.unique(group):
        members = group == g
        t, s = kaplan_meier_estimator(event[members], time[members])
        label = f"{names[g]} (n={members.sum()}, {event[members].sum()} events)"
        ax.step(np.r_[0.0, t], np.r_[1.0, s], where="post", label=label, color=colours[g])
    ax.set_ylabel("survival probability")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"Patients by predicted risk; log-rank p = {p:.3g}")
    ax.legend(loc="lower left", fontsize=8)
    # the numbers-at-risk table: one row of counts per group, aligned with the time axis
    for row, name in enumerate(names):
        for tick, count in zip(ticks, table.loc[name], strict=True):
            below.text(tick, row, str(count), ha="center", va="center", fontsize=8)
    below.set_yticks(range(groups), names, fontsize=8)
    for label, colour in zip(below.get_yticklabels(), colours, strict=True):
        label.set_color(colour)
    below.set_ylim(groups - 0.5, -0.5)
    below.set_xticks(ticks)
    below.set_xlim(ax.get_xlim())
    below.tick_params(left=False)
    for spine in below.spines.values():
        spine.set_visible(False)
    below.set_xlabel("time (numbers at risk above)")
    ax.tick_params(labelbottom=True)
    fig.tight_layout()
    return fig, p, table


def kaplan_meier_by_risk(
    time: np.ndarray, event: np.ndarray, risk: np.ndarray, path: str | Path, groups: int = 2
) -> float:
    """:func:`kaplan_meier_figure` as a PNG (the run folder's km_test.png); the p-value."""
    fig, p, _ = kaplan_meier_figure(time, event, risk, groups)
    save_png(fig, path)
    return p


def time_auc_figure(
    times: np.ndarray, aucs: np.ndarray, horizons: np.ndarray | None = None
) -> Figure:
    """Cumulative/dynamic AUC against time, the horizons marked."""
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.plot(times, aucs, marker="o", markersize=3)
    ax.axhline(0.5, color="grey", linestyle=":", label="chance")
    for h in horizons if horizons is not None else []:
        ax.axvline(h, color="tab:orange", linestyle="--", alpha=0.5)
    ax.set_xlabel("time")
    ax.set_ylabel("AUC(t)")
    ax.set_ylim(0, 1.02)
    ax.set_title("Time-dependent AUC (dashed: horizons)")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------- regression
def predicted_vs_observed_figure(y: np.ndarray, predicted: np.ndarray) -> Figure:
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
    return fig


def predicted_vs_observed(y: np.ndarray, predicted: np.ndarray, path: str | Path) -> None:
    """:func:`predicted_vs_observed_figure` as a PNG (predicted_vs_observed.png)."""
    save_png(predicted_vs_observed_figure(y, predicted), path)


def residuals_figure(y: np.ndarray, predicted: np.ndarray) -> Figure:
    """Residuals (observed - predicted) against predicted values, with the zero line."""
    residual = np.asarray(y, float) - np.asarray(predicted, float)
    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.scatter(predicted, residual, s=14, alpha=0.7)
    ax.axhline(0.0, color="grey", linestyle=":")
    ax.set_xlabel("predicted")
    ax.set_ylabel("residual (observed - predicted)")
    ax.set_title(f"Residuals: mean {residual.mean():.3g}, SD {residual.std():.3g}")
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------------ classification
def one_vs_rest(y: np.ndarray, classes: list[str]) -> list[tuple[int, str]]:
    """The (code, name) of the classes curves are drawn for: the positive class (the second)
    when there are two, every class otherwise; classes without both positives and negatives
    among ``y`` are left out (their curves are undefined)."""
    shown = [(1, classes[1])] if len(classes) == 2 else list(enumerate(classes))
    return [(c, name) for c, name in shown if 0 < np.sum(np.asarray(y) == c) < len(y)]


def roc_pr_figure(y: np.ndarray, proba: np.ndarray, classes: list[str]) -> Figure:
    """ROC and precision-recall curves, one-vs-rest per class (binary: the positive class),
    with the AUC and average precision in the legends."""
    from sklearn import metrics as skm

    fig, (roc, pr) = plt.subplots(1, 2, figsize=(10, 4.2))
    for c, name in one_vs_rest(y, classes):
        positive = np.asarray(y) == c
        fpr, tpr, _ = skm.roc_curve(positive, proba[:, c])
        auc = skm.roc_auc_score(positive, proba[:, c])
        roc.plot(fpr, tpr, label=f"{name} (AUC {auc:.3f})")
        precision, recall, _ = skm.precision_recall_curve(positive, proba[:, c])
        ap = skm.average_precision_score(positive, proba[:, c])
        pr.plot(recall, precision, drawstyle="steps-post", label=f"{name} (AP {ap:.3f})")
        pr.axhline(positive.mean(), color=roc.lines[-1].get_color(), linestyle=":", alpha=0.5)
    roc.plot([0, 1], [0, 1], color="grey", linestyle=":")
    roc.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC (one-vs-rest)")
    pr.set(
        xlabel="recall",
        ylabel="precision",
        ylim=(0, 1.02),
        title="Precision-recall (dotted: prevalence)",
    )
    if pr.lines:  # no class with both positives and negatives: no curves to name
        roc.legend(loc="lower right", fontsize=8)
        pr.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    return fig


def confusion_figure(y: np.ndarray, predicted: np.ndarray, classes: list[str]) -> Figure:
    """Confusion matrix as counts and row-normalised (the share of each true class)."""
    from omicsformer.metrics.classification import confusion_matrix

    counts = confusion_matrix(y, predicted, len(classes))
    rows = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    size = 2.2 + 0.55 * len(classes)
    fig, axes = plt.subplots(1, 2, figsize=(2 * size + 1, size))
    for ax, values, title, fmt in (
        (axes[0], counts, "counts", "d"),
        (axes[1], rows, "row-normalised (recall on the diagonal)", ".2f"),
    ):
        ax.imshow(rows, cmap="Blues", vmin=0, vmax=1)
        for i in range(len(classes)):
            for j in range(len(classes)):
                colour = "white" if rows[i, j] > 0.6 else "black"
                ax.text(j, i, format(values[i, j], fmt), ha="center", va="center", color=colour)
        ticks = range(len(classes))
        ax.set_xticks(ticks, classes, rotation=45, ha="right")
        ax.set_yticks(ticks, classes)
        ax.set(xlabel="predicted", ylabel="true", title=title)
    fig.tight_layout()
    return fig


def brier(y: np.ndarray, proba: np.ndarray) -> float:
    """Multiclass Brier score: the mean over patients of sum_c (p_c - [y = c])^2 (binary: twice
    the usual positive-class Brier score)."""
    onehot = np.eye(proba.shape[1])[np.asarray(y)]
    return float(np.mean(np.sum((proba - onehot) ** 2, axis=1)))


def calibration_figure(
    y: np.ndarray, proba: np.ndarray, classes: list[str], bins: int = 10
) -> Figure:
    """Reliability diagram (scikit-learn's calibration_curve, equal-width bins): the observed
    share of a class against its mean predicted probability, one-vs-rest per class (binary: the
    positive class), each with its Brier score; a histogram of the probabilities below."""
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import brier_score_loss

    fig, (ax, hist) = plt.subplots(2, 1, figsize=(5.5, 5.5), sharex=True, height_ratios=[3, 1])
    ax.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfectly calibrated")
    for c, name in one_vs_rest(y, classes):
        positive = (np.asarray(y) == c).astype(int)
        observed, predicted = calibration_curve(positive, proba[:, c], n_bins=bins, pos_label=1)
        score = brier_score_loss(positive, proba[:, c], pos_label=1)
        line = ax.plot(predicted, observed, marker="o", label=f"{name} (Brier {score:.3f})")
        hist.hist(proba[:, c], bins=bins, range=(0, 1), histtype="step", color=line[0].get_color())
    ax.set(ylabel="observed share", ylim=(-0.02, 1.02), title="Calibration (one-vs-rest)")
    if len(classes) > 2:
        ax.set_title(f"Calibration (one-vs-rest); multiclass Brier {brier(y, proba):.3f}")
    ax.legend(loc="upper left", fontsize=8)
    hist.set(xlabel="predicted probability", ylabel="patients", xlim=(0, 1))
    fig.tight_layout()
    return fig
