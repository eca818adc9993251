"""Bootstrap intervals: coverage on a known case, determinism, strata, undefined resamples."""

import math

import numpy as np
import pytest

from omicsformer.metrics.bootstrap import bootstrap, resamples
from omicsformer.metrics.classification import auroc


def mean_of(x):
    return lambda idx: {"mean": float(np.mean(x[idx]))}


def test_interval_of_a_mean_covers_the_true_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(0)
    covered, trials = 0, 120
    for t in range(trials):
        x = rng.normal(3.0, 2.0, 60)
        ci = bootstrap(mean_of(x), len(x), ["mean"], n_resamples=400, seed=t)["mean"]
        covered += ci.contains(3.0)
    # percentile intervals of a mean at n = 60 cover ~94 %; 120 trials: SE ~2 %
    assert 0.87 <= covered / trials <= 0.99


def test_interval_width_matches_the_standard_error_and_holds_the_estimate():
    x = np.random.default_rng(1).normal(0.0, 1.0, 400)
    ci = bootstrap(mean_of(x), len(x), ["mean"], seed=0)["mean"]
    assert ci.estimate == pytest.approx(x.mean())
    assert ci.low < ci.estimate < ci.high
    se = x.std() / math.sqrt(len(x))
    assert (ci.high - ci.low) == pytest.approx(2 * 1.96 * se, rel=0.15)
    assert ci.n_used == ci.n_resamples == 1000


def test_same_seed_same_interval_other_seed_other_interval():
    x = np.random.default_rng(2).exponential(1.0, 50)
    a = bootstrap(mean_of(x), 50, ["mean"], n_resamples=200, seed=5)
    b = bootstrap(mean_of(x), 50, ["mean"], n_resamples=200, seed=5)
    c = bootstrap(mean_of(x), 50, ["mean"], n_resamples=200, seed=6)
    assert a == b and a != c


def test_strata_keep_every_class_size_in_every_resample():
    strata = np.array([0] * 45 + [1] * 5)
    for idx in resamples(50, 100, seed=0, strata=strata):
        assert len(idx) == 50 and np.sum(strata[idx] == 1) == 5


def test_undefined_resamples_are_skipped_and_counted():
    # 2 positives in 30: unstratified resamples often miss them (AUROC undefined)
    y = np.array([1, 1] + [0] * 28)
    score = np.linspace(1, 0, 30)[:, None] * np.array([[-1.0, 1.0]])
    stat = lambda idx: {"auroc": auroc(y[idx], score[idx])}  # noqa: E731
    plain = bootstrap(stat, 30, ["auroc"], n_resamples=300, seed=0)["auroc"]
    assert 0 < plain.n_used < 300 and plain.estimate == 1.0 and plain.low <= 1.0
    stratified = bootstrap(stat, 30, ["auroc"], strata=y, n_resamples=300, seed=0)["auroc"]
    assert stratified.n_used == 300
    never = bootstrap(lambda idx: {"m": math.nan}, 10, ["m"], n_resamples=20)["m"]
    assert never.n_used == 0 and math.isnan(never.low) and math.isnan(never.estimate)
