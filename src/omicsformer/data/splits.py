"""Seeded, stratified sample splits.

- :func:`train_val_test_split`: one train / val / test split (default 70 / 15 / 15). Each stratum
  (class, or event indicator for survival) is split on its own so that every class appears in
  every part, which matters for small medical cohorts with rare classes.
- :func:`kfold_splits`: stratified k-fold; in each fold a validation part (for early stopping)
  is carved from the training part, never from the test fold.
- Both take ``groups`` (``--group-by``, or the TCGA patient that
  :func:`omicsformer.pipeline.prepare_data` picks when a patient has several samples): samples
  sharing a group (a patient's several samples, a centre, a batch) then stay on one side of
  every split, with scikit-learn's ``StratifiedGroupKFold`` keeping the class proportions as
  close as whole groups allow. With as many folds as groups every test fold is one group
  (leave-one-group-out); a held-out part asking for more groups than there are is one whole
  group, the one nearest its fraction in size.

Splits are index arrays into the sample order; :func:`splits_to_json` stores them by sample ID.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from omicsformer.errors import ConfigError, DataError

Split = dict[str, np.ndarray]  # "train" / "val" / "test" -> sample indices


def _check_strata(strata: np.ndarray, needed: int, what: str) -> None:
    values, counts = np.unique(strata, return_counts=True)
    if len(values) < 2:
        raise DataError(f"only one class ('{values[0]}') in the target; at least 2 are needed")
    small = [(v, c) for v, c in zip(values, counts, strict=True) if c < needed]
    if small:
        shown = ", ".join(f"'{v}' ({c})" for v, c in small)
        raise DataError(
            f"class too small for {what}: {shown}; each class needs at least {needed} samples "
            "(drop or merge rare classes, or change the split)"
        )


def train_val_test_split(
    strata: np.ndarray,
    *,
    val_fraction: float = 0.15,
    test_fraction: float = 0.15,
    seed: int = 0,
    groups: np.ndarray | None = None,
) -> Split:
    """Stratified train / val / test indices.

    Within each stratum of size ``n`` the test part gets ``max(1, round(test_fraction * n))``
    samples and the validation part ``max(1, round(val_fraction * n))`` (none when the fraction
    is 0); the rest is training. A stratum therefore needs at least one sample per part.
    With ``groups`` whole groups are held out instead (:func:`_grouped_holdout`).
    """
    strata = np.asarray(strata)
    if groups is not None:
        everyone = np.arange(len(strata))
        rest, test = _grouped_holdout(strata, np.asarray(groups), everyone, test_fraction, seed)
        train, val = rest, rest[:0]
        if val_fraction > 0:
            share = val_fraction / (1 - test_fraction)
            train, val = _grouped_holdout(strata, np.asarray(groups), rest, share, seed + 1)
        return _checked_groups(strata, {"train": train, "val": val, "test": test})
    needed = 1 + (test_fraction > 0) + (val_fraction > 0)
    _check_strata(strata, needed, "a stratified train/val/test split")
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {"train": [], "val": [], "test": []}
    for value in np.unique(strata):
        members = rng.permutation(np.flatnonzero(strata == value))
        n = len(members)
        n_test = max(1, round(test_fraction * n)) if test_fraction > 0 else 0
        n_val = max(1, round(val_fraction * n)) if val_fraction > 0 else 0
        n_val = min(n_val, n - n_test - 1)
        parts["test"].append(members[:n_test])
        parts["val"].append(members[n_test : n_test + n_val])
        parts["train"].append(members[n_test + n_val :])
    return {name: np.sort(np.concatenate(chunks)) for name, chunks in parts.items()}


def kfold_splits(
    strata: np.ndarray,
    *,
    folds: int = 5,
    val_fraction: float = 0.15,
    seed: int = 0,
    groups: np.ndarray | None = None,
) -> list[Split]:
    """Stratified k-fold splits, each with a validation part carved from its training part.

    Every class must reach every test fold (``n >= folds``) and, when a validation part is
    carved, keep at least two samples in each fold's training part. With ``groups`` the folds
    (and the validation parts) are made of whole groups.
    """
    if folds < 2:
        raise ConfigError(f"cross-validation needs at least 2 folds, got {folds}")
    strata = np.asarray(strata)
    if groups is not None:
        return _grouped_kfold(strata, np.asarray(groups), folds, val_fraction, seed)
    needed = folds
    while val_fraction > 0 and needed - -(-needed // folds) < 2:  # training part = n - ceil(n/k)
        needed += 1
    _check_strata(strata, needed, f"{folds}-fold cross-validation")
    kfold = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    result = []
    for i, (train_part, test) in enumerate(kfold.split(np.zeros(len(strata)), strata)):
        train, val = train_part, train_part[:0]
        if val_fraction > 0:
            inner = train_val_test_split(
                strata[train_part], val_fraction=0.0, test_fraction=val_fraction, seed=seed + i + 1
            )
            train, val = train_part[inner["train"]], train_part[inner["test"]]
        result.append({"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)})
    return result


def _grouped_kfold(
    strata: np.ndarray, groups: np.ndarray, folds: int, val_fraction: float, seed: int
) -> list[Split]:
    _check_groups(strata, groups, folds)
    kfold = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    result = []
    for i, (train_part, test) in enumerate(kfold.split(np.zeros(len(strata)), strata, groups)):
        train, val = train_part, train_part[:0]
        if val_fraction > 0:
            train, val = _grouped_holdout(strata, groups, train_part, val_fraction, seed + i + 1)
        result.append(_checked_groups(strata, {"train": train, "val": val, "test": test}))
    return result


def _grouped_holdout(
    strata: np.ndarray, groups: np.ndarray, members: np.ndarray, fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Split ``members`` into (kept, held out), about ``fraction`` held out, by whole groups:
    the first fold of a stratified group k-fold with k = round(1 / fraction). With fewer groups
    than k (but at least 2), the one group whose size is nearest ``fraction`` of the members is
    held out (ties broken by ``seed``): so a leave-one-study-out fold of a few studies (4 folds
    of 4 studies) still gets a validation part, one whole other study."""
    n_splits = max(2, round(1 / fraction))
    names, sizes = np.unique(groups[members], return_counts=True)
    if 2 <= len(names) < n_splits:
        _check_groups(strata[members], groups[members], 2)
        order = np.random.default_rng(seed).permutation(len(names))
        nearest = names[order[np.argmin(np.abs(sizes[order] - fraction * len(members)))]]
        held = groups[members] == nearest
        return np.sort(members[~held]), np.sort(members[held])
    _check_groups(strata[members], groups[members], n_splits)
    kfold = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    kept, held = next(kfold.split(np.zeros(len(members)), strata[members], groups[members]))
    return np.sort(members[kept]), np.sort(members[held])


def _check_groups(strata: np.ndarray, groups: np.ndarray, parts: int) -> None:
    n_groups = len(np.unique(groups))
    if n_groups < parts:
        raise DataError(
            f"--group-by: {n_groups} groups cannot be dealt into {parts} parts of whole groups "
            "(use fewer folds, larger held-out fractions, or a finer grouping)"
        )
    if len(np.unique(strata)) < 2:
        raise DataError(f"only one class ('{strata[0]}') in the target; at least 2 are needed")


def _checked_groups(strata: np.ndarray, split: Split) -> Split:
    """Refuse a grouped split whose training part lacks a class (nothing to learn it from)."""
    absent = sorted(set(strata.tolist()) - set(strata[split["train"]].tolist()))
    if absent:
        raise DataError(
            f"--group-by: with whole groups held out, class {', '.join(map(repr, absent))} has no "
            "training sample in some split (its samples come from too few groups)"
        )
    return split


def splits_to_json(splits: Split | list[Split], sample_ids: np.ndarray, **meta: Any) -> dict:
    """A JSON-ready record of one split or a list of folds, by sample ID."""
    ids = np.asarray(sample_ids).astype(str)

    def one(split: Split) -> dict[str, list[str]]:
        return {name: ids[idx].tolist() for name, idx in split.items()}

    body: dict[str, Any] = dict(meta)
    if isinstance(splits, list):
        body["folds"] = [one(s) for s in splits]
    else:
        body.update(one(splits))
    return body
