import numpy as np
import pytest

from omicsformer.data.splits import kfold_splits, splits_to_json, train_val_test_split
from omicsformer.errors import DataError


def labels(counts: dict[int, int]) -> np.ndarray:
    return np.concatenate([np.full(n, c) for c, n in counts.items()])


def test_split_is_a_stratified_partition_with_every_class_everywhere():
    y = labels({0: 74, 1: 37, 2: 10, 3: 5})
    split = train_val_test_split(y, seed=0)
    together = np.concatenate(list(split.values()))
    assert sorted(together) == list(range(len(y)))
    for part in split.values():
        assert set(y[part]) == {0, 1, 2, 3}
    assert abs(len(split["test"]) - 0.15 * len(y)) <= 4


def test_same_seed_same_split_other_seed_other_split():
    y = labels({0: 40, 1: 40})
    a, b = train_val_test_split(y, seed=1), train_val_test_split(y, seed=1)
    c = train_val_test_split(y, seed=2)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["test"], c["test"])


def test_class_too_small_and_single_class_are_errors():
    with pytest.raises(DataError, match=r"class too small .*'2' \(2\).* at least 3"):
        train_val_test_split(labels({0: 20, 1: 20, 2: 2}))
    with pytest.raises(DataError, match="at least 2 are needed"):
        train_val_test_split(labels({0: 20}))
    with pytest.raises(DataError, match="5-fold"):
        kfold_splits(labels({0: 20, 1: 4}), folds=5)


def test_kfold_tests_cover_every_sample_once_and_val_comes_from_training():
    y = labels({0: 30, 1: 12, 2: 5})
    folds = kfold_splits(y, folds=5, seed=0)
    tests = np.concatenate([f["test"] for f in folds])
    assert sorted(tests) == list(range(len(y)))
    for fold in folds:
        assert not set(fold["val"]) & set(fold["test"])
        assert not set(fold["train"]) & set(fold["val"])
        assert len(fold["train"]) + len(fold["val"]) + len(fold["test"]) == len(y)
        assert set(y[fold["test"]]) == {0, 1, 2}


def test_splits_json_uses_sample_ids():
    ids = np.array(["a", "b", "c", "d"])
    record = splits_to_json({"train": np.array([0, 2]), "test": np.array([1, 3])}, ids, seed=4)
    assert record == {"seed": 4, "train": ["a", "c"], "test": ["b", "d"]}


def grouped_cohort(n_groups: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Patients with 1-4 samples each; a patient's samples share a class."""
    rng = np.random.default_rng(seed)
    sizes = rng.integers(1, 5, size=n_groups)
    groups = np.repeat([f"P{i:02d}" for i in range(n_groups)], sizes)
    y = np.repeat(rng.integers(0, 2, size=n_groups), sizes)
    return y, groups


def sides(split: dict, groups: np.ndarray) -> list[set]:
    return [set(groups[idx]) for idx in split.values()]


def test_grouped_folds_never_put_a_group_on_two_sides():
    y, groups = grouped_cohort()
    folds = kfold_splits(y, folds=5, seed=0, groups=groups)
    tested = np.concatenate([f["test"] for f in folds])
    assert sorted(tested) == list(range(len(y)))  # every sample tested exactly once
    for fold in folds:
        train, val, test = sides(fold, groups)
        assert not (train & val) and not (train & test) and not (val & test)
        assert len(fold["val"]) > 0 and set(y[fold["train"]]) == {0, 1}
    other = kfold_splits(y, folds=5, seed=1, groups=groups)  # repeats get other folds
    assert not all(np.array_equal(a["test"], b["test"]) for a, b in zip(folds, other, strict=True))


def test_grouped_single_split_holds_out_whole_groups():
    y, groups = grouped_cohort(40)
    split = train_val_test_split(y, seed=0, groups=groups)
    train, val, test = sides(split, groups)
    assert not (train & val) and not (train & test) and not (val & test)
    assert sorted(np.concatenate(list(split.values()))) == list(range(len(y)))
    assert 0.05 * len(y) < len(split["test"]) < 0.3 * len(y)


def test_too_few_groups_is_an_error():
    y, groups = grouped_cohort(4)
    with pytest.raises(DataError, match="4 groups cannot be dealt into 5 parts"):
        kfold_splits(y, folds=5, groups=groups)


def test_as_many_folds_as_groups_is_leave_one_group_out_with_a_whole_group_for_validation():
    sizes = {"A": 80, "B": 60, "C": 260, "D": 500}
    groups = np.repeat(list(sizes), list(sizes.values()))
    y = np.random.default_rng(0).integers(0, 2, size=len(groups))
    for seed in range(3):
        folds = kfold_splits(y, folds=4, seed=seed, groups=groups)
        assert sorted(sorted(set(groups[f["test"]])) for f in folds) == [["A"], ["B"], ["C"], ["D"]]
        for fold in folds:
            train, val, test = sides(fold, groups)
            assert len(val) == 1 and not (train & val) and not (train & test)
            rest = {g: sizes[g] for g in sizes if g not in test}  # val: nearest 15 % of the rest
            share = 0.15 * sum(rest.values())
            assert val == {min(rest, key=lambda g: abs(rest[g] - share))}
    split = train_val_test_split(y, seed=0, groups=groups)  # 4 groups: one each for test, val
    assert [len(s) for s in sides(split, groups)] == [2, 1, 1]
