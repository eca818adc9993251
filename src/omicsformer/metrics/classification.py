"""Classification metrics (pure functions).

Notation: ``y_true`` holds integer class codes ``0..C-1`` (shape ``(N,)``), ``proba`` the predicted
class probabilities (shape ``(N, C)``); the predicted class is ``argmax(proba)``.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean recall over the classes present in ``y_true`` (robust to class imbalance)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    recalls = [np.mean(y_pred[y_true == c] == c) for c in np.unique(y_true)]
    return float(np.mean(recalls))


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """``(C, C)`` counts; rows are true classes, columns predicted classes."""
    pairs = np.asarray(y_true, np.int64) * n_classes + np.asarray(y_pred, np.int64)
    return np.bincount(pairs, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Unweighted mean F1 over the classes present in ``y_true`` or ``y_pred``.

    F1 = 2 TP / (2 TP + FP + FN), as scikit-learn's ``f1_score(average="macro")`` (checked
    against it in the tests); written with numpy because the report's bootstrap calls it a
    thousand times and scikit-learn's input checks take milliseconds a call.
    """
    y_true, y_pred = np.asarray(y_true, np.int64), np.asarray(y_pred, np.int64)
    labels = np.union1d(y_true, y_pred)
    if len(labels) == 0:
        return 0.0
    counts = confusion_matrix(y_true, y_pred, int(labels.max()) + 1)[np.ix_(labels, labels)]
    tp = np.diag(counts)
    denominator = counts.sum(axis=0) + counts.sum(axis=1)  # 2 TP + FP + FN
    return float(np.mean(2 * tp / denominator))


def binary_auroc(positive: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC as the Mann-Whitney statistic: the chance that a positive scores above a
    negative, ties counted half (equal to scikit-learn's ``roc_auc_score``)."""
    positive = np.asarray(positive, bool)
    n_pos = int(positive.sum())
    n_neg = len(positive) - n_pos
    ranks = stats.rankdata(score)  # average ranks: ties count half
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def auroc(y_true: np.ndarray, proba: np.ndarray) -> float:
    """Macro one-vs-rest AUROC over the classes present in ``y_true``.

    A class absent from ``y_true`` has no defined AUROC (no positives) and is skipped; with a
    single class present the result is NaN.
    """
    y_true, proba = np.asarray(y_true), np.asarray(proba, dtype=np.float64)
    present = np.unique(y_true)
    if len(present) < 2:
        return float("nan")
    return float(np.mean([binary_auroc(y_true == c, proba[:, c]) for c in present]))


def classification_metrics(y_true: np.ndarray, proba: np.ndarray) -> dict[str, object]:
    """All classification metrics for one set of predictions."""
    proba = np.asarray(proba)
    n_classes = proba.shape[1]
    y_pred = proba.argmax(axis=1)
    return {
        "n": len(y_true),
        "accuracy": accuracy(y_true, y_pred),
        "balanced_accuracy": balanced_accuracy(y_true, y_pred),
        "macro_f1": macro_f1(y_true, y_pred),
        "auroc": auroc(y_true, proba),
        "confusion_matrix": confusion_matrix(y_true, y_pred, n_classes).tolist(),
    }
