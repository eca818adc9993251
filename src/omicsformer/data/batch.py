"""Batch-effect correction with ComBat, fitted on training patients only.

ComBat (Johnson, Li & Rabinovic 2007, Biostatistics 8:118) models each gene's value in batch
``b`` as ``x = alpha + gamma_b + sqrt(delta_b) * e``: an additive and a multiplicative batch
effect, both shrunk towards their across-gene means by empirical Bayes, which keeps the estimates
stable for batches of a few patients. The estimation is done by the maintained ``combatlearn``
package (classic "johnson" ComBat, no covariates: the label is unknown for new patients, so it
cannot be protected without leaking it); the fitted parameters are stored here and applied by
the same formula ``combatlearn`` uses, so that a saved model corrects new data without the
package's objects being pickled:

    x_std = (x - grand_mean) / sqrt(pooled_var)
    x_adj = (x_std - gamma_b) / sqrt(delta_b) * sqrt(pooled_var) + grand_mean

Notation: N samples, G genes (those corrected), B batches.

Genes that are constant within some training batch have no within-batch variance to estimate a
scale from; they are left as they are (and counted). A new patient must belong to a batch seen in
training: ComBat has no estimate for any other.

Batch names are compared as text written by one function, :func:`batch_labels`, at fitting and at
applying: pandas reads a batch column as numbers or as text depending on the file (a column of
whole numbers with a gap becomes floats), and batch ``1`` must stay batch ``1``, never ``1.0``.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from omicsformer.console import note
from omicsformer.errors import DataError, optional_import

MIN_PER_BATCH = 2  # ComBat estimates a variance per batch
WHOLE_NUMBER = re.compile(r"^([+-]?\d+)\.0*$")  # "1.0", as str() writes a whole float


def batch_label(value: object) -> str | None:
    """One batch name as text: whole numbers without a fraction (``1.0``, ``"1.0"`` -> ``"1"``),
    text stripped; None for a missing value (NaN, None, empty text)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    text = str(value).strip()
    whole = WHOLE_NUMBER.match(text)
    if whole:
        return str(int(whole.group(1)))
    return text or None


def batch_labels(values: Iterable[object] | np.ndarray | pd.Series) -> np.ndarray:
    """Batch names as the same text whatever type pandas read them as.

    Parameters
    ----------
    values
        One batch name per sample (N,): numbers, text or both, as read from a column.

    Returns
    -------
    (N,) object array of str, None where a value is missing. Whole numbers lose their fraction
    (``1``, ``1.0`` and ``"1.0"`` are all ``"1"``), so a column read as floats at training (it
    had a gap) and as integers at prediction names the same batches; text is stripped.
    """
    items = values.tolist() if isinstance(values, pd.Series | np.ndarray) else list(values)
    return np.array([batch_label(v) for v in items], dtype=object)


@dataclass
class BatchCorrection:
    """Fitted ComBat parameters.

    Attributes
    ----------
    key
        The obs / labels column that names each sample's batch.
    levels
        Batch names, in the order of the rows of ``gamma`` and ``delta``.
    genes
        (G,) int64 positions of the corrected genes in the matrix it was fitted on.
    grand_mean, pooled_var
        (G,) per-gene mean and pooled within-batch variance of the training samples.
    gamma, delta
        (B, G) empirical-Bayes additive and multiplicative batch effects.
    """

    key: str
    levels: list[str]
    genes: np.ndarray
    grand_mean: np.ndarray
    pooled_var: np.ndarray
    gamma: np.ndarray
    delta: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray, batch: np.ndarray, key: str) -> BatchCorrection:
        """Fit ComBat on training rows ``x`` (N, G_all) with their batch names ``batch`` (N,)."""
        combat = _combatlearn()
        batch = _batch_names(batch, key)
        levels, counts = np.unique(batch, return_counts=True)
        if len(levels) < 2:
            raise DataError(
                f"--batch-key {key}: the training patients all come from one batch "
                f"({levels[0]!r}); there is no batch effect to estimate"
            )
        small = [f"{v!r} ({c})" for v, c in zip(levels, counts, strict=True) if c < MIN_PER_BATCH]
        if small:
            raise DataError(
                f"--batch-key {key}: ComBat needs at least {MIN_PER_BATCH} training patients per "
                f"batch; too few in {', '.join(small)} (merge small batches)"
            )
        varies = np.ones(x.shape[1], dtype=bool)
        for level in levels:
            rows = x[batch == level]
            varies &= np.ptp(rows, axis=0) > 0
        genes = np.flatnonzero(varies)
        if len(genes) < 2:
            raise DataError(
                f"--batch-key {key}: fewer than 2 genes vary within every training batch; "
                "ComBat cannot be fitted"
            )
        skipped = x.shape[1] - len(genes)
        if skipped:
            note(
                f"ComBat: {skipped} of {x.shape[1]} genes are constant within some training "
                "batch and are left uncorrected"
            )
        frame = pd.DataFrame(x[:, genes].astype(np.float64))
        model = combat.ComBatModel(method="johnson")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # its notes on shrinkage diagnostics
            model.fit(frame, batch=pd.Series(batch, index=frame.index))
        fitted_levels = [str(v) for v in model._batch_levels]  # the package's fitted state
        note(
            f"ComBat fitted on {len(x)} training patients in {len(levels)} batches of "
            f"'{key}' ({', '.join(f'{v}: {c}' for v, c in zip(levels, counts, strict=True))})"
        )
        return cls(
            key=key,
            levels=fitted_levels,
            genes=genes.astype(np.int64),
            grand_mean=np.asarray(model._grand_mean, dtype=np.float64),
            pooled_var=np.asarray(model._pooled_var, dtype=np.float64),
            gamma=np.asarray(model._gamma_star, dtype=np.float64),
            delta=np.asarray(model._delta_star, dtype=np.float64),
        )

    def apply(
        self, x: np.ndarray, batch: np.ndarray, columns: np.ndarray | None = None
    ) -> np.ndarray:
        """Correct ``x`` (N, G_all) whose samples belong to the batches ``batch`` (N,).

        ``columns``: the positions, in the matrix the correction was fitted on, of the columns
        ``x`` holds (a model's selected genes); None: all of them. Each gene is corrected by
        its own parameters, so a subset of columns gets exactly the values it gets in the whole.
        """
        batch = _batch_names(batch, self.key)
        unseen = sorted(set(batch) - set(self.levels))
        if unseen:
            raise DataError(
                f"--batch-key {self.key}: batch {', '.join(map(repr, unseen[:5]))} was not among "
                f"the training batches ({', '.join(self.levels)}); ComBat can only correct "
                "batches it was fitted on"
            )
        out = np.array(x, dtype=np.float32, copy=True)
        fitted = np.arange(len(self.genes))  # which corrected genes x holds
        where = self.genes  # and at which of its columns
        if columns is not None:
            position = {int(c): i for i, c in enumerate(columns)}
            fitted = np.asarray(
                [j for j, g in enumerate(self.genes) if int(g) in position], dtype=np.int64
            )
            where = np.asarray([position[int(self.genes[j])] for j in fitted], dtype=np.int64)
        mean, sd = self.grand_mean[fitted], np.sqrt(self.pooled_var[fitted])  # (G,)
        cols = x[:, where].astype(np.float64)  # (N, G)
        standardized = (cols - mean) / sd
        adjusted = np.empty_like(standardized)
        for i, level in enumerate(self.levels):
            rows = batch == level
            gamma, delta = self.gamma[i][fitted], self.delta[i][fitted]
            adjusted[rows] = (standardized[rows] - gamma) / np.sqrt(delta)
        out[:, where] = (adjusted * sd + mean).astype(np.float32)
        return out

    # ----------------------------------------------------------------------------- save / load
    def tensors(self) -> dict[str, np.ndarray]:
        """The fitted arrays by their names in ``preprocess.safetensors`` (``combat_*``); the key
        and the levels are saved as metadata by the preprocessor.

        Returns
        -------
        ``combat_genes`` (G,) int64, ``combat_grand_mean`` and ``combat_pooled_var`` (G,),
        ``combat_gamma`` and ``combat_delta`` (B, G).
        """
        return {
            "combat_genes": self.genes,
            "combat_grand_mean": self.grand_mean,
            "combat_pooled_var": self.pooled_var,
            "combat_gamma": self.gamma,
            "combat_delta": self.delta,
        }

    @classmethod
    def from_saved(
        cls, key: str, levels: list[str], tensors: dict[str, np.ndarray]
    ) -> BatchCorrection:
        """Rebuild a correction from what :meth:`tensors` and the preprocessor saved.

        Parameters
        ----------
        key
            The batch column (``--batch-key``).
        levels
            The batch names in the order of the rows of ``gamma`` and ``delta``; written by
            :func:`batch_labels` again, so that a run saved when batch ``1`` was written ``1.0``
            still meets its batches.
        tensors
            The arrays of :meth:`tensors` (other entries are ignored).

        Returns
        -------
        The fitted correction.
        """
        return cls(
            key=key,
            levels=[str(v) for v in batch_labels(levels)],
            genes=tensors["combat_genes"],
            grand_mean=tensors["combat_grand_mean"],
            pooled_var=tensors["combat_pooled_var"],
            gamma=tensors["combat_gamma"],
            delta=tensors["combat_delta"],
        )


def _batch_names(batch: np.ndarray, key: str) -> np.ndarray:
    names = batch_labels(np.asarray(batch, dtype=object))
    missing = sum(1 for name in names if name is None)
    if missing:
        raise DataError(
            f"--batch-key {key}: {missing} samples have no batch; every sample needs one"
        )
    return names


def _combatlearn():
    return optional_import(
        "combatlearn.core", "combatlearn", extra="batch", feature="--batch-key (ComBat)"
    )
