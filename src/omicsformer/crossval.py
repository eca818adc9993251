"""One cross-validation loop, shared by ``compare``, ``bench augmentation`` and the searches.

The folds are stratified (and grouped, like every split) k folds, each with a validation part
(early stopping) carved from its training part; repeated cross-validation makes them again with
split seeds ``seed, seed + 1, ...`` while the models keep ``config.seed``
(:func:`repeated_splits`). :func:`cross_validate` calls one function per :class:`Fold`, in order,
and collects the records it returns: whatever a study runs on a fold (every model, variant,
training fraction or trial) it runs inside that call, so every model meets the same folds.

Preprocessing is fitted on the fold's training part only: :attr:`Fold.arrays` (made on first
use, dropped after the fold's call), or :meth:`Fold.preprocess` for a subset of that part or a
fixed gene list (a pretrained network's genes). The test fold is never seen by a fit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from omicsformer.cohort import PreparedData, SplitArrays
from omicsformer.config import RunConfig
from omicsformer.data.splits import Split
from omicsformer.errors import ConfigError
from omicsformer.pipeline import make_folds, preprocess_split

MAX_SEED = 2**32 - 1  # scikit-learn's k-fold takes 32-bit seeds


def check_folds(config: RunConfig, folds: int, repeats: int = 1) -> None:
    """Refuse fold and repetition counts that cannot work, before any data is read."""
    if folds < 2:
        raise ConfigError(f"--folds must be at least 2, got {folds}")
    if repeats < 1:
        raise ConfigError(f"--repeats must be at least 1, got {repeats}")
    if config.seed + repeats - 1 > MAX_SEED:
        raise ConfigError(
            f"split seeds {config.seed}..{config.seed + repeats - 1} exceed {MAX_SEED}; "
            "lower --seed or --repeats"
        )


def split_seeds(config: RunConfig, repeats: int = 1) -> list[int]:
    """The split seed of each repetition: ``config.seed + r``."""
    return [config.seed + r for r in range(repeats)]


def repeated_splits(
    config: RunConfig, data: PreparedData, folds: int, repeats: int = 1
) -> list[list[Split]]:
    """``folds`` seeded, stratified folds per repetition, split seed ``config.seed + r``."""
    return [make_folds(config, data, folds, seed=s) for s in split_seeds(config, repeats)]


@dataclass
class Fold:
    """One test fold of a (repeated) k-fold cross-validation, and its preprocessing."""

    config: RunConfig
    data: PreparedData
    split: Split
    index: int  # within its repetition, from 0
    n_folds: int
    repeat: int = 0
    n_repeats: int = 1
    genes: list[str] | None = None  # fixed model genes instead of --top-genes
    _arrays: SplitArrays | None = field(default=None, init=False, repr=False)

    @property
    def name(self) -> str:
        """``fold 2/5``, or ``repeat 1/3 fold 2/5`` when repeated, for notes."""
        where = f"repeat {self.repeat + 1}/{self.n_repeats} " if self.n_repeats > 1 else ""
        return f"{where}fold {self.index + 1}/{self.n_folds}"

    @property
    def sizes(self) -> dict[str, int]:
        """Repetition, fold, and the sizes the corrected resampled t-test needs."""
        train = len(self.split["train"]) + len(self.split.get("val", []))  # all but the test fold
        return {"repeat": self.repeat, "fold": self.index, "n_train": train, "n_test": self.n_test}

    @property
    def n_test(self) -> int:
        return len(self.split["test"])

    @property
    def arrays(self) -> SplitArrays:
        """Every sample preprocessed by a preprocessor fitted on this fold's training part."""
        if self._arrays is None:
            self._arrays = self.preprocess(genes=self.genes)
        return self._arrays

    def preprocess(
        self, *, train: np.ndarray | None = None, genes: list[str] | None = None
    ) -> SplitArrays:
        """Preprocessing fitted on ``train`` (a subset of the fold's training part; all of it by
        default), keeping ``genes`` if given; the validation part and test fold stay the fold's."""
        split = self.split
        if train is not None:
            if not np.isin(train, split["train"]).all():
                raise ValueError("preprocessing may only be fitted on the fold's training part")
            split = {**split, "train": train}
        return preprocess_split(self.config, self.data, split, genes)

    def release(self) -> None:
        """Drop the preprocessed arrays (the next use of :attr:`arrays` makes them again)."""
        self._arrays = None


def cv_folds(
    config: RunConfig,
    data: PreparedData,
    repetitions: list[list[Split]],
    *,
    genes: list[str] | None = None,
) -> list[Fold]:
    """The folds of every repetition, in order (repetition, then fold)."""
    return [
        Fold(config, data, split, i, len(splits), r, len(repetitions), genes)
        for r, splits in enumerate(repetitions)
        for i, split in enumerate(splits)
    ]


def cross_validate(
    folds: Iterable[Fold],
    per_fold: Callable[[Fold], Iterable[dict[str, Any]]],
    *,
    keep_arrays: bool = False,
) -> pd.DataFrame:
    """Call ``per_fold`` on every fold in order; its records, one row each, in one table.

    A fold's preprocessed arrays are dropped after its call, unless ``keep_arrays`` (for a
    caller that visits the same folds again, e.g. once per trial of a search).
    """
    rows: list[dict[str, Any]] = []
    for fold in folds:
        rows.extend(per_fold(fold))
        if not keep_arrays:
            fold.release()
    return pd.DataFrame(rows)
