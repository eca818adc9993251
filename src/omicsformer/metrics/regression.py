"""Regression metrics (pure functions of observed ``y`` and predicted ``p``, both (N,))."""

from __future__ import annotations

import math

import numpy as np
from scipy import stats


def rmse(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(y) - np.asarray(p)) ** 2)))


def mae(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(y) - np.asarray(p))))


def r2(y: np.ndarray, p: np.ndarray) -> float:
    """1 - SS_res / SS_tot (can be negative; NaN when y is constant)."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    total = np.sum((y - y.mean()) ** 2)
    return float(1 - np.sum((y - p) ** 2) / total) if total > 0 else math.nan


def _correlation(fn, y: np.ndarray, p: np.ndarray) -> float:
    if len(y) < 3 or np.std(y) == 0 or np.std(p) == 0:
        return math.nan
    return float(fn(y, p)[0])


def pearson(y: np.ndarray, p: np.ndarray) -> float:
    return _correlation(stats.pearsonr, y, p)


def spearman(y: np.ndarray, p: np.ndarray) -> float:
    return _correlation(stats.spearmanr, y, p)


def regression_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    return {
        "n": len(y),
        "rmse": rmse(y, p),
        "mae": mae(y, p),
        "r2": r2(y, p),
        "pearson": pearson(y, p),
        "spearman": spearman(y, p),
    }
