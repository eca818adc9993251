"""Scale check at AttOmics' TCGA size: a simulated GDC download, read, then one step of each model.

AttOmics (Beaudé et al., Bioinformatics 2023) trained on 8,777 TCGA patients x 56,902 genes in
20 classes. This script writes a cohort of that shape in the GDC layout (one STAR augmented
gene-counts file per patient, ``<File ID>/<File Name>``, plus ``gdc_sample_sheet.tsv``), then
measures what a user meets first:

``generate``  write the folder (counts-like: Poisson counts around log-normal gene means times a
              per-patient depth, 200 genes raised 2-fold in each class) and ``labels.csv``;
``read``      ``load_data`` on the folder: wall time, peak resident memory of this process and of
              the largest of its children (the reader's worker processes), CPU seconds of both
              and the load average (on a shared machine the wall time alone says little);
``fit``       the same read, then the ``--steps`` (default all): ``logreg``, ``rf``: one fit of
              each baseline (fixed settings, no inner search) on the read matrix (log2(x+1),
              z-scored); ``attomics``: one epoch of AttOmics at the full gene count (CPU, 15%
              held out; ``--attomics-patients N`` on N patients drawn at random); ``bench``:
              ``omicsformer bench model`` for one training step of every neural model.

Run from the repository root (the folder takes ~35 GB at full size; ``--patients`` and
``--genes`` make it smaller)::

    python scripts/scale_check.py generate --out /tmp/tcga-scale
    python scripts/scale_check.py read --data /tmp/tcga-scale
    python scripts/scale_check.py fit --data /tmp/tcga-scale
    python scripts/scale_check.py fit --data /tmp/tcga-scale --steps logreg,attomics
"""

from __future__ import annotations

import argparse
import os
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


def usage(since: float = 0.0) -> str:
    """Peak resident memory (this process, and the largest of its finished children: the GDC
    reader's workers), CPU seconds since ``since`` (this process and its children) and the
    1-minute load average: on a shared machine the wall time alone says little."""
    me, kids = (resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime - since
    return (
        f"peak resident memory {me.ru_maxrss / 1024:.0f} MB (largest child "
        f"{kids.ru_maxrss / 1024:.0f} MB); {cpu:.0f} CPU s; load {os.getloadavg()[0]:.1f} on "
        f"{os.cpu_count()} CPUs"
    )


def cpu_seconds() -> float:
    me, kids = (resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def _sheet_row(p: int, seed: int) -> list[str]:
    """Patient ``p``'s sample-sheet row (it depends on (seed, p) only)."""
    file_id = str(uuid.UUID(int=(seed << 96) | p))
    case = f"TCGA-{p // 10000:02d}-{p % 10000:04d}"
    return [
        file_id,
        file_id + STAR_SUFFIX,
        "Transcriptome Profiling",
        "Gene Expression Quantification",
        "TCGA-SIM",
        case,
        f"{case}-01A",
        "Primary Tumor",
    ]


def _patient_file(task: tuple) -> None:
    """Write one patient's STAR file (skipped if it is there); its randomness comes from
    (seed, patient) only."""
    out, p, seed, gene_mean, length_kb, raised = task
    file_id, name = _sheet_row(p, seed)[:2]
    if (out / file_id / name).exists():
        return
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
    (out / file_id).mkdir(exist_ok=True)
    tmp = out / file_id / f".{name}.tmp"
    tmp.write_text(text)
    tmp.rename(out / file_id / name)  # a killed run leaves no half-written file


_PREFIX: list[str] = []


def _prefix(genes: int) -> list[str]:
    """The gene_id, gene_name and gene_type cells of every row (the same in every file)."""
    if len(_PREFIX) != genes:
        _PREFIX[:] = [
            f"ENSG{i:011d}.{i % 9 + 1}\tGENE{i}\tprotein_coding\t" for i in range(1, genes + 1)
        ]
    return _PREFIX


def generate(
    out: Path, patients: int, genes: int, classes: int, seed: int, workers: int, resume: bool
) -> None:
    """Write the folder: the sample sheet and labels first (they depend on the seed only), then
    one file per patient; ``resume`` keeps the files already there (same seed: same files)."""
    from multiprocessing import Pool

    from omicsformer.data.fetch import SAMPLE_SHEET_HEADER

    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=resume)
    gene_mean = np.exp(rng.normal(3.0, 2.0, size=genes))  # (G,) counts at depth 1
    length_kb = rng.uniform(0.5, 10.0, size=genes)  # (G,) for TPM / FPKM
    marked = rng.choice(genes, size=(classes, 200), replace=False)  # (C, 200) raised genes
    labels = rng.integers(0, classes, size=patients)
    sheet = [_sheet_row(p, seed) for p in range(patients)]
    columns = list(SAMPLE_SHEET_HEADER[:8])  # the classic sheet: no Tumor Descriptor, Specimen Type
    pd.DataFrame(sheet, columns=columns).to_csv(out / "gdc_sample_sheet.tsv", sep="\t", index=False)
    pd.DataFrame(
        {"sample": [row[6] for row in sheet], "subtype": [f"class_{c:02d}" for c in labels]}
    ).to_csv(out / "labels.csv", index=False)
    tasks = [(out, p, seed, gene_mean, length_kb, marked[labels[p]]) for p in range(patients)]
    started = time.perf_counter()
    with Pool(workers) as pool:
        for done, _ in enumerate(pool.imap(_patient_file, tasks, chunksize=16), start=1):
            if done % 500 == 0 or done == patients:
                print(
                    f"{done} of {patients} files ({time.perf_counter() - started:.0f} s)",
                    flush=True,
                )
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file()) / 1e9
    print(
        f"wrote {patients} files x {genes} genes, {classes} classes: {size:.1f} GB in "
        f"{time.perf_counter() - started:.0f} s with {workers} processes"
    )


def read(data: Path):
    """``load_data`` on the folder, timed; returns the AnnData."""
    from omicsformer.data.readers import load_data

    started, cpu = time.perf_counter(), cpu_seconds()
    adata = load_data(str(data), gdc_column="unstranded", labels=str(data / "labels.csv"))
    seconds = time.perf_counter() - started
    print(
        f"read {adata.n_obs} samples x {adata.n_vars} genes in {seconds:.0f} s; "
        f"X {adata.X.dtype} {adata.X.nbytes / 1e9:.2f} GB; {usage(cpu)}",
        flush=True,
    )
    return adata


STEPS = ("logreg", "rf", "attomics", "bench")


def fit(data: Path, out: Path, steps: list[str], attomics_patients: int | None = None) -> None:
    """Read the folder (timed as ``read``), then each of ``steps``: one fit of a baseline, one
    epoch of AttOmics (on ``attomics_patients`` patients drawn at random, default all: its time
    grows with the patients, ~5 GFLOP each at 56,902 genes), one training step of every neural
    model (``bench``)."""
    import subprocess
    import sys

    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression

    adata = read(data)
    y = adata.obs["subtype"].to_numpy()
    baselines = {
        "logreg": lambda: LogisticRegression(C=0.1, max_iter=100),
        "rf": lambda: RandomForestClassifier(n_estimators=100, max_features="sqrt", n_jobs=-1),
    }
    if any(step in baselines for step in steps):
        x = np.log2(np.asarray(adata.X, dtype=np.float32) + 1)
        x = (x - x.mean(axis=0)) / np.where(x.std(axis=0) > 0, x.std(axis=0), 1)
        for name in (step for step in steps if step in baselines):
            model = baselines[name]()
            started, cpu = time.perf_counter(), cpu_seconds()
            model.fit(x, y)
            print(
                f"{name}: one fit on {x.shape[0]} x {x.shape[1]} in "
                f"{time.perf_counter() - started:.0f} s; {usage(cpu)}",
                flush=True,
            )
        del x
    if "attomics" in steps:
        from omicsformer.api import OmicsClassifier

        cohort = adata
        if attomics_patients is not None and attomics_patients < adata.n_obs:
            rows = np.random.default_rng(0).choice(adata.n_obs, attomics_patients, replace=False)
            cohort = adata[np.sort(rows)].copy()
        # one epoch at the full gene count: log2(x+1), z-score, 15% held out, CPU
        model = OmicsClassifier(
            "attomics", log_transform="log2p1", max_epochs=1, device="cpu", seed=0
        )
        started, cpu = time.perf_counter(), cpu_seconds()
        model.fit(cohort, target="subtype")
        print(
            f"attomics: one epoch on {cohort.n_obs} x {cohort.n_vars} (15% held out) in "
            f"{time.perf_counter() - started:.0f} s; {usage(cpu)}",
            flush=True,
        )
        del model
    if "bench" in steps:
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


def _steps(text: str) -> list[str]:
    steps = [s.strip() for s in text.split(",") if s.strip()]
    unknown = [s for s in steps if s not in STEPS]
    if unknown or not steps:
        raise argparse.ArgumentTypeError(f"steps are among {', '.join(STEPS)}; got {text!r}")
    return steps


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
    g.add_argument("--resume", action="store_true", help="keep the files already written")
    r = sub.add_parser("read")
    r.add_argument("--data", type=Path, required=True)
    f = sub.add_parser("fit")
    f.add_argument("--data", type=Path, required=True)
    f.add_argument("--out", type=Path, default=Path("runs/scale-bench"))
    f.add_argument(
        "--steps",
        type=_steps,
        default=list(STEPS),
        help=f"comma-separated, among {','.join(STEPS)} (default: all)",
    )
    f.add_argument(
        "--attomics-patients",
        type=int,
        default=None,
        help="the AttOmics epoch on this many patients drawn at random (default: all)",
    )
    args = parser.parse_args()
    if args.command == "generate":
        generate(
            args.out, args.patients, args.genes, args.classes, args.seed, args.workers, args.resume
        )
    elif args.command == "read":
        read(args.data)
    else:
        fit(args.data, args.out, args.steps, args.attomics_patients)


if __name__ == "__main__":
    main()
