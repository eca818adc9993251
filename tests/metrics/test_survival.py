"""Survival metrics: scikit-survival's numbers against a second (brute-force) implementation."""

import math

import numpy as np
import pytest

from omicsformer.metrics import survival as sm
from omicsformer.metrics.regression import regression_metrics


def harrell_brute_force(time, event, risk):
    """Harrell's definition: (i, j) is comparable when i had the event first (t_i < t_j), or at
    the same time as j was censored (t_i = t_j, j censored); ties in risk count 1/2."""
    concordant = comparable = 0.0
    for i in range(len(time)):
        if not event[i]:
            continue
        for j in range(len(time)):
            if time[i] < time[j] or (time[i] == time[j] and not event[j]):
                comparable += 1
                if risk[i] > risk[j]:
                    concordant += 1
                elif risk[i] == risk[j]:
                    concordant += 0.5
    return concordant / comparable


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_harrell_c_matches_brute_force(seed):
    rng = np.random.default_rng(seed)
    time = rng.integers(1, 30, size=60).astype(float)  # tied times
    event = rng.random(60) < 0.6
    risk = np.round(rng.normal(size=60), 1)  # tied risks
    assert sm.harrell_c(time, event, risk) == pytest.approx(harrell_brute_force(time, event, risk))


def test_perfect_and_reversed_risk():
    time = np.arange(1.0, 11.0)
    event = np.ones(10, dtype=bool)
    assert sm.harrell_c(time, event, -time) == 1.0
    assert sm.harrell_c(time, event, time) == 0.0
    assert math.isnan(sm.harrell_c(time, np.zeros(10, bool), time))


def test_breslow_baseline_by_hand():
    time = np.array([1.0, 2.0, 2.0, 3.0])
    event = np.array([True, True, False, True])
    risk = np.zeros(4)  # exp(0) = 1: the Nelson-Aalen estimate
    times, cumhaz = sm.breslow_baseline(time, event, risk)
    assert times.tolist() == [1.0, 2.0, 3.0]
    np.testing.assert_allclose(cumhaz, [1 / 4, 1 / 4 + 1 / 3, 1 / 4 + 1 / 3 + 1 / 1])
    surv = sm.survival_probabilities(times, cumhaz, np.array([0.0, 1.0]), [0.5, 1.0, 2.5])
    np.testing.assert_allclose(surv[0], np.exp(-np.array([0, 1 / 4, 1 / 4 + 1 / 3])))
    assert np.all(surv[1] <= surv[0])  # higher risk, lower survival


def test_ipcw_metrics_are_in_range_and_favour_the_true_risk():
    rng = np.random.default_rng(0)
    risk = rng.normal(size=300)
    event_time = rng.exponential(np.exp(-risk))
    censor = rng.exponential(2.0, size=300)
    time, event = np.minimum(event_time, censor), event_time <= censor
    train, test = slice(0, 200), slice(200, 300)
    uno = sm.uno_c(time[train], event[train], time[test], event[test], risk[test])
    noise = sm.uno_c(time[train], event[train], time[test], event[test], rng.normal(size=100))
    assert 0.6 < uno <= 1.0 and abs(noise - 0.5) < 0.15
    horizons = np.quantile(time[event], [0.25, 0.5, 0.75])
    aucs = sm.time_dependent_auc(
        time[train], event[train], time[test], event[test], risk[test], horizons
    )
    assert all(0.6 < a <= 1.0 for a in aucs.values())
    times, cumhaz = sm.breslow_baseline(time[train], event[train], risk[train])
    grid = np.quantile(time[event], np.linspace(0.1, 0.8, 8))
    good = sm.survival_probabilities(times, cumhaz, risk[test], grid)
    flat = sm.survival_probabilities(times, cumhaz, np.zeros(100), grid)
    ibs_good = sm.integrated_brier(time[train], event[train], time[test], event[test], good, grid)
    ibs_flat = sm.integrated_brier(time[train], event[train], time[test], event[test], flat, grid)
    assert 0 < ibs_good < ibs_flat < 0.5


def test_horizons_outside_follow_up_are_nan():
    time = np.array([1.0, 2.0, 3.0, 4.0])
    event = np.array([True, False, True, True])
    aucs = sm.time_dependent_auc(time, event, time, event, -time, np.array([100.0]))
    assert math.isnan(aucs[100.0])


def test_regression_metrics_by_hand():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    p = np.array([1.0, 2.0, 3.0, 5.0])
    m = regression_metrics(y, p)
    assert m["rmse"] == pytest.approx(0.5) and m["mae"] == pytest.approx(0.25)
    assert m["r2"] == pytest.approx(1 - 1 / 5)
    assert m["spearman"] == pytest.approx(1.0) and 0.9 < m["pearson"] < 1.0
