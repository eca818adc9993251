"""Read a cohort into AnnData: :func:`load_data` is the one entry, and the plain reader
(CSV/TSV/Parquet/h5ad matrices and labels tables) is here too.

:func:`load_data` reads in one straight line:

1. **the one reader** the source needs (:func:`read_source`): a built-in dataset by name
   (:mod:`omicsformer.data.datasets`), a GDC download folder (:mod:`omicsformer.data.gdc`, found
   by its sample sheet), a UCSC Xena matrix (:mod:`omicsformer.data.xena`, by its header,
   whatever ``--layout`` says), or a plain matrix (:func:`read_expression`);
2. **samples** of the ``--sample-types`` kept (:mod:`omicsformer.data.tcga`);
3. **gene IDs** normalised and mapped, repeated genes combined (:mod:`omicsformer.data.gene_ids`);
4. **the labels table** joined (:func:`join_labels_file`): a clinical table of a known style
   (GDC, TCGA-CDR, cBioPortal, Xena) by patient or sample barcode with overall survival derived
   (:mod:`omicsformer.data.clinical`), any other by sample ID (:func:`read_table`,
   :func:`join_labels`).

The checks every reader makes of its input are in :mod:`omicsformer.data.inputs`, the value
scale readers record in :mod:`omicsformer.data.scale`; the readers import those, never this
module.

Plain files: CSV and TSV (``.csv``, ``.tsv``, ``.txt``, each optionally ``.gz``), Parquet
(``.parquet``, ``.pq``) and AnnData (``.h5ad``). Tables come either way round:

- ``samples-by-genes`` (default): one row per sample, first column the sample ID, one column
  per gene.
- ``genes-by-samples`` (GEO and TCGA style): one row per gene, first column the gene ID.

Whatever the source, the result is an :class:`anndata.AnnData` with samples as ``obs`` (their
clinical columns in ``obs``), genes as ``var`` and float32 expression in ``X``. Every problem with
the input raises a :class:`~omicsformer.errors.DataError` whose message names the file.

Repeated sample IDs are an error. Repeated gene IDs are not (a symbol-named matrix such as the
Xena TCGA hub's ``HiSeqV2`` repeats a few symbols): :func:`load_data` hands them to the gene-ID
step, which aggregates them by ``--duplicate-genes`` and says how many
(:mod:`omicsformer.data.gene_ids`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from omicsformer.console import note
from omicsformer.data import clinical, gdc, tcga, xena
from omicsformer.data.datasets import DATASETS, load_builtin
from omicsformer.data.gene_ids import apply_gene_ids
from omicsformer.data.inputs import (
    DAMAGED,
    check_file,
    check_unique,
    file_kind,
    listed,
    numeric_values,
    repeated_genes_allowed,
)
from omicsformer.errors import DataError
from omicsformer.fileio import first_line, refuse_nul_bytes


def load_data(
    source: str,
    *,
    labels: str | None = None,
    layout: str = "samples-by-genes",
    sample_id: str | None = None,
    layer: str | None = None,
    obs_columns: Iterable[str] = (),
    gene_id: str | None = "keep",
    duplicate_genes: str = "mean",
    gdc_column: str | None = None,
    sample_types: Sequence[str] | str | None = None,
) -> ad.AnnData:
    """Load a built-in dataset by name or a user's file, with an optional labels table.

    ``source`` is looked up first as a file; otherwise as a built-in dataset name, optionally
    with parameters (``synthetic:n_samples=300,n_genes=2000``). The genes are then normalised
    and mapped to ``gene_id`` (``keep``: normalise Ensembl versions only; None: exactly as
    read), repeated genes combined by ``duplicate_genes`` (see :mod:`omicsformer.data.gene_ids`;
    with ``gene_id`` None they are an error).
    TCGA-style inputs: a GDC download folder (``gdc_column`` its value column), a UCSC Xena
    matrix, clinical tables joined by barcode; ``sample_types`` the barcode sample-type codes to
    keep (``01``, ``11``, ...).
    """
    if not source:
        raise DataError("no data given; pass --data with a file or a built-in dataset name")
    obs_columns = list(obs_columns)
    with repeated_genes_allowed():  # until apply_gene_ids aggregates them
        adata = read_source(
            source, layout=layout, layer=layer, obs_columns=obs_columns, gdc_column=gdc_column
        )
        if gene_id is None and not adata.var_names.is_unique:
            repeated = adata.var_names[adata.var_names.duplicated()].unique()
            raise DataError(
                f"{source}: duplicate gene IDs ({len(repeated)} in all): "
                f"{', '.join(map(str, repeated[:5]))}; they are aggregated by --duplicate-genes "
                "only when gene IDs are normalised (--gene-id)"
            )
        if sample_types:
            adata = tcga.filter_sample_types(adata, sample_types)
        if gene_id is not None:
            adata = apply_gene_ids(adata, gene_id, duplicate_genes)
    if labels is not None:
        adata = join_labels_file(adata, labels, sample_id=sample_id, wanted=obs_columns)
    return adata


def read_source(
    source: str,
    *,
    layout: str = "samples-by-genes",
    layer: str | None = None,
    obs_columns: Iterable[str] = (),
    gdc_column: str | None = None,
) -> ad.AnnData:
    """The one reader ``source`` needs: a built-in dataset (a name that is not a file), a GDC
    download folder, a UCSC Xena matrix, else a plain matrix (:func:`read_expression`). Gene
    IDs are as read, possibly repeated."""
    path = Path(source)
    if not path.exists() and source.split(":", 1)[0] in DATASETS:
        return load_builtin(source)
    if not (path.exists() or path.suffix or "/" in source):
        raise DataError(
            f"{source!r} is neither a file nor a built-in dataset; built-in datasets: "
            f"{', '.join(DATASETS.names())}"
        )
    if path.is_dir():
        if not gdc.is_gdc_folder(path):
            raise DataError(
                f"{path}: is a folder without a GDC sample sheet (gdc_sample_sheet*.tsv); a "
                "folder is read as a GDC download, any other input is one file"
            )
        return gdc.read_gdc_folder(path, column=gdc_column)
    if path.exists():
        if gdc_column is not None:
            raise DataError("--gdc-column applies to a GDC download folder only")
        if xena.is_xena_matrix(path):
            return xena.read_xena(path)
    return read_expression(path, layout=layout, layer=layer, obs_columns=obs_columns)


def join_labels_file(
    adata: ad.AnnData,
    labels: str | Path,
    *,
    sample_id: str | None = None,
    wanted: Iterable[str] = (),
) -> ad.AnnData:
    """Join the labels table ``labels`` onto ``adata``: a clinical table of a known style by
    patient or sample barcode, with ``os_time`` and ``os_event`` (:mod:`omicsformer.data.clinical`;
    ``wanted``: the columns the run uses, whose disagreements are refused), any other table by
    sample ID (:func:`join_labels`)."""
    style = clinical.detect_style(labels, sample_id=sample_id)
    if style is None:
        return join_labels(adata, read_table(labels, sample_id=sample_id), labels)
    table = clinical.read_clinical(labels, style)
    return clinical.join_clinical(adata, table, wanted=list(wanted))


LAYOUTS = ("samples-by-genes", "genes-by-samples")


def _read_frame(path: Path, kind: str) -> pd.DataFrame:
    """Read a text or Parquet table with its first column (the IDs) as a string index."""
    try:
        if kind == "parquet":
            frame = pd.read_parquet(path)
            if isinstance(frame.index, pd.RangeIndex) and frame.shape[1] > 0:
                frame = frame.set_index(frame.columns[0])
        else:
            sep = "," if kind == "csv" else "\t"
            refuse_nul_bytes(path)
            frame = pd.read_csv(path, sep=sep, index_col=0, dtype={0: str}, low_memory=False)
            # pandas renames repeated header names (g1, g1.1); read the raw header to catch them
            header = pd.read_csv(
                path, sep=sep, header=None, nrows=1, dtype=str, keep_default_na=False
            ).iloc[0, 1:]
            if len(header) != frame.shape[1]:
                raise DataError(
                    f"{path}: the header has {len(header) + 1} cells but the rows have "
                    f"{frame.shape[1] + 1} (a header cell missing, or a delimiter other than "
                    f"the {'comma' if sep == ',' else 'tab'} a {kind.upper()} file has)"
                )
            unnamed = [j + 2 for j, c in enumerate(header) if not str(c).strip()]
            if unnamed:
                cells = "cell is" if len(unnamed) == 1 else "cells are"
                raise DataError(
                    f"{path}: {len(unnamed)} header {cells} empty (column "
                    f"{', '.join(map(str, unnamed[:5]))}); every column needs a name"
                )
            frame.columns = [str(c) for c in header]
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: file has no data") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError, *DAMAGED) as exc:
        raise DataError(f"{path}: cannot be read as {kind.upper()}: {first_line(exc)}") from None
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise DataError(f"{path}: table has no data rows or no value columns")
    missing = pd.isna(frame.index) | (frame.index.map(lambda v: str(v).strip()) == "")
    if missing.any():
        rows = np.flatnonzero(missing)
        raise DataError(
            f"{path}: {_count(len(rows), 'row')} no ID in the first column (empty or NA; data "
            f"row {', '.join(str(r + 1) for r in rows[:5])})"
        )
    frame.index = frame.index.map(_id_text)
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _count(n: int, thing: str) -> str:
    """``1 row has`` / ``2 rows have``: a count with its noun and verb agreeing."""
    return f"{n} {thing} has" if n == 1 else f"{n} {thing}s have"


def _id_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def read_expression(
    path: str | Path,
    *,
    layout: str = "samples-by-genes",
    layer: str | None = None,
    obs_columns: Iterable[str] = (),
) -> ad.AnnData:
    """Read an expression matrix into AnnData.

    Parameters
    ----------
    path
        A .csv/.tsv/.txt (optionally .gz), .parquet or .h5ad file.
    layout
        ``samples-by-genes`` or ``genes-by-samples`` (tables only; .h5ad is always samples x genes).
    layer
        For .h5ad: read this layer instead of ``X``.
    obs_columns
        For samples-by-genes tables: columns that hold clinical values rather than genes (for
        example the target); when present they are moved to ``obs`` instead of being read as genes.

    Returns
    -------
    AnnData with float32 ``X`` (samples x genes), string sample and gene IDs; gene IDs may
    repeat (:func:`load_data` aggregates them), sample IDs may not.
    """
    path = Path(path)
    check_file(path)
    kind = file_kind(path)
    if layout not in LAYOUTS:
        raise DataError(f"unknown layout {layout!r}; choose from: {', '.join(LAYOUTS)}")
    if kind == "h5ad":
        return _read_h5ad(path, layer)
    if layer is not None:
        raise DataError(f"{path}: --layer applies to .h5ad files only")
    frame = _read_frame(path, kind)
    obs = pd.DataFrame(index=frame.index)
    if layout == "samples-by-genes":
        moved = [c for c in dict.fromkeys(obs_columns) if c in frame.columns]
        if moved:
            obs = frame[moved].copy()
            frame = frame.drop(columns=moved)
            if frame.shape[1] == 0:
                raise DataError(f"{path}: no gene columns left after taking {', '.join(moved)}")
        check_unique(frame.index, "sample", path)
        values = numeric_values(frame, path, "sample", "gene")
        samples, genes = frame.index, frame.columns
    else:
        check_unique(pd.Index(frame.columns), "sample", path)
        values = numeric_values(frame, path, "gene", "sample").T
        samples, genes = pd.Index(frame.columns), frame.index
        obs = pd.DataFrame(index=samples)
    obs.index = pd.Index(samples, dtype=str, name=None)
    var = pd.DataFrame(index=pd.Index(genes, dtype=str, name=None))
    with repeated_genes_allowed():
        return ad.AnnData(X=np.ascontiguousarray(values), obs=obs, var=var)


def _read_h5ad(path: Path, layer: str | None) -> ad.AnnData:
    try:
        adata = ad.read_h5ad(path)
    except Exception as exc:  # h5py raises several unrelated types for broken files
        raise DataError(f"{path}: cannot be read as .h5ad: {first_line(exc)}") from None
    if adata.n_obs == 0 or adata.n_vars == 0:
        raise DataError(f"{path}: AnnData has no samples or no genes")
    if layer is not None:
        if layer not in adata.layers:
            layers = ", ".join(adata.layers.keys()) or "(none)"
            raise DataError(f"{path}: no layer {layer!r}; available layers: {layers}")
        matrix = adata.layers[layer]
    else:
        matrix = adata.X
    if matrix is None:
        raise DataError(f"{path}: AnnData has no X matrix; choose a layer with --layer")
    if hasattr(matrix, "toarray"):
        matrix = matrix.toarray()
    obs = adata.obs.copy()
    obs.index = obs.index.astype(str)
    var = pd.DataFrame(index=adata.var_names.astype(str))
    check_unique(obs.index, "sample", path)
    kind = np.asarray(matrix[:0] if hasattr(matrix, "dtype") else matrix).dtype.kind
    if kind not in "fiu":  # complex would lose its imaginary part, booleans are no levels
        what = {"c": "complex numbers", "b": "true/false values"}.get(kind, "not numbers")
        where = f"layer {layer!r}" if layer is not None else "X"
        raise DataError(f"{path}: the expression values ({where}) are {what}")
    try:
        values = np.asarray(matrix, dtype=np.float32)
    except (TypeError, ValueError):
        raise DataError(f"{path}: expression values are not numeric") from None
    with repeated_genes_allowed():
        return ad.AnnData(X=values, obs=obs, var=var)


def read_table(path: str | Path, *, sample_id: str | None = None) -> pd.DataFrame:
    """Read a clinical / labels table indexed by sample ID (first column, or ``sample_id``)."""
    path = Path(path)
    check_file(path)
    kind = file_kind(path)
    if kind == "h5ad":
        raise DataError(f"{path}: a labels table must be .csv, .tsv or .parquet")
    try:
        if kind == "parquet":
            table = pd.read_parquet(path)
            if not isinstance(table.index, pd.RangeIndex):
                table = table.reset_index()
        else:
            sep = "," if kind == "csv" else "\t"
            refuse_nul_bytes(path)
            header = pd.read_csv(path, sep=sep, nrows=0).columns
            id_column = sample_id if sample_id in header else header[0]
            table = pd.read_csv(path, sep=sep, dtype={id_column: str}, low_memory=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: file has no data") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, ValueError, *DAMAGED) as exc:
        raise DataError(f"{path}: cannot be read as {kind.upper()}: {first_line(exc)}") from None
    if table.shape[0] == 0:
        raise DataError(f"{path}: labels table has no rows")
    column = sample_id if sample_id is not None else table.columns[0]
    if column not in table.columns:
        raise DataError(f"{path}: no sample-ID column {column!r}; columns: {listed(table.columns)}")
    table = table.set_index(column)
    table.index = table.index.map(_id_text)
    table.index.name = None
    table.columns = [str(c) for c in table.columns]
    return _merge_repeated_rows(table, path)


def _merge_repeated_rows(table: pd.DataFrame, path: Path) -> pd.DataFrame:
    """Rows of one sample that are equal in every column are merged (counted, one note); rows
    of one sample that disagree are an error naming the samples and the columns."""
    if table.index.is_unique:
        return table
    rows = table.reset_index(names="__id__")
    same = rows.duplicated()  # the same sample and the same values as an earlier row
    rows = rows[~same].set_index("__id__")
    rows.index.name = None
    if not rows.index.is_unique:
        repeated = rows[rows.index.duplicated(keep=False)]
        varies = repeated.groupby(level=0, sort=False).nunique(dropna=False) > 1
        first = varies.index[0]
        columns = list(varies.columns[varies.loc[first].to_numpy()])
        said = ", ".join(
            f"{c!r} ({' vs '.join(map(repr, repeated.loc[first, c].tolist()[:3]))})"
            for c in columns[:3]
        )
        others = ", ".join(map(str, varies.index[1:4])) + (", ..." if len(varies) > 4 else "")
        n = len(varies)
        raise DataError(
            f"{path}: {n} sample{'s' * (n > 1)} {'have' if n > 1 else 'has'} rows that disagree: "
            f"{first} on {said}{f' (also {others})' if n > 1 else ''}; keep one row per sample"
        )
    n = int(same.sum())
    note(
        f"{path.name}: {n} row{'s' * (n > 1)} repeat{'s' * (n == 1)} an earlier row of the same "
        f"sample exactly; merged ({len(rows)} samples)"
    )
    return rows


def join_labels(adata: ad.AnnData, table: pd.DataFrame, labels_path: str | Path) -> ad.AnnData:
    """Left-join a clinical table onto ``adata.obs`` by sample ID.

    Samples without a row in the table keep missing values (and are dropped later if the target
    is missing). No overlap at all is an error: it almost always means a layout or ID problem.
    """
    matched = adata.obs_names.isin(table.index)
    n_matched, n_total = int(matched.sum()), adata.n_obs
    if n_matched == 0:
        raise DataError(
            f"{labels_path}: none of the {n_total} matrix sample IDs match the {len(table)} IDs in "
            f"the labels table (matrix e.g. {listed(adata.obs_names[:3])}; labels e.g. "
            f"{listed(table.index[:3])}); check --layout and --sample-id"
        )
    if n_matched < n_total:
        note(f"labels found for {n_matched} of {n_total} samples (matched by sample ID)")
    clashes = [c for c in table.columns if c in adata.obs.columns]
    obs = adata.obs.drop(columns=clashes).join(table, how="left")
    out = adata.copy()
    out.obs = obs
    return out
