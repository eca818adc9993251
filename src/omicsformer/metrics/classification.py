"""Classification metrics (pure functions).

Notation: ``y_true`` holds integer class codes ``0..C-1`` (shape ``(N,)``), ``proba`` the predicted
class probabilities (shape ``(N, C)``); the predicted class is ``argmax(proba)``.
"""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm


def accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean recall over the classes present in ``y_true`` (robust to class imbalance)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    recalls = [np.mean(y_pred[y_true == c] == c) for c in np.unique(y_true)]
    return float(np.mean(recalls))


def macro_f1(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Unweighted mean F1 over the classes present in ``y_true`` or ``y_pred``."""
    return float(skm.f1_score(y_true, y_pred, average="macro", zero_division=0.0))


def auroc(y_true: np.ndarray, proba: np.ndarray) -> float:
    """Macro one-vs-rest AUROC over the classes present in ``y_true``.

    A class absent from ``y_true`` has no defined AUROC (no positives) and is skipped; with a
    single class present the result is NaN.
    """
    y_true, proba = np.asarray(y_true), np.asarray(proba, dtype=np.float64)
    present = np.unique(y_true)
    if len(present) < 2:
        return float("nan")
    scores = [skm.roc_auc_score(y_true == c, proba[:, c]) for c in present]
    return float(np.mean(scores))


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """``(C, C)`` counts; rows are true classes, columns predicted classes."""
    return skm.confusion_matrix(y_true, y_pred, labels=np.arange(n_classes))


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
