"""Shared fixtures: tiny cohorts written as files, and a CLI runner."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omicsformer.cli import main
from omicsformer.data.datasets.synthetic import make_synthetic

os.environ.setdefault("MPLBACKEND", "Agg")

if "PYTEST_XDIST_WORKER" in os.environ:
    # `make test` runs one worker per core: one thread each, or the workers fight over the cores;
    # the processes a test starts (console runs, DDP ranks, benchmark workers) inherit one too
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]):
    """Run ``omicsformer ARGS...`` in-process; returns exit code, stdout and stderr."""

    def run(*args: object) -> CliResult:
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse usage errors
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@dataclass
class Tiny:
    """A small cohort: ``frame`` (samples x genes) and ``labels`` (Series by sample)."""

    frame: pd.DataFrame
    labels: pd.Series

    @property
    def shape(self) -> tuple[int, int]:
        return self.frame.shape


@pytest.fixture(scope="session")
def tiny() -> Tiny:
    """A small 3-class cohort (60 samples x 40 genes)."""
    data = make_synthetic(n_samples=60, n_genes=40, n_classes=3, n_modules=2, module_size=5, seed=3)
    frame = pd.DataFrame(
        np.asarray(data.adata.X), index=data.adata.obs_names, columns=data.adata.var_names
    )
    frame.index.name = "sample"
    return Tiny(frame, data.adata.obs["label"])


@pytest.fixture
def tiny_files(tmp_path: Path, tiny: Tiny) -> dict[str, Path]:
    """The tiny cohort written as matrix + labels files in several formats."""
    labels = pd.DataFrame({"sample": tiny.frame.index, "label": tiny.labels.to_numpy()})
    paths = {
        "csv": tmp_path / "expr.csv",
        "tsv_gz": tmp_path / "expr.tsv.gz",
        "genes_by_samples": tmp_path / "expr_gxs.tsv",
        "parquet": tmp_path / "expr.parquet",
        "labels": tmp_path / "labels.csv",
    }
    tiny.frame.to_csv(paths["csv"])
    tiny.frame.to_csv(paths["tsv_gz"], sep="\t")
    tiny.frame.T.rename_axis("gene").to_csv(paths["genes_by_samples"], sep="\t")
    tiny.frame.reset_index().to_parquet(paths["parquet"], index=False)
    labels.to_csv(paths["labels"], index=False)
    return paths


FAST_LOGREG = ["--model", "logreg", "-o", "C=0.1,1", "-o", "inner_folds=2"]
