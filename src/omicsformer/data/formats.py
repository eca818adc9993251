"""TCGA-style inputs: which reader a source needs, and the value scale it arrives on.

:func:`omicsformer.data.readers.load_data` asks this module first:

- a folder is a GDC download (:mod:`omicsformer.data.gdc`, found by its sample sheet);
- a table whose header reads like a UCSC Xena matrix is read as one
  (:mod:`omicsformer.data.xena`), whatever ``--layout`` says;
- a labels table in a known clinical style (GDC, TCGA-CDR, cBioPortal, Xena) is joined by
  patient or sample barcode with overall survival derived (:mod:`omicsformer.data.clinical`).

Readers record how their values are scaled in ``adata.uns[SCALE_KEY]`` (``"value_scale"``:
``linear`` for GDC counts and TPM, ``log2(x+1)`` ... for Xena); :func:`check_scale` refuses a log
transform of values that are already logged, and suggests one for linear values.
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


def check_scale(adata: ad.AnnData, transform: str, *, trained: bool = False) -> None:
    """Refuse a log transform of values that are already logged (Xena); note that linear values
    (GDC counts, TPM) are usually logged first.

    ``trained``: the transform is a saved run's, applied to new data (the message says so).
    """
    scale = adata.uns.get(SCALE_KEY)
    if not scale:
        return
    source = adata.uns.get("source", "the data")
    if scale != "linear" and transform in LOG_TRANSFORMS:
        if trained:
            raise DataError(
                f"{source} holds values already on a {scale} scale, but the run applies "
                f"--transform {transform} (it was trained on linear values): that would log them "
                "twice; give the data on the scale the run was trained on"
            )
        raise DataError(
            f"{source} holds values already on a {scale} scale; --transform {transform} would "
            "log them twice: use --transform none"
        )
    if scale == "linear" and transform == "none" and not trained:
        note(
            f"{source}: values are linear (not logged); --transform log2p1 is the usual choice "
            "for expression models"
        )
