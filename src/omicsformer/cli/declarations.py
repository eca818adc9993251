"""The commands' own flags, each declared once as a typed field (default, help, range), like the
run settings of :mod:`omicsformer.config`: a flag several commands share (``--out``, ``--force``,
``-o``, ``--models``, ``--folds``, ``--repeats``, the benchmark sizes, ...) is one field here, which
each command adds with :func:`omicsformer.cli.options.add_options`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from omicsformer.config import PRETRAINABLE, setting


@dataclass
class Output:
    """Where a command writes, and how."""

    out: str | None = setting(help="where to write")  # each command says what it writes
    force: bool = setting(
        False,
        help="replace an existing --out that omicsformer made (never any other file or folder); "
        "train: also discard an interrupted run",
    )
    no_report: bool = setting(
        False,
        help="do not write report.html (the page of the results; `omicsformer report` makes it "
        "later)",
    )
    progress: bool = setting(False, help="show the epochs of each training run")
    resume: str | None = setting(metavar="RUN_DIR", help="continue an interrupted run")
    config: str | None = setting(help="start from this config.yaml (flags given here override it)")


@dataclass
class Models:
    """Which models, and their options."""

    models: str | None = setting(help="comma-separated models")
    option: list[str] = setting(
        [],
        flag="--option",
        short="-o",
        repeat=True,
        metavar="[MODEL.]KEY=VALUE",
        help="model option, repeatable; lists comma-separated (-o C=0.01,0.1); with several "
        "models a bare KEY goes to every model that has it, MODEL.KEY=VALUE to one (see "
        "`omicsformer models NAME`); train, tune, compare, bench augmentation: also a run "
        "setting by its config.yaml key, SECTION.KEY=VALUE (-o train.lr=1e-3, -o "
        "train.class_weight=none; see docs/options.md)",
    )
    attention: str | None = setting(
        help="attention backend of attomics and the gene-level models (a wrong name lists the "
        "valid ones; see docs/models.md 'Gene-level attention: one switch')"
    )
    grouping: str | None = setting(
        help="gene grouping (attomics, hybrid): random, kmeans, go-bp (the shipped GO "
        "biological-process sets, human symbols) or gmt:PATH (default: random); gene sets: at "
        "most -o max_sets=50"
    )
    drop_ungrouped: bool = setting(
        False,
        help="attomics, hybrid with go-bp or gmt: drop the genes in no (kept) set instead of "
        "grouping them",
    )
    synthetic_ratio: float | None = setting(
        low=0, open_low=True, help="cvae, wgan: synthetic patients per real one (default: 1)"
    )
    mask_fraction: float = setting(
        0.15,
        low=0,
        high=0.9,
        open_low=True,
        help="masked-expression pretraining: share of each patient's measured genes hidden and "
        "reconstructed",
    )


@dataclass
class CrossValidation:
    """Repetitions: of the folds (compare, bench augmentation; the folds themselves are the run
    setting ``split.folds``), or of a benchmark's timing (its help narrowed by
    :func:`omicsformer.cli.bench.add_repeats`)."""

    repeats: int = setting(
        1,
        low=1,
        help="repetitions of the k-fold split, with split seeds SEED, SEED+1, ... (the models "
        "keep --seed); differences and gains are tested over all repeats x folds",
    )


@dataclass
class Compare:
    """What compare adds beside the default models: tuned and pretrained variants."""

    tune: int | None = setting(
        low=1,
        metavar="TRIALS",
        help="also search TRIALS trials per model inside every training fold (nested CV) and "
        "report tuned beside default figures",
    )
    pretrain: bool = setting(
        False,
        help=f"also fine-tune {' / '.join(PRETRAINABLE)} from masked-expression "
        "pretraining on each fold's training patients, reported as NAME (pretrained)",
    )
    pretrain_data: str | None = setting(
        help="comma-separated unlabeled cohorts added to each fold's pretraining (implies "
        "--pretrain; aligned by gene name)"
    )
    pretrain_epochs: int = setting(30, low=1, help="pretraining epochs at most")


BenchDevice = Literal["cpu", "cuda"]
BenchPrecision = Literal["32", "bf16", "16"]


@dataclass
class Bench:
    """The sizes and settings of the benchmarks."""

    genes: list[int] = setting([1000, 4000], low=1, help="comma-separated gene (token) counts")
    backends: str | None = setting(help="comma-separated attention backends")
    batch: int = setting(1, low=1, help="patients per step")
    dim: int = setting(128, low=1, help="model width (heads x head dim)")
    heads: int = setting(4, low=1, help="attention heads")
    device: BenchDevice = setting("cpu", help="where to measure")
    precision: BenchPrecision = setting("32", help="number format")
    mode: Literal["fwd", "fwd+bwd"] = setting("fwd+bwd", help="what is timed")
    timeout: float = setting(
        600,
        low=0,
        open_low=True,
        help="seconds per configuration (bench gpu: its batch search included)",
    )
    mask_density: list[float] | None = setting(
        low=0,
        high=1,
        open_low=True,
        help="also time each backend with a gene-set mask (attention_mask=gmt:PATH) of synthetic "
        "random sets of F x N genes, for each comma-separated density F (e.g. 0.01,0.1)",
    )
    tokens: str = setting(
        "all",
        help="comma-separated token modes to measure: all (every gene a token, dense) and/or "
        "expressed (each patient's expressed genes only, the models' -o tokens=expressed)",
    )
    zero_fraction: float = setting(
        0.9,
        low=0,
        high=1,
        help="random data for expressed-only tokens: the share of genes with a zero value per "
        "patient (0.9: single-cell-like counts; bulk RNA-seq is nearer 0.3-0.5)",
    )
    memory_budget_gb: float | None = setting(
        low=0,
        open_low=True,
        help="skip configurations estimated above this (default: the machine's memory)",
    )
    precisions: str = setting("bf16,32", help="comma-separated number formats: bf16 and/or 32")
    max_batch: int = setting(1024, low=1, help="cap of the largest-batch search")
    smoke: bool = setting(
        False,
        help="one tiny configuration end to end (64 genes, the default backend, fp32; with "
        "--device cpu: the test suite's check)",
    )
    train_fractions: list[float] = setting(
        [0.1, 0.25, 0.5, 1.0],
        low=0,
        high=1,
        open_low=True,
        help="comma-separated fractions of each training fold, in (0, 1]",
    )
    test_patients: int = setting(200, low=1, help="test patients whose pairs are scored")


@dataclass
class Interpret:
    """What ``interpret`` (and ``bench interactions``) computes."""

    samples: str | None = setting(help="comma-separated sample IDs (default: all)")
    all: bool = setting(False, help="every sample of the data")
    top_k: int = setting(50, low=1, help="interactions kept per patient")
    methods: str | None = setting(
        help="comma-separated: attention, rollout, integrated_gradients, gradient_x_input, "
        "hessian, occlusion (default: all but occlusion)"
    )
    per_head: bool = setting(False, help="also keep every head's edges")
    plots: int = setting(5, low=0, help="patient heatmaps to draw")


@dataclass
class Pretrain:
    """The cohorts of ``omicsformer pretrain``."""

    data: list[str] = setting(
        [],
        repeat=True,
        help="a cohort (file or built-in name); repeat for several, aligned by gene name",
    )


@dataclass
class Fetch:
    """``fetch tcga``: what to download from the GDC API."""

    project: str | None = setting(help="GDC project ID, e.g. TCGA-BRCA")
    data_type: str = setting("Gene Expression Quantification", help="GDC data type of the files")
    workflow: str | None = setting(
        help="GDC analysis workflow (default: STAR - Counts for gene expression, else none)"
    )
    no_clinical: bool = setting(False, help="skip clinical.tsv")
    max_files: int | None = setting(
        low=1, help="at most this many files, for a first look (default: all)"
    )
    api: str | None = setting(help="GDC API root, an http(s) URL")
    timeout: float | None = setting(
        low=0,
        open_low=True,
        metavar="SECONDS",
        help="give up on a request (a page of the file list, or one file) once the GDC API has "
        "sent nothing for this long in all: connecting, waiting for an answer or for the next "
        "bytes, retries (at most 4) and back-off included",
    )


# one option string, different settings in different commands: (declarations) -> why
HOMONYMS = {
    "--data": "pretrain takes several cohorts (repeated); every other command one dataset",
    "--timeout": "a search's limit (tune), a benchmark configuration's, a download request's",
    "--device": "where to train (auto picks a GPU) or where a benchmark measures",
    "--precision": "the number format of training (mixed) or of a benchmark's kernel",
}
