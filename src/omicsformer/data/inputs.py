"""What every reader checks of its input: the file's kind from its name, that it exists and
holds something, that its IDs are unique and its values numbers; and how obs columns are listed
in a message.

The readers of every source (:mod:`omicsformer.data.readers`, :mod:`omicsformer.data.xena`,
:mod:`omicsformer.data.clinical`) and the target step (:mod:`omicsformer.data.targets`) import
this module; it imports none of them.
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from omicsformer.errors import DataError

# a truncated or corrupted compressed file: gzip raises EOFError or zlib.error (not OSError)
DAMAGED = (EOFError, zlib.error)
TEXT_SUFFIXES = {".csv": ",", ".tsv": "\t", ".txt": "\t"}
PARQUET_SUFFIXES = {".parquet", ".pq"}


def file_kind(path: Path) -> str:
    """Return ``csv``, ``tsv``, ``parquet`` or ``h5ad`` from the file name (``.gz`` allowed)."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] == ".gz":
        suffixes = suffixes[:-1]
    last = suffixes[-1] if suffixes else ""
    if last in TEXT_SUFFIXES:
        return "csv" if last == ".csv" else "tsv"
    if last in PARQUET_SUFFIXES:
        return "parquet"
    if last == ".h5ad":
        return "h5ad"
    raise DataError(
        f"{path}: unsupported file type {''.join(path.suffixes) or '(no extension)'}; "
        "use .csv, .tsv, .txt (optionally .gz), .parquet or .h5ad"
    )


def check_file(path: Path) -> None:
    """Refuse a path that is missing, a folder or an empty file (one :class:`DataError` line).

    Parameters
    ----------
    path
        The input file.

    Raises
    ------
    DataError
        The file is missing, a folder or empty.
    """
    if not path.exists():
        raise DataError(f"{path}: file not found")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, expected a file")
    if path.stat().st_size == 0:
        raise DataError(f"{path}: file is empty")


@contextmanager
def repeated_genes_allowed() -> Iterator[None]:
    """Silence AnnData's warning about repeated gene names: they are expected between reading a
    matrix and the gene-ID step that aggregates them (:func:`load_data`)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Variable names are not unique", UserWarning)
        yield


def check_unique(ids: pd.Index, what: str, path: Path) -> None:
    """Refuse repeated IDs, naming the first five and how many there are.

    Parameters
    ----------
    ids
        The sample (or gene) IDs as read.
    what
        What they are, for the message (``sample``, ``gene``).
    path
        The file they come from, for the message.

    Raises
    ------
    DataError
        Some ID appears more than once.
    """
    duplicated = ids[ids.duplicated()].unique()
    if len(duplicated):
        shown = ", ".join(map(str, duplicated[:5]))
        raise DataError(f"{path}: duplicate {what} IDs ({len(duplicated)} in all): {shown}")


def numeric_values(frame: pd.DataFrame, path: Path, row_kind: str, col_kind: str) -> np.ndarray:
    """The frame's values as float32, or an error naming the first cell that is not a number.

    Parameters
    ----------
    frame
        A table read from ``path`` (IDs as index and columns); text columns are converted in
        place.
    path
        The file, for the message.
    row_kind, col_kind
        What rows and columns are (``sample``, ``gene``), for the message.

    Returns
    -------
    The values, float32 (rows x columns).

    Raises
    ------
    DataError
        A cell (or a whole boolean column) is not a number.
    """
    for position, column in enumerate(frame.columns):  # by position: gene names may repeat
        series = frame.iloc[:, position]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            continue
        converted = pd.to_numeric(series, errors="coerce")
        bad = series[converted.isna() & series.notna()]
        if len(bad) or pd.api.types.is_bool_dtype(series):
            row = bad.index[0] if len(bad) else series.index[0]
            value = bad.iloc[0] if len(bad) else series.iloc[0]
            value = value.item() if isinstance(value, np.generic) else value  # True, not np.True_
            raise DataError(
                f"{path}: non-numeric value {value!r} at {row_kind} {row!r}, {col_kind} {column!r}"
                " (is --layout right? are clinical columns mixed into the matrix?)"
            )
        frame.isetitem(position, converted)
    return frame.to_numpy(dtype=np.float32)


def listed(items: Sequence[object] | pd.Index, limit: int = 20) -> str:
    """Up to ``limit`` items, comma-separated, and how many there are in all beyond that."""
    items = [str(i) for i in items]
    shown = ", ".join(items[:limit])
    return shown + (f", ... ({len(items)} in all)" if len(items) > limit else "")


def describe_columns(adata: ad.AnnData) -> str:
    """The obs columns as a comma-separated list (for error messages)."""
    return listed(adata.obs.columns) if len(adata.obs.columns) else "(none)"
