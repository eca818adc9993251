"""The shared cross-validation loop: the same seeded folds for every model, preprocessing fitted
on each fold's training part only."""

import numpy as np
import pytest

from omicsformer import crossval
from omicsformer.config import DataConfig, RunConfig
from omicsformer.crossval import (
    MAX_SEED,
    check_folds,
    cross_validate,
    cv_folds,
    repeated_splits,
    split_seeds,
)
from omicsformer.errors import ConfigError
from omicsformer.pipeline import make_folds, prepare_data

DATA = "synthetic:n_samples=60,n_genes=20,n_modules=1,module_size=5"


@pytest.fixture(scope="module")
def cohort():
    config = RunConfig(data=DataConfig(source=DATA), seed=7)
    return config, prepare_data(config)


def test_each_repetition_has_its_own_split_seed_and_partitions_the_samples(cohort):
    config, data = cohort
    assert split_seeds(config, 3) == [7, 8, 9]
    repetitions = repeated_splits(config, data, folds=3, repeats=2)
    assert len(repetitions) == 2 and all(len(r) == 3 for r in repetitions)
    for r, splits in enumerate(repetitions):
        tests = np.sort(np.concatenate([s["test"] for s in splits]))
        assert np.array_equal(tests, np.arange(len(data.y)))  # every sample tested once
        for split in splits:
            assert not set(split["test"]) & (set(split["train"]) | set(split["val"]))
        # the same folds as a plain k-fold split with that repetition's seed
        for mine, plain in zip(splits, make_folds(config, data, 3, seed=7 + r), strict=True):
            assert all(np.array_equal(mine[p], plain[p]) for p in ("train", "val", "test"))
    assert not np.array_equal(repetitions[0][0]["test"], repetitions[1][0]["test"])


def test_every_caller_meets_the_same_folds_in_order(cohort):
    config, data = cohort
    repetitions = repeated_splits(config, data, folds=2, repeats=2)
    seen = []

    def per_fold(fold):
        seen.append((fold.repeat, fold.index, tuple(fold.split["test"])))
        return [{**fold.sizes, "model": m} for m in ("a", "b")]

    table = cross_validate(cv_folds(config, data, repetitions), per_fold)
    again = []
    cross_validate(
        cv_folds(config, data, repeated_splits(config, data, 2, 2)),
        lambda fold: again.append((fold.repeat, fold.index, tuple(fold.split["test"]))) or [],
    )
    assert seen == again
    assert [(r, f) for r, f, _ in seen] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    assert list(table.columns) == ["repeat", "fold", "n_train", "n_test", "model"]
    assert len(table) == 8
    assert (table["n_train"] + table["n_test"] == len(data.y)).all()


def test_preprocessing_is_fitted_on_the_training_part_only(cohort, monkeypatch):
    config, data = cohort
    fitted_on = []
    real = crossval.preprocess_split

    def spy(config, data, split, genes=None):
        fitted_on.append(split["train"])
        return real(config, data, split, genes)

    monkeypatch.setattr(crossval, "preprocess_split", spy)
    folds = cv_folds(config, data, repeated_splits(config, data, folds=3))

    def per_fold(fold):
        arrays = fold.arrays
        assert arrays is fold.arrays  # made once per fold
        assert np.array_equal(fitted_on[-1], fold.split["train"])
        # z-scored with the training part's statistics: mean 0 there, not on the test fold
        assert np.allclose(arrays.x("train").mean(0), 0, atol=1e-4)
        subset = fold.split["train"][::2]
        fold.preprocess(train=subset)
        assert np.array_equal(fitted_on[-1], subset)
        with pytest.raises(ValueError, match="training part"):
            fold.preprocess(train=fold.split["test"])
        return [{"fold": fold.index}]

    cross_validate(folds, per_fold)
    assert len(fitted_on) == 3 * 2
    assert all(f._arrays is None for f in folds)  # dropped after each fold's call
    cross_validate(folds, lambda fold: [{"n": fold.arrays.x_all.shape[0]}], keep_arrays=True)
    assert all(f._arrays is not None for f in folds)  # kept for a caller that comes back


def test_fold_names_say_the_repetition_only_when_repeated(cohort):
    config, data = cohort
    once = cv_folds(config, data, repeated_splits(config, data, folds=2))
    twice = cv_folds(config, data, repeated_splits(config, data, folds=2, repeats=2))
    assert [f.name for f in once] == ["fold 1/2", "fold 2/2"]
    assert twice[3].name == "repeat 2/2 fold 2/2"


@pytest.mark.parametrize(
    ("folds", "repeats", "seed", "message"),
    [
        (1, 1, 0, "--folds must be at least 2"),
        (2, 0, 0, "--repeats must be at least 1"),
        (2, 2, MAX_SEED, "exceed"),
    ],
)
def test_fold_counts_are_checked_before_any_data_is_read(folds, repeats, seed, message):
    with pytest.raises(ConfigError, match=message):
        check_folds(RunConfig(seed=seed), folds, repeats)
