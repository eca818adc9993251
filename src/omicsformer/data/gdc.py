"""A downloaded GDC folder (STAR gene counts + sample sheet) read into one AnnData.

The GDC (https://portal.gdc.cancer.gov) serves RNA-seq as one file per aliquot,
``<uuid>.rna_seq.augmented_star_gene_counts.tsv``::

    # gene-model: GENCODE v36
    gene_id  gene_name  gene_type  unstranded  stranded_first  stranded_second
        tpm_unstranded  fpkm_unstranded  fpkm_uq_unstranded     (one header line, tab-separated)
    N_unmapped      ...  (four N_* rows: read counts only)
    ENSG00000000003.15  TSPAN6  protein_coding  3113  1557  1556  31.1  8.9  9.7
    ...

and a *sample sheet* (``gdc_sample_sheet.<date>.tsv``, from the portal's cart) that names each
file's sample: ``File ID, File Name, Data Category, Data Type, Project ID, Case ID, Sample ID,
Sample Type`` (newer sheets add ``Tumor Descriptor`` and ``Specimen Type``). The gdc-client and
``omicsformer fetch tcga`` put each file in ``<File ID>/<File Name>``; a flat folder of the files
works too.

What :func:`read_gdc_folder` does:

- reads one value column of every file (``--gdc-column``: ``tpm_unstranded`` by default,
  ``unstranded`` counts, ``fpkm_unstranded``, ``fpkm_uq_unstranded``, ``stranded_first``,
  ``stranded_second``), drops the ``N_*`` rows, keeps genes as versioned Ensembl IDs
  (``var["gene_name"]``, ``var["gene_type"]`` beside them);
- names each sample by the sheet's ``Sample ID`` (``TCGA-06-2559-01A``) and keeps ``patient``
  (``Case ID``), ``sample_type`` and ``sample_type_code`` (01 tumour, 11 normal, ...) in ``obs``;
- several files of one sample (replicate aliquots) are **averaged** value by value, and counted;
- files named by the sheet but absent are an error that says how many and which; sheet rows of
  other data types (a mixed cart) are ignored, and counted.

The values are linear (counts or TPM), recorded as ``uns["value_scale"]`` (see
:mod:`omicsformer.data.scale`); a log transform (``--transform log2p1``) is usual.
"""

from __future__ import annotations

import multiprocessing
import os
import re
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from omicsformer.console import note
from omicsformer.data import tcga
from omicsformer.data.scale import SCALE_KEY
from omicsformer.errors import DataError
from omicsformer.fileio import first_line, read_header, refuse_nul_bytes

STAR_SUFFIX = ".rna_seq.augmented_star_gene_counts.tsv"
VALUE_COLUMNS = (
    "unstranded",
    "stranded_first",
    "stranded_second",
    "tpm_unstranded",
    "fpkm_unstranded",
    "fpkm_uq_unstranded",
)
ID_COLUMNS = ("gene_id", "gene_name", "gene_type")  # the others hold values
DEFAULT_COLUMN = "tpm_unstranded"
SHEET_COLUMNS = ("File ID", "File Name", "Sample ID")
SHEET_PATTERN = re.compile(r"^gdc_sample_sheet.*\.(tsv|txt|csv)$", re.IGNORECASE)


def find_sample_sheet(folder: str | Path) -> Path | None:
    """The GDC sample sheet of ``folder``: ``gdc_sample_sheet*.tsv`` at its top, else any
    top-level ``.tsv`` whose header has ``File ID``, ``File Name`` and ``Sample ID``.

    Several candidates are an error (which sheet is meant?); none returns None.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return None
    named = sorted(p for p in folder.iterdir() if p.is_file() and SHEET_PATTERN.match(p.name))
    if not named:
        named = sorted(
            p for p in folder.glob("*.tsv") if p.is_file() and _looks_like_sheet(p, "\t")
        )
    if len(named) > 1:
        names = ", ".join(p.name for p in named)
        raise DataError(f"{folder}: several GDC sample sheets ({names}); keep one")
    return named[0] if named else None


def _looks_like_sheet(path: Path, sep: str) -> bool:
    try:
        header = [c.strip() for c in read_header(path, sep).cells]
    except DataError:
        return False
    return all(c in header for c in SHEET_COLUMNS)


def is_gdc_folder(path: str | Path) -> bool:
    """True for a folder holding a GDC sample sheet."""
    return Path(path).is_dir() and find_sample_sheet(path) is not None


def read_sample_sheet(path: str | Path) -> pd.DataFrame:
    """The sample sheet as strings, its columns checked; one row per file."""
    path = Path(path)
    sep = "," if path.suffix.lower() == ".csv" else "\t"
    refuse_nul_bytes(path, "a sample sheet")
    try:
        sheet = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: sample sheet is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        raise DataError(
            f"{path}: cannot be read as a GDC sample sheet: {first_line(exc)}"
        ) from None
    sheet.columns = [str(c).strip() for c in sheet.columns]
    missing = [c for c in SHEET_COLUMNS if c not in sheet.columns]
    if missing:
        raise DataError(
            f"{path}: not a GDC sample sheet: no column {', '.join(map(repr, missing))}; "
            f"columns: {', '.join(sheet.columns)}"
        )
    if sheet.empty:
        raise DataError(f"{path}: sample sheet has no rows")
    sheet = sheet.apply(lambda column: column.str.strip())
    duplicated = sheet["File ID"][sheet["File ID"].duplicated()]
    if len(duplicated):
        raise DataError(f"{path}: file {duplicated.iloc[0]} appears twice in the sample sheet")
    return sheet


def _expression_rows(sheet: pd.DataFrame, path: Path) -> pd.DataFrame:
    """The sheet's STAR gene-count files (other data types are ignored and counted)."""
    is_star = sheet["File Name"].str.endswith(STAR_SUFFIX)
    if not is_star.any():
        kinds = sorted(set(sheet.get("Data Type", sheet["File Name"])))[:5]
        raise DataError(
            f"{path}: the sample sheet names no STAR gene-count file (*{STAR_SUFFIX}); "
            f"it has: {', '.join(kinds)}"
        )
    if not is_star.all():
        other = sheet.loc[~is_star, "Data Type"] if "Data Type" in sheet else sheet["File Name"]
        kinds = ", ".join(f"{k} ({n})" for k, n in other.value_counts().items())
        note(
            f"ignored {int((~is_star).sum())} files of other data types in the sample sheet: "
            f"{kinds}"
        )
    rows = sheet[is_star].copy()
    several = rows["Sample ID"].str.contains(",")
    if several.any():
        raise DataError(
            f"{path}: file {rows.loc[several, 'File Name'].iloc[0]} belongs to several samples "
            f"({rows.loc[several, 'Sample ID'].iloc[0]}); one sample per expression file expected"
        )
    return rows


def locate_files(folder: Path, rows: pd.DataFrame, sheet_path: Path) -> list[Path]:
    """Each row's file, as ``<File ID>/<File Name>`` or ``<File Name>`` in ``folder``; files
    missing from the folder are one error saying how many and which."""
    found, missing = [], []
    for file_id, name in zip(rows["File ID"], rows["File Name"], strict=True):
        for candidate in (folder / file_id / name, folder / name):
            if candidate.is_file():
                found.append(candidate)
                break
        else:
            missing.append(name)
    if missing:
        shown = ", ".join(missing[:5]) + (", ..." if len(missing) > 5 else "")
        raise DataError(
            f"{sheet_path.name} names {len(missing)} of {len(rows)} files that are missing from "
            f"{folder} (expected as <File ID>/<File Name> or <File Name>): {shown}"
        )
    return found


def _star_header(path: Path) -> list[str]:
    """The column names: the first line that is not a ``#`` comment."""
    cells = read_header(path, "\t", comment="#").cells
    if not cells:
        raise DataError(f"{path}: file has no data")
    return cells


def read_star_counts(
    path: Path, column: str, *, gene_info: bool = True
) -> tuple[pd.Series, pd.DataFrame | None]:
    """One STAR counts file: the ``column`` values by gene (``N_*`` rows dropped), and (with
    ``gene_info``) the gene names and types. Only the needed columns are parsed: a project has
    hundreds of 60,000-row files."""
    header = _star_header(path)
    if "gene_id" not in header:
        raise DataError(
            f"{path}: not a GDC STAR gene-count file (no gene_id column; columns: "
            f"{', '.join(header[:8])})"
        )
    available = [c for c in header if c not in ID_COLUMNS]
    if column not in available:
        raise DataError(
            f"unknown --gdc-column {column!r}; the value columns of {path.name} are: "
            f"{', '.join(available) or '(none)'}"
        )
    refuse_nul_bytes(path, "STAR gene counts")
    info_columns = [c for c in ID_COLUMNS[1:] if gene_info and c in header]
    read = {"sep": "\t", "comment": "#", "usecols": ["gene_id", column, *info_columns]}
    try:
        try:
            frame = pd.read_csv(path, dtype={"gene_id": str, column: np.float64}, **read)
        except ValueError:  # a cell that is not a number: read as text to name it
            frame = pd.read_csv(path, dtype=str, **read)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: file has no data") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError, ValueError) as exc:
        raise DataError(f"{path}: cannot be read as STAR gene counts: {first_line(exc)}") from None
    # the four N_* summary rows lead the file; a string test of all 60,000 IDs is slow
    ids = frame["gene_id"].to_numpy()
    leading = next((i for i, g in enumerate(ids) if not str(g).startswith("N_")), len(ids))
    frame = frame.iloc[leading:]
    if frame.empty:
        raise DataError(f"{path}: no gene rows (only N_* summary rows)")
    values = pd.to_numeric(frame[column], errors="coerce")
    bad = values.isna() & frame[column].notna()
    if bad.any():
        row = frame.loc[bad].iloc[0]
        raise DataError(
            f"{path}: non-numeric value {row[column]!r} in column {column!r} at gene "
            f"{row['gene_id']!r}"
        )
    genes = frame.set_index("gene_id")
    if genes.index.duplicated().any():
        raise DataError(f"{path}: duplicate gene ID {genes.index[genes.index.duplicated()][0]!r}")
    info = genes[info_columns] if gene_info else None
    return pd.Series(values.to_numpy(dtype=np.float64), index=genes.index), info


def read_gdc_folder(
    folder: str | Path,
    *,
    column: str | None = None,
    sheet: str | Path | None = None,
    workers: int | None = None,
) -> ad.AnnData:
    """Read a downloaded GDC folder of STAR gene-count files into samples x genes.

    Parameters
    ----------
    folder
        The download folder (files as ``<File ID>/<File Name>`` or flat) with its sample sheet.
    column
        The value column (:data:`VALUE_COLUMNS`; default ``tpm_unstranded``): any column of the
        files' header but ``gene_id``, ``gene_name`` and ``gene_type``. Another one is an error
        listing the value columns the files have.
    sheet
        The sample sheet (default: found in ``folder`` by :func:`find_sample_sheet`).
    workers
        Processes parsing the files (each its share, in file order; the result is the same);
        default: one per available CPU (at most 8) for a folder of :data:`PARALLEL_FROM` files
        or more, else this process alone.

    Returns
    -------
    AnnData with float32 ``X`` (samples x genes, one row per sample: replicate files averaged),
    ``obs`` columns ``patient``, ``sample_type``, ``sample_type_code``, ``project``, ``n_files``
    and ``var`` columns ``gene_name``, ``gene_type``; ``uns["value_scale"]`` is ``linear``.
    """
    folder = Path(folder)
    column = column or DEFAULT_COLUMN
    sheet_path = Path(sheet) if sheet is not None else find_sample_sheet(folder)
    if sheet_path is None:
        raise DataError(f"{folder}: no GDC sample sheet (gdc_sample_sheet*.tsv) in the folder")
    rows = _expression_rows(read_sample_sheet(sheet_path), sheet_path)
    paths = locate_files(folder, rows, sheet_path)

    samples = rows["Sample ID"].to_numpy()
    order = pd.Index(pd.unique(samples))
    codes = order.get_indexer(samples)  # (files,) row of each file's sample
    n_files = np.bincount(codes, minlength=len(order))

    first, gene_info = read_star_counts(paths[0], column)
    genes = first.index
    x = np.zeros((len(order), len(genes)), dtype=np.float32)  # (samples, genes), file by file
    read = _read_in_order(paths, column, first, workers)
    try:
        for path, code, values in zip(paths, codes, read, strict=True):
            if isinstance(values, pd.Series):
                if not values.index.equals(genes):
                    if len(values.index) != len(genes) or not values.index.isin(genes).all():
                        extra = values.index.difference(genes)
                        lacking = genes.difference(values.index)
                        raise DataError(
                            f"{path}: its genes differ from {paths[0].name}'s ({len(lacking)} "
                            f"missing, {len(extra)} extra; a different gene model?)"
                        )
                    values = values.reindex(genes)
                values = values.to_numpy(dtype=np.float32)
            # replicate aliquots of one sample: the mean of their values (counts and TPM alike)
            x[code] += values / n_files[code]
    finally:
        read.close()  # stops the workers early on an error
    assert gene_info is not None
    replicated = n_files > 1
    if replicated.any():
        note(
            f"{int(replicated.sum())} samples have several files ({int(n_files[replicated].sum())}"
            f" files in all, e.g. {order[replicated][0]}): their {column} values are averaged"
        )

    first = rows.drop_duplicates("Sample ID").set_index("Sample ID").reindex(order)
    obs = pd.DataFrame(index=pd.Index(order.astype(str), name=None))
    obs["patient"] = _column(first, "Case ID", order)
    obs["sample_type"] = _column(first, "Sample Type", order)
    obs["sample_type_code"] = [
        tcga.sample_type_code(s) or tcga.code_for_name(t or "")
        for s, t in zip(order, obs["sample_type"], strict=True)
    ]
    obs["project"] = _column(first, "Project ID", order)
    obs["n_files"] = n_files
    var = gene_info.copy()
    var.index = pd.Index(genes.astype(str)).rename(None)
    adata = ad.AnnData(X=x, obs=obs, var=var)
    adata.uns[SCALE_KEY] = "linear"
    adata.uns["source"] = f"GDC STAR gene counts, column {column}"
    types = tcga.describe_types(obs["sample_type_code"].dropna())
    note(
        f"read {len(paths)} GDC STAR files ({column}): {adata.n_obs} samples of "
        f"{obs['patient'].nunique()} patients x {adata.n_vars} genes ({types})"
    )
    return adata


PARALLEL_FROM = 64  # files; fewer are read in this process (a worker starts in ~1 s)
_GENES: pd.Index | None = None  # in a worker: the first file's genes


def _read_in_order(
    paths: list[Path], column: str, first: pd.Series, workers: int | None
) -> Iterator[pd.Series | np.ndarray]:
    """The ``column`` values of every file, in order: ``first`` (paths[0]'s, already read),
    then each other file's as a Series, or as float32 values when a worker found its genes to be
    ``first``'s in the same order (only those cross between processes). An error is raised at its
    file's turn, as in a serial read."""
    yield first
    if workers is None:
        workers = min(len(os.sched_getaffinity(0)), 8) if len(paths) >= PARALLEL_FROM else 1
    if workers <= 1:
        for path in paths[1:]:
            yield read_star_counts(path, column, gene_info=False)[0]
        return
    # spawn: a fork of a process holding threads (torch, a progress bar) may deadlock
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_set_genes,
        initargs=(first.index,),
    )
    try:
        chunk = max(1, min(32, len(paths) // (workers * 8)))
        yield from pool.map(partial(_worker_values, column=column), paths[1:], chunksize=chunk)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # an error stops the files still queued


def _set_genes(genes: pd.Index) -> None:
    global _GENES
    _GENES = genes


def _worker_values(path: Path, column: str) -> pd.Series | np.ndarray:
    values, _ = read_star_counts(path, column, gene_info=False)
    if _GENES is not None and values.index.equals(_GENES):
        return values.to_numpy(dtype=np.float32)
    return values  # the reader checks and aligns its genes


def _column(frame: pd.DataFrame, name: str, index: pd.Index) -> list[str | None]:
    if name not in frame.columns:
        return [None] * len(index)
    return [v if isinstance(v, str) and v else None for v in frame[name]]
