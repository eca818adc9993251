"""Pick the target column(s) and drop samples whose target is missing."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd

from omicsformer.console import note
from omicsformer.data.inputs import describe_columns
from omicsformer.errors import DataError


def require_columns(adata: ad.AnnData, columns: list[str], what: str = "target") -> None:
    """Raise a :class:`DataError` naming the available columns if any of ``columns`` is absent."""
    missing = [c for c in columns if c not in adata.obs.columns]
    if missing:
        raise DataError(
            f"unknown {what} column {missing[0]!r}; available columns: {describe_columns(adata)}"
        )


def is_missing(series: pd.Series) -> np.ndarray:
    """True where a target value is missing (NaN, None, or an empty / 'NA' string)."""
    missing = series.isna().to_numpy()
    if series.dtype == object or isinstance(series.dtype, pd.CategoricalDtype):
        text = series.astype(str).str.strip()
        missing |= text.isin(["", "NA", "NaN", "nan", "None"]).to_numpy()
    return missing


def drop_missing_targets(adata: ad.AnnData, columns: list[str]) -> ad.AnnData:
    """Return ``adata`` without samples missing any of ``columns``; print how many were dropped."""
    require_columns(adata, columns)
    missing = np.zeros(adata.n_obs, dtype=bool)
    for column in columns:
        missing |= is_missing(adata.obs[column])
    if missing.all():
        raise DataError(f"every sample has a missing value in {', '.join(columns)}")
    if missing.any():
        note(
            f"dropped {int(missing.sum())} of {adata.n_obs} samples with a missing "
            f"{', '.join(columns)}"
        )
        adata = adata[~missing].copy()
    return adata
