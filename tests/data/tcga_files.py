"""Tiny TCGA-style inputs written like the real ones: GDC STAR files with their sample sheet,
clinical tables in each style, UCSC Xena matrices."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

HEADER = (
    "gene_id\tgene_name\tgene_type\tunstranded\tstranded_first\tstranded_second\t"
    "tpm_unstranded\tfpkm_unstranded\tfpkm_uq_unstranded"
)
STAR_SUFFIX = ".rna_seq.augmented_star_gene_counts.tsv"
N_ROWS = ("N_unmapped", "N_multimapping", "N_noFeature", "N_ambiguous")
SHEET_COLUMNS = [
    "File ID",
    "File Name",
    "Data Category",
    "Data Type",
    "Project ID",
    "Case ID",
    "Sample ID",
    "Sample Type",
]
TYPE_NAMES = {"01": "Primary Tumor", "11": "Solid Tissue Normal", "06": "Metastatic"}


def gene_ids(n_genes: int) -> list[str]:
    return [f"ENSG{i:011d}.{i % 7 + 1}" for i in range(3, 3 + n_genes)]


def star_text(counts: np.ndarray, *, gene_model: str = "GENCODE v36") -> str:
    """A STAR augmented gene-counts file: comment, header, four N_* rows, one row per gene.

    ``tpm_unstranded`` = counts / 10, ``fpkm_unstranded`` = counts / 20, ``fpkm_uq_unstranded``
    = counts / 40, so each column can be told apart in tests.
    """
    lines = [f"# gene-model: {gene_model}", HEADER]
    for i, name in enumerate(N_ROWS):
        lines.append(f"{name}\t\t\t{1000 + i}\t{600 + i}\t{400 + i}\t\t\t")
    for gene, count in zip(gene_ids(len(counts)), counts, strict=True):
        c = int(count)
        lines.append(
            f"{gene}\tG{gene[4:15].lstrip('0')}\tprotein_coding\t{c}\t{c // 2}\t{c - c // 2}\t"
            f"{c / 10:.4f}\t{c / 20:.4f}\t{c / 40:.4f}"
        )
    return "\n".join(lines) + "\n"


def write_gdc_folder(
    root: Path,
    files: Sequence[tuple[str, np.ndarray]],
    *,
    project: str = "TCGA-XX",
    sheet_name: str = "gdc_sample_sheet.2024-05-01.tsv",
    flat: bool = False,
) -> pd.DataFrame:
    """Write one STAR file per (sample ID, counts) under ``<File ID>/<File Name>`` (or flat) and
    the sample sheet; return the sheet."""
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (sample, counts) in enumerate(files):
        file_id = f"{i:08x}-aaaa-bbbb-cccc-{i:012d}"
        name = f"{hashlib.md5(file_id.encode()).hexdigest()[:8]}{STAR_SUFFIX}"
        folder = root if flat else root / file_id
        folder.mkdir(exist_ok=True)
        (folder / name).write_text(star_text(counts))
        code = sample.split("-")[3][:2]
        rows.append(
            [
                file_id,
                name,
                "Transcriptome Profiling",
                "Gene Expression Quantification",
                project,
                "-".join(sample.split("-")[:3]),
                sample,
                TYPE_NAMES.get(code, "Primary Tumor"),
            ]
        )
    sheet = pd.DataFrame(rows, columns=SHEET_COLUMNS)
    sheet.to_csv(root / sheet_name, sep="\t", index=False)
    return sheet


def cohort(
    n_patients: int, n_genes: int = 10, *, seed: int = 0, normals: int = 0
) -> tuple[list[tuple[str, np.ndarray]], pd.DataFrame]:
    """Tumour samples of ``n_patients`` (and normals of the first ``normals``) whose risk
    follows gene 0, with a GDC clinical table (two rows per patient, like the GDC's
    case x treatment rows); returns the files and the clinical table."""
    rng = np.random.default_rng(seed)
    files, clinical = [], []
    for p in range(n_patients):
        patient = f"TCGA-AB-{p + 1:04d}"
        counts = rng.poisson(200, size=n_genes).astype(float)
        counts[0] = 50 + 40 * p
        files.append((f"{patient}-01A", counts))
        if p < normals:
            files.append((f"{patient}-11A", rng.poisson(200, size=n_genes).astype(float)))
        dead = p % 2 == 0
        time = float(4000 - 80 * p + rng.integers(0, 30))
        for treatment in ("Radiation", "Pharmaceutical"):
            clinical.append(
                {
                    "case_id": f"uuid-{p}",
                    "case_submitter_id": patient,
                    "project_id": "TCGA-XX",
                    "vital_status": "Dead" if dead else "Alive",
                    "days_to_death": str(int(time)) if dead else "'--",
                    "days_to_last_follow_up": "'--" if dead else str(int(time)),
                    "treatment_type": treatment,
                }
            )
    return files, pd.DataFrame(clinical)
