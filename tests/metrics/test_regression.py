"""Regression metrics: the numpy correlations equal scipy's."""

import math

import numpy as np
import pytest
from scipy import stats

from omicsformer.metrics.regression import pearson, r2, regression_metrics, spearman


def test_correlations_equal_scipys_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(30):
        n = int(rng.integers(3, 50))
        y, p = rng.normal(size=n).round(1), rng.normal(size=n).round(1)  # rounded: ties
        if np.std(y) == 0 or np.std(p) == 0:
            continue
        assert pearson(y, p) == pytest.approx(stats.pearsonr(y, p)[0], abs=1e-12)
        assert spearman(y, p) == pytest.approx(stats.spearmanr(y, p)[0], abs=1e-12)


def test_undefined_cases_are_nan():
    assert math.isnan(pearson(np.ones(5), np.arange(5.0)))
    assert math.isnan(spearman(np.arange(2.0), np.arange(2.0)))
    assert math.isnan(r2(np.ones(4), np.arange(4.0)))
    assert regression_metrics(np.arange(5.0), np.arange(5.0) * 2)["pearson"] == pytest.approx(1.0)
