"""The value scale of a cohort: how its reader found the values, and the checks on it.

Readers record how their values are scaled in ``adata.uns[SCALE_KEY]`` (``"value_scale"``:
``linear`` for GDC counts and TPM, ``log2(x+1)`` ... for Xena, by the dataset; a matrix of no
known dataset is judged by its largest value, :func:`judged_scale`). :func:`check_scale` refuses
a log transform of values that are already logged, and suggests one for linear values. A run
saves the scale of its training data with its preprocessing; :func:`check_trained_scale` refuses
new data on a known other scale (a model trained on logged Xena values meeting linear GDC TPM).

The readers (:mod:`omicsformer.data.gdc`, :mod:`omicsformer.data.xena`, the built-in datasets)
import this module; it imports none of them.
"""

from __future__ import annotations

import anndata as ad
import numpy as np

from omicsformer.console import note
from omicsformer.data.transforms import LOG_TRANSFORMS
from omicsformer.errors import DataError

SCALE_KEY = "value_scale"  # adata.uns: how a reader found the values scaled (``linear``, ...)
LOG_MAX = 50.0  # no log2 expression value reaches 2^50; linear TPM and counts usually do


def judged_scale(values: np.ndarray) -> str:
    """The scale of values of no known dataset, judged by the largest finite one: ``log scale
    (largest value 7.17)`` under :data:`LOG_MAX`, else ``linear``."""
    finite = values[np.isfinite(values)]
    top = float(finite.max()) if finite.size else 0.0
    return f"log scale (largest value {top:.3g})" if top < LOG_MAX else "linear"


def value_scale(adata: ad.AnnData) -> str | None:
    """The value scale a reader recorded in ``adata.uns`` (None: not known, e.g. a plain table)."""
    scale = adata.uns.get(SCALE_KEY)
    return str(scale) if scale else None


def _is_named(scale: str) -> bool:
    """A scale known from the dataset (``log2(x+1)``), not judged by the values."""
    return scale == "linear" or not scale.startswith("log scale")


def scales_differ(trained: str | None, given: str | None) -> bool:
    """True when two value scales are known to differ: linear against logged, or two named log
    scales (``log2(x+1)`` against ``log2(x+0.001)``). A scale judged by the values
    (``log scale (largest value ...)``) only tells logged from linear; None tells nothing."""
    if not trained or not given or trained == given:
        return False
    if (trained == "linear") != (given == "linear"):
        return True
    return _is_named(trained) and _is_named(given)


def on_scale(scale: str | None) -> str:
    """``on a log2(x+1) scale``; a scale judged by the values already says "scale":
    ``on a log scale (largest value 7.17)``."""
    return f"on a {scale}" if "scale" in str(scale) else f"on a {scale} scale"


def check_trained_scale(adata: ad.AnnData, trained_scale: str | None) -> None:
    """Refuse new data whose values are known to be on another scale than the training data's.

    Parameters
    ----------
    adata
        The new data, its scale in ``uns`` as its reader recorded it.
    trained_scale
        The training data's scale, saved with the run's preprocessing (None: not known, as for
        runs saved before the scale was recorded).

    Raises
    ------
    DataError
        :func:`scales_differ` says the two scales differ.
    """
    scale = value_scale(adata)
    if scales_differ(trained_scale, scale):
        source = adata.uns.get("source", "the data")
        raise DataError(
            f"{source} holds values {on_scale(scale)}, but the run was trained on values "
            f"{on_scale(trained_scale)}; give the data on the scale the run was trained on"
        )


def check_scale(
    adata: ad.AnnData,
    transform: str,
    *,
    trained: bool = False,
    trained_scale: str | None = None,
) -> None:
    """Refuse a log transform of values that are already logged (Xena); note that linear values
    (GDC counts, TPM) are usually logged first.

    Parameters
    ----------
    adata
        The data, its scale in ``uns`` as its reader recorded it.
    transform
        The ``--transform`` that will be applied.
    trained
        The transform is a saved run's, applied to new data (the message says so).
    trained_scale
        With ``trained``: the training data's scale, saved with the run's preprocessing
        (``Preprocessor.value_scale``); a known other scale is refused
        (:func:`check_trained_scale`).

    Raises
    ------
    DataError
        The values would be logged twice, or (``trained``) are on another scale than the
        training data's.
    """
    if trained:
        check_trained_scale(adata, trained_scale)
    scale = value_scale(adata)
    if not scale:
        return
    source = adata.uns.get("source", "the data")
    if scale != "linear" and transform in LOG_TRANSFORMS:
        if trained:
            raise DataError(
                f"{source} holds values already {on_scale(scale)}, but the run applies "
                f"--transform {transform} (it was trained on linear values): that would log them "
                "twice; give the data on the scale the run was trained on"
            )
        raise DataError(
            f"{source} holds values already {on_scale(scale)}; --transform {transform} would "
            "log them twice: use --transform none"
        )
    if scale == "linear" and transform == "none" and not trained:
        note(
            f"{source}: values are linear (not logged); --transform log2p1 is the usual choice "
            "for expression models"
        )
