"""UCSC Xena expression matrices (genes x samples, already log-scaled).

Xena hubs (https://xenabrowser.net) serve TCGA, TARGET and GTEx expression as one tab-separated
table, genes as rows and samples as columns, the first header cell ``sample`` (TCGA hub, e.g.
``HiSeqV2``, no file extension) or ``Ensembl_ID`` (GDC hub, e.g. ``TCGA-BRCA.star_tpm.tsv.gz``),
the other header cells sample barcodes (``TCGA-A1-A0SB-01`` on the TCGA hub,
``TCGA-A1-A0SB-01A`` on the GDC hub). Their values are already on a log scale:

=====================================================  ==================================
file                                                   values
=====================================================  ==================================
GDC hub ``*.star_counts``, ``*.star_tpm``,             log2(x + 1)
``*.star_fpkm``, ``*.star_fpkm-uq``, ``*.htseq_*``
TCGA hub ``HiSeqV2``, ``*IlluminaHiSeq*``               log2(RSEM normalized count + 1)
TCGA hub ``HiSeqV2_PANCAN``                             log2(x + 1), centred per gene
Toil hub ``*rsem_gene_tpm``, ``*rsem_gene_fpkm``,      log2(x + 0.001)
``*rsem_isoform_tpm``
Toil hub ``*rsem_gene_expected_count``                  log2(x + 1)
=====================================================  ==================================

A matrix of another name is judged by its values (:func:`omicsformer.data.scale.judged_scale`:
a largest value under 50 is read as log scale). A log transform of such values is refused
(:func:`omicsformer.data.scale.check_scale`): it would log them twice. The phenotype and
survival tables that go with them (``sample``, ``OS``, ``OS.time``, ``_PATIENT``) are read by
:mod:`omicsformer.data.clinical`.
"""

from __future__ import annotations

import re
import zlib
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from omicsformer.console import note
from omicsformer.data import tcga
from omicsformer.data.inputs import check_unique, numeric_values, repeated_genes_allowed
from omicsformer.data.scale import SCALE_KEY, judged_scale
from omicsformer.errors import DataError
from omicsformer.fileio import first_line, open_text, read_header, refuse_nul_bytes

FIRST_CELLS = {"sample", "ensembl_id", "xena_sample", "gene_id", "gene", "id"}
OTHER_SAMPLE = re.compile(r"^(GTEX|TARGET|TCGA|TH\d\d|THR\d\d)-", re.IGNORECASE)
BINARY_SUFFIXES = {".parquet", ".pq", ".h5ad", ".h5", ".csv"}  # .csv: not tab-separated

# file name -> value scale, first match wins
SCALES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"HiSeqV2_PANCAN", re.IGNORECASE), "log2(x+1), centred per gene"),
    (re.compile(r"rsem_(gene|isoform)_(tpm|fpkm)", re.IGNORECASE), "log2(x+0.001)"),
    (re.compile(r"rsem_gene_expected_count", re.IGNORECASE), "log2(x+1)"),
    (re.compile(r"\.(star|htseq)_(counts|tpm|fpkm|fpkm-uq|fpkm_uq)", re.IGNORECASE), "log2(x+1)"),
    (re.compile(r"HiSeqV2|IlluminaHiSeq|IlluminaGA", re.IGNORECASE), "log2(x+1)"),
)


def header(path: str | Path) -> list[str]:
    """The first line's tab-separated cells ([] if unreadable); at most
    :data:`~omicsformer.fileio.HEADER_LIMIT` bytes are read."""
    try:
        return read_header(path, "\t").cells
    except DataError:
        return []


def is_xena_matrix(path: str | Path) -> bool:
    """True for a Xena genes-by-samples matrix: first header cell ``sample`` / ``Ensembl_ID``
    (or another gene-ID heading) and sample barcodes (TCGA, TARGET, GTEx) as the others."""
    path = Path(path)
    if not path.is_file() or path.stat().st_size == 0:
        return False
    if {s.lower() for s in path.suffixes} & BINARY_SUFFIXES:
        return False
    cells = header(path)
    if len(cells) < 2 or cells[0].strip().lower() not in FIRST_CELLS:
        return False
    others = [c.strip() for c in cells[1:]]
    barcodes = sum(tcga.is_barcode(c) or OTHER_SAMPLE.match(c) is not None for c in others)
    return barcodes > 0 and barcodes >= 0.9 * len(others)


def scale_of(path: Path, values: np.ndarray) -> str:
    """The value scale: from the file name when it is a known Xena dataset, else judged by the
    largest value."""
    for pattern, scale in SCALES:
        if pattern.search(path.name):
            return scale
    return judged_scale(values)


def read_xena(path: str | Path) -> ad.AnnData:
    """Read a Xena genes-by-samples matrix into samples x genes AnnData.

    Returns
    -------
    AnnData with float32 ``X``, sample barcodes as ``obs_names``, gene IDs (symbols or
    versioned Ensembl IDs, possibly repeated: :func:`~omicsformer.data.readers.load_data`
    aggregates them) as ``var_names``, ``uns["value_scale"]`` the scale (see the module
    docstring).
    """
    path = Path(path)
    refuse_nul_bytes(path)
    try:
        with open_text(path) as handle:
            frame = pd.read_csv(handle, sep="\t", index_col=0, low_memory=False)
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: file has no data") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError, ValueError) as exc:
        raise DataError(f"{path}: cannot be read as a Xena matrix: {first_line(exc)}") from None
    except zlib.error as exc:  # a damaged .gz (not an OSError)
        raise DataError(f"{path}: damaged compressed file: {first_line(exc)}") from None
    if frame.shape[0] == 0 or frame.shape[1] == 0:
        raise DataError(f"{path}: Xena matrix has no genes or no samples")
    frame.index = frame.index.map(str)
    # pandas renames a repeated header cell (s1, s1.1): take the names from the raw header
    cells = read_header(path, "\t").cells[1:]
    frame.columns = cells if len(cells) == frame.shape[1] else [str(c) for c in frame.columns]
    # repeated genes (HiSeqV2 repeats a few symbols) are aggregated by the gene-ID step
    check_unique(pd.Index(frame.columns), "sample", path)
    values = numeric_values(frame, path, "gene", "sample").T  # (samples, genes)
    with repeated_genes_allowed():
        adata = ad.AnnData(
            X=np.ascontiguousarray(values),
            obs=pd.DataFrame(index=pd.Index(frame.columns, dtype=str)),
            var=pd.DataFrame(index=pd.Index(frame.index, dtype=str, name=None)),
        )
    scale = scale_of(path, values)
    adata.uns[SCALE_KEY] = scale
    adata.uns["source"] = f"UCSC Xena matrix {path.name}"
    note(
        f"read {path.name} as a UCSC Xena matrix (genes x samples, values {scale}): "
        f"{adata.n_obs} samples x {adata.n_vars} genes"
    )
    return adata
