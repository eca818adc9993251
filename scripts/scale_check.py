"""Scale check at AttOmics' TCGA size: a simulated GDC download, read, then one step of each model.

AttOmics (Beaudé et al., Bioinformatics 2023) trained on 8,777 TCGA patients x 56,902 genes in
20 classes. This script writes a cohort of that shape in the GDC layout (one STAR augmented
gene-counts file per patient, ``<File ID>/<File Name>``, plus ``gdc_sample_sheet.tsv``), then
measures what a user meets first:

``generate``  write the folder (counts-like: Poisson counts around log-normal gene means times a
              per-patient depth, 200 genes raised 2-fold in each class) and ``labels.csv``;
``read``      ``load_data`` on the folder: wall time and peak resident memory of this process;
``fit``       one fit of each baseline (logreg, rf: fixed settings, no inner search) on the read
              matrix (log2(x+1), z-scored), and ``omicsformer bench model`` for one training step
              of every neural model at the full gene count.

Run from the repository root (the folder takes ~35 GB at full size; ``--patients`` and
``--genes`` make it smaller)::

    python scripts/scale_check.py generate --out /tmp/tcga-scale
    python scripts/scale_check.py read --data /tmp/tcga-scale
    python scripts/scale_check.py fit --data /tmp/tcga-scale
"""

from __future__ import annotations

import argparse
import resource
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

STAR_SUFFIX = ".rna_seq.augmented_star_gene_counts.tsv"
HEADER = (
    "# gene-model: GENCODE v36\n"
    "gene_id\tgene_name\tgene_type\tunstranded\tstranded_first\tstranded_second\t"
    "tpm_unstranded\tfpkm_unstranded\tfpkm_uq_unstranded\n"
)
N_ROWS = "".join(
    f"{name}\t1000\t500\t500\t\t\t\n"
    for name in ("N_unmapped", "N_multimapping", "N_noFeature", "N_ambiguous")
)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KB


def _patient_file(task: tuple) -> list[str]:
    """Write one patient's STAR file; its randomness comes from (seed, patient) only."""
    out, p, seed, gene_mean, length_kb, raised = task
    rng = np.random.default_rng([seed, p])
    mean = gene_mean * rng.lognormal(0.0, 0.3)  # (G,) times this patient's depth
    mean[raised] *= 2.0
    counts = rng.poisson(mean)  # (G,)
    rate = counts / length_kb
    tpm = rate / rate.sum() * 1e6  # (G,)
    fpkm = rate / counts.sum() * 1e6
    fpkm_uq = rate / np.quantile(counts[counts > 0], 0.75) * 1e3
    rows = zip(
        _prefix(len(gene_mean)),
        counts.tolist(),
        tpm.tolist(),
        fpkm.tolist(),
        fpkm_uq.tolist(),
        strict=True,
    )
    text = (
        HEADER
        + N_ROWS
        + "".join(
            [
                f"{g}{n}\t{n // 2}\t{n - n // 2}\t{t:.4f}\t{f:.4f}\t{u:.4f}\n"
                for g, n, t, f, u in rows
            ]
        )
    )
    file_id = str(uuid.UUID(int=(seed << 96) | p))
    name = file_id + STAR_SUFFIX
    (out / file_id).mkdir()
    (out / file_id / name).write_text(text)
    case = f"TCGA-{p // 10000:02d}-{p % 10000:04d}"
    return [
        file_id,
        name,
        "Transcriptome Profiling",
        "Gene Expression Quantification",
        "TCGA-SIM",
        case,
        f"{case}-01A",
        "Primary Tumor",
    ]


_PREFIX: list[str] = []


def _prefix(genes: int) -> list[str]:
    """The gene_id, gene_name and gene_type cells of every row (the same in every file)."""
    if len(_PREFIX) != genes:
        _PREFIX[:] = [
            f"ENSG{i:011d}.{i % 9 + 1}\tGENE{i}\tprotein_coding\t" for i in range(1, genes + 1)
        ]
    return _PREFIX


def generate(out: Path, patients: int, genes: int, classes: int, seed: int, workers: int) -> None:
    from multiprocessing import Pool

    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=False)
    gene_mean = np.exp(rng.normal(3.0, 2.0, size=genes))  # (G,) counts at depth 1
    length_kb = rng.uniform(0.5, 10.0, size=genes)  # (G,) for TPM / FPKM
    marked = rng.choice(genes, size=(classes, 200), replace=False)  # (C, 200) raised genes
    labels = rng.integers(0, classes, size=patients)
    tasks = [(out, p, seed, gene_mean, length_kb, marked[labels[p]]) for p in range(patients)]
    sheet = []
    started = time.perf_counter()
    with Pool(workers) as pool:
        for row in pool.imap(_patient_file, tasks, chunksize=16):
            sheet.append(row)
            if len(sheet) % 500 == 0 or len(sheet) == patients:
                print(
                    f"{len(sheet)} of {patients} files ({time.perf_counter() - started:.0f} s)",
                    flush=True,
                )
    from omicsformer.data.fetch import SAMPLE_SHEET_HEADER

    columns = list(SAMPLE_SHEET_HEADER[:8])  # the classic sheet: no Tumor Descriptor, Specimen Type
    pd.DataFrame(sheet, columns=columns).to_csv(out / "gdc_sample_sheet.tsv", sep="\t", index=False)
    pd.DataFrame(
        {"sample": [row[6] for row in sheet], "subtype": [f"class_{c:02d}" for c in labels]}
    ).to_csv(out / "labels.csv", index=False)
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 1e9
    print(
        f"wrote {patients} files x {genes} genes, {classes} classes: {size:.1f} GB in "
        f"{time.perf_counter() - started:.0f} s with {workers} processes"
    )


def read(data: Path) -> None:
    from omicsformer.data.readers import load_data

    started = time.perf_counter()
    adata = load_data(str(data), gdc_column="unstranded", labels=str(data / "labels.csv"))
    seconds = time.perf_counter() - started
    print(
        f"read {adata.n_obs} samples x {adata.n_vars} genes in {seconds:.0f} s; "
        f"peak resident memory {peak_mb():.0f} MB; X {adata.X.dtype} "
        f"{adata.X.nbytes / 1e9:.2f} GB"
    )


def fit(data: Path, out: Path) -> None:
    import subprocess
    import sys

    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    from omicsformer.data.readers import load_data

    adata = load_data(str(data), gdc_column="unstranded", labels=str(data / "labels.csv"))
    x = np.log2(np.asarray(adata.X, dtype=np.float32) + 1)
    x = (x - x.mean(axis=0)) / np.where(x.std(axis=0) > 0, x.std(axis=0), 1)
    y = adata.obs["subtype"].to_numpy()
    for name, model in (
        ("logreg", LogisticRegression(C=0.1, max_iter=100)),
        ("rf", RandomForestClassifier(n_estimators=100, max_features="sqrt", n_jobs=-1)),
    ):
        started = time.perf_counter()
        model.fit(x, y)
        print(
            f"{name}: one fit on {x.shape[0]} x {x.shape[1]} in "
            f"{time.perf_counter() - started:.0f} s; peak resident memory {peak_mb():.0f} MB",
            flush=True,
        )
    del x
    command = [
        sys.executable,
        "-m",
        "omicsformer.cli",
        "bench",
        "model",
        "--genes",
        str(adata.n_vars),
        "--batch",
        "8",
        "--repeats",
        "1",
        "--timeout",
        "1200",
        "--out",
        str(out),
    ]
    print(" ".join(command), flush=True)
    subprocess.run(command, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("generate")
    g.add_argument("--out", type=Path, required=True)
    g.add_argument("--patients", type=int, default=8777)
    g.add_argument("--genes", type=int, default=56902)
    g.add_argument("--classes", type=int, default=20)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--workers", type=int, default=2)
    r = sub.add_parser("read")
    r.add_argument("--data", type=Path, required=True)
    f = sub.add_parser("fit")
    f.add_argument("--data", type=Path, required=True)
    f.add_argument("--out", type=Path, default=Path("runs/scale-bench"))
    args = parser.parse_args()
    if args.command == "generate":
        generate(args.out, args.patients, args.genes, args.classes, args.seed, args.workers)
    elif args.command == "read":
        read(args.data)
    else:
        fit(args.data, args.out)


if __name__ == "__main__":
    main()
