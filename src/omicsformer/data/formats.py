"""TCGA-style inputs: which reader a source needs, and the value scale it arrives on.

:func:`omicsformer.data.readers.load_data` asks this module first:

- a folder is a GDC download (:mod:`omicsformer.data.gdc`, found by its sample sheet);
- a table whose header reads like a UCSC Xena matrix is read as one
  (:mod:`omicsformer.data.xena`), whatever ``--layout`` says;
- a labels table in a known clinical style (GDC, TCGA-CDR, cBioPortal, Xena) is joined by
  patient or sample barcode with overall survival derived (:mod:`omicsformer.data.clinical`).

Readers record how their values are scaled in ``adata.uns[SCALE_KEY]`` (``"value_scale"``:
``linear`` for GDC counts and TPM, ``log2(x+1)`` ... for Xena); :func:`check_scale` refuses a log
transform of values that are already logged, and suggests one for linear values. A run saves the
scale of its training data with its preprocessing; :func:`check_trained_scale` refuses new data
on a known other scale (a model trained on logged Xena values meeting linear GDC TPM).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import anndata as ad

from omicsformer.console import note
from omicsformer.errors import DataError

SCALE_KEY = "value_scale"  # adata.uns: how a reader found the values scaled (``linear``, ...)
LOG_TRANSFORMS = ("log1p", "log2p1")


def read_special(path: Path, *, gdc_column: str | None = None) -> ad.AnnData | None:
    """A GDC folder or a Xena matrix read into AnnData; None for any other source."""
    from omicsformer.data import gdc, xena

    if path.is_dir():
        if not gdc.is_gdc_folder(path):
            raise DataError(
                f"{path}: is a folder without a GDC sample sheet (gdc_sample_sheet*.tsv); a "
                "folder is read as a GDC download, any other input is one file"
            )
        return gdc.read_gdc_folder(path, column=gdc_column)
    if gdc_column is not None:
        raise DataError("--gdc-column applies to a GDC download folder only")
    if xena.is_xena_matrix(path):
        return xena.read_xena(path)
    return None


def join_labels_any(
    adata: ad.AnnData,
    labels: str | Path,
    *,
    sample_id: str | None = None,
    wanted: Iterable[str] = (),
) -> ad.AnnData | None:
    """Join a clinical table of a known style (by patient or sample barcode, with ``os_time``
    and ``os_event``); None for a plain labels table (joined by sample ID as before)."""
    from omicsformer.data import clinical

    style = clinical.detect_style(labels, sample_id=sample_id)
    if style is None:
        return None
    table = clinical.read_clinical(labels, style)
    return clinical.join_clinical(adata, table, wanted=list(wanted))


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
