import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from omicsformer.metrics.comparison import (
    corrected_resampled_ttest,
    paired_differences,
    reference_model,
)

# 3 folds x 2 repeats; 80 training and 20 test samples per fold
D = np.array([0.1, 0.2, 0.0, 0.3, 0.1, 0.2])


def test_corrected_resampled_ttest_by_hand():
    result = corrected_resampled_ttest(D, n_train=80, n_test=20)
    # mean 0.9 / 6 = 0.15; squared deviations sum to 0.055, var (ddof=1) = 0.055 / 5 = 0.011
    # t = 0.15 / sqrt((1/6 + 20/80) * 0.011) = 0.15 / sqrt(0.0045833...) = 2.21565
    assert result.n_pairs == 6
    assert result.mean_diff == pytest.approx(0.15)
    assert result.sd_diff == pytest.approx(math.sqrt(0.011))
    assert result.t == pytest.approx(0.15 / math.sqrt((1 / 6 + 0.25) * 0.011))
    assert result.t == pytest.approx(2.215647, abs=1e-6)
    assert result.p_value == pytest.approx(2 * stats.t.sf(2.215647, df=5), rel=1e-5)
    assert result.p_value == pytest.approx(0.07755, abs=1e-5)
    # the sign of the difference only flips t
    flipped = corrected_resampled_ttest(-D, n_train=80, n_test=20)
    assert flipped.t == pytest.approx(-result.t) and flipped.p_value == pytest.approx(
        result.p_value
    )


def test_the_correction_widens_the_plain_paired_t_test():
    plain = stats.ttest_1samp(D, 0.0)
    uncorrected = corrected_resampled_ttest(D, n_train=80, n_test=0)
    assert uncorrected.t == pytest.approx(plain.statistic)
    assert uncorrected.p_value == pytest.approx(plain.pvalue)
    assert corrected_resampled_ttest(D, 80, 20).p_value > plain.pvalue


def test_per_fold_sizes_enter_through_their_means():
    n_train = np.array([79, 81, 80, 78, 82, 80])
    n_test = np.array([21, 19, 20, 22, 18, 20])
    assert corrected_resampled_ttest(D, n_train, n_test).t == pytest.approx(
        corrected_resampled_ttest(D, 80, 20).t
    )


def test_identical_models_give_no_difference_and_p_one():
    result = corrected_resampled_ttest(np.zeros(10), n_train=90, n_test=10)
    assert (result.mean_diff, result.sd_diff, result.t, result.p_value) == (0.0, 0.0, 0.0, 1.0)
    same = np.array([0.7, 0.8, 0.9])
    assert corrected_resampled_ttest(same - same, 90, 10).p_value == 1.0


def test_a_constant_positive_difference_gives_a_tiny_p():
    exact = corrected_resampled_ttest(np.full(10, 0.05), n_train=90, n_test=10)
    assert exact.t == math.inf and exact.p_value == 0.0 and exact.mean_diff == pytest.approx(0.05)
    noisy = np.full(10, 0.05) + np.random.default_rng(0).normal(0, 1e-4, 10)
    assert corrected_resampled_ttest(noisy, n_train=90, n_test=10).p_value < 1e-10
    assert corrected_resampled_ttest(-np.full(10, 0.05), 90, 10).t == -math.inf


def test_undefined_differences_are_left_out_and_too_few_pairs_give_nan():
    with_nan = corrected_resampled_ttest(np.append(D, np.nan), n_train=80, n_test=20)
    assert with_nan == corrected_resampled_ttest(D, n_train=80, n_test=20)
    one = corrected_resampled_ttest(np.array([0.2, np.nan]), n_train=80, n_test=20)
    assert one.n_pairs == 1 and one.mean_diff == pytest.approx(0.2)
    assert math.isnan(one.sd_diff) and math.isnan(one.t) and math.isnan(one.p_value)
    assert corrected_resampled_ttest(np.array([]), 80, 20).n_pairs == 0
    with pytest.raises(ValueError, match="training sizes must be positive"):
        corrected_resampled_ttest(D, n_train=0, n_test=20)


def _fold_results(scores: dict[str, list[float]], metric: str = "acc") -> pd.DataFrame:
    rows = []
    for model, values in scores.items():
        for i, value in enumerate(values):
            rows.append({"model": model, "repeat": i // 2, "fold": i % 2, "n_train": 30})
            rows[-1].update({"n_test": 10, metric: value, "fit_seconds": 1.0})
            rows[-1].update(predict_seconds=0.1, peak_memory_mb=10.0, n_parameters=5)
    return pd.DataFrame(rows)


def test_the_reference_is_the_best_baseline_or_else_the_best_model():
    results = _fold_results(
        {"rf": [0.6, 0.7, 0.6, 0.7], "logreg": [0.8, 0.8, 0.7, 0.9], "mlp": [0.9] * 4}
    )
    assert reference_model(results, "acc", ["rf", "logreg"]) == "logreg"
    assert reference_model(results, "acc", []) == "mlp"  # no baseline compared
    assert reference_model(results, "acc", ["rf", "logreg"], frozenset({"acc"})) == "rf"


def test_paired_differences_pair_on_repeat_and_fold():
    results = _fold_results({"ref": [0.5, 0.6, 0.7, 0.8], "new": [0.6, 0.6, 0.9, 0.9]})
    results = results.sample(frac=1.0, random_state=0)  # pairing must not rely on row order
    table = paired_differences(results, "acc", "ref").set_index("model")
    new = table.loc["new"]
    assert new["n_pairs"] == 4 and new["reference"] == "ref" and new["metric"] == "acc"
    assert new["mean_diff"] == pytest.approx(0.1)  # differences 0.1, 0, 0.2, 0.1
    variance = (0.0 + 0.01 + 0.01 + 0.0) / 3
    assert new["sd_diff"] == pytest.approx(math.sqrt(variance))
    assert new["t"] == pytest.approx(0.1 / math.sqrt((1 / 4 + 10 / 30) * variance))
    assert (table.loc["ref", "mean_diff"], table.loc["ref", "p_value"]) == (0.0, 1.0)
