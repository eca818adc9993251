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


def _correlation(y: np.ndarray, p: np.ndarray) -> float:
    """Pearson's r with numpy (as scipy.stats.pearsonr, checked in the tests; scipy's checks
    take milliseconds a call, too slow for the report's bootstrap); NaN when undefined."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    if len(y) < 3 or np.std(y) == 0 or np.std(p) == 0:
        return math.nan
    dy, dp = y - y.mean(), p - p.mean()
    return float(np.clip(np.dot(dy, dp) / math.sqrt(np.dot(dy, dy) * np.dot(dp, dp)), -1, 1))


def pearson(y: np.ndarray, p: np.ndarray) -> float:
    return _correlation(y, p)


def spearman(y: np.ndarray, p: np.ndarray) -> float:
    """Pearson's r of the ranks (ties get their average rank), as scipy.stats.spearmanr."""
    return _correlation(stats.rankdata(y), stats.rankdata(p))


def regression_metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    return {
        "n": len(y),
        "rmse": rmse(y, p),
        "mae": mae(y, p),
        "r2": r2(y, p),
        "pearson": pearson(y, p),
        "spearman": spearman(y, p),
    }
