"""Seeded, stratified sample splits.

- :func:`train_val_test_split`: one train / val / test split (default 70 / 15 / 15). Each stratum
  (class, or event indicator for survival) is split on its own so that every class appears in
  every part, which matters for small medical cohorts with rare classes.
- :func:`kfold_splits`: stratified k-fold; in each fold a validation part (for early stopping)
  is carved from the training part, never from the test fold.

Splits are index arrays into the sample order; :func:`splits_to_json` stores them by sample ID.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.model_selection import StratifiedKFold

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
    strata: np.ndarray, *, val_fraction: float = 0.15, test_fraction: float = 0.15, seed: int = 0
) -> Split:
    """Stratified train / val / test indices.

    Within each stratum of size ``n`` the test part gets ``max(1, round(test_fraction * n))``
    samples and the validation part ``max(1, round(val_fraction * n))`` (none when the fraction
    is 0); the rest is training. A stratum therefore needs at least one sample per part.
    """
    strata = np.asarray(strata)
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
    strata: np.ndarray, *, folds: int = 5, val_fraction: float = 0.15, seed: int = 0
) -> list[Split]:
    """Stratified k-fold splits, each with a validation part carved from its training part.

    Every class must reach every test fold (``n >= folds``) and, when a validation part is
    carved, keep at least two samples in each fold's training part.
    """
    if folds < 2:
        raise ConfigError(f"cross-validation needs at least 2 folds, got {folds}")
    strata = np.asarray(strata)
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
