"""``omicsformer bench attention``: time and peak memory of each attention backend vs tokens.

Every configuration runs in a fresh Python process (``python -m omicsformer.bench.worker``), so
one configuration's memory never leaks into the next and a crash or out-of-memory is recorded as
a failed row instead of ending the benchmark. The matmul peak is measured in the same run (a
square matmul in the same dtype and device), and each row reports its fraction of it.

FLOPs follow the FlashAttention benchmarks: forward 4·B·N²·H·D (two N x N x D matmuls per head),
backward 2.5x forward, forward+backward 3.5x. For approximate backends the same formula gives
the *exact-attention-equivalent* rate: how fast they deliver what exact attention would cost.

``mask_densities`` adds, for every backend and N, one row per density F with a gene-set mask of
synthetic random block structure (:func:`synthetic_gene_sets`: the genes cut at random into sets
of F·N genes, plus one global token), the structure ``attention_mask=gmt:PATH`` gives the models.
Masked rows report the same exact-equivalent FLOP rate.

``tokens`` ``expressed`` (beside ``all``, the dense mode) times the expressed-only mode of the
gene models (``-o tokens=expressed``): each patient keeps only its expressed genes, a share
``1 - zero_fraction`` of them on average (:meth:`AttentionCase.lengths`: seeded binomial counts,
as in counts-like single-cell data where ~90 % of a cell's genes are zero), packed as the
models pack them (:func:`omicsformer.nn.packing.pack`): patients sorted by length, those
whose lengths differ by at most ``bucket_padding`` run together, padded to their bucket's longest
with a key-padding mask (backends without key-padding masks: equal lengths only). FLOPs count
4·Σ_b n_b²·H·D, the work the kept tokens need (padding not counted). Backends built for a fixed
number of tokens (``linformer``) have no expressed mode: those rows are skipped.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from omicsformer.console import note
from omicsformer.errors import ConfigError
from omicsformer.fileio import OutputFolder, write_with

if TYPE_CHECKING:
    import pandas as pd

# pandas and the report pages are imported where used: every measuring process imports this
# module (AttentionCase, tokens_kept), and they would double its start-up

BYTES = {"32": 4, "bf16": 2, "16": 2}


@dataclass
class AttentionCase:
    """One benchmark configuration (all sizes explicit)."""

    backend: str
    n: int
    batch: int = 1
    dim: int = 128
    heads: int = 4
    device: str = "cpu"
    precision: str = "32"
    mode: str = "fwd+bwd"
    repeats: int = 3
    warmup: int = 1
    mask_density: float = 0.0  # 0: no mask; F: synthetic gene sets of F·N genes
    tokens: str = "all"  # all: every gene a token; expressed: each patient's expressed genes
    zero_fraction: float = 0.0  # expressed: the share of genes a patient does not express
    bucket_padding: float = 0.25  # expressed: the models' option of that name

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads

    def lengths(self) -> list[int]:
        """Tokens each patient keeps: ``n`` each (all), or seeded Binomial(n, 1 - zero_fraction)
        counts, at least 1 (expressed); the parent and the worker draw the same ones."""
        if self.tokens == "all":
            return [self.n] * self.batch
        rng = np.random.default_rng(0)
        kept = rng.binomial(self.n, 1.0 - self.zero_fraction, size=self.batch)
        return [max(1, int(k)) for k in kept]

    def flops(self) -> float:
        squares = sum(n_b**2 for n_b in self.lengths())  # Σ_b n_b²: B·N² when dense
        forward = 4.0 * squares * self.heads * self.head_dim
        return forward * (3.5 if self.mode == "fwd+bwd" else 1.0)

    def estimated_bytes(self) -> float:
        """Rough peak for the budget check: the N x N matrices of eager, linear sizes otherwise."""
        size = BYTES[self.precision]
        tensors = 3 * self.batch * self.n * self.dim * size * (3 if self.mode == "fwd+bwd" else 1)
        if self.backend == "eager":
            matrices = 4 if self.mode == "fwd+bwd" else 2  # scores, softmax (+ their gradients)
            mask = self.n**2 if self.mask_density else 0  # the dense boolean mask
            return tensors + matrices * self.batch * self.heads * self.n**2 * max(size, 4) + mask
        if self.mask_density:  # the chunked kernel's mask slice, as bool, fp32 bias and indices
            from omicsformer.nn.attention.masks import CHUNK_ELEMENTS

            return tensors * 4 + 16 * min(CHUNK_ELEMENTS, self.n**2)
        return tensors * 4


def synthetic_gene_sets(n_genes: int, density: float, seed: int = 0) -> list[list[int]]:
    """Each gene's set (one each): a seeded random permutation cut into sets of
    ``max(1, round(density · n_genes))`` genes, so that a fraction ``density`` of the gene pairs
    may attend (a random block structure: the blocks are scattered over the token order)."""
    size = max(1, round(density * n_genes))
    order = np.random.default_rng(seed).permutation(n_genes)
    gene_sets: list[list[int]] = [[] for _ in range(n_genes)]
    for position, gene in enumerate(order):
        gene_sets[gene] = [position // size]
    return gene_sets


def run_worker(kind: str, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Run one measurement in a fresh process; return its JSON result or the failure."""
    command = [sys.executable, "-m", "omicsformer.bench.worker", kind, json.dumps(payload)]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        proc = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        return {"status": "failed", "note": f"timed out after {timeout:.0f} s"}
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        if proc.returncode in (-9, 137):
            tail = "killed (out of memory?)"
        return {"status": "failed", "note": tail[:300]}
    return json.loads(lines[-1])


def memory_budget_bytes(device: str, budget_gb: float | None) -> float:
    if budget_gb is not None:
        return budget_gb * 2**30
    if device == "cuda":
        import torch

        return 0.9 * torch.cuda.get_device_properties(0).total_memory
    return 0.75 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def bench_attention(
    genes: list[int],
    backends: list[str],
    out_dir: str | Path,
    *,
    batch: int = 1,
    dim: int = 128,
    heads: int = 4,
    device: str = "cpu",
    precision: str = "32",
    mode: str = "fwd+bwd",
    repeats: int = 3,
    memory_budget_gb: float | None = None,
    timeout: float = 600.0,
    overwrite: bool = False,
    report: bool = True,
    mask_densities: list[float] | None = None,
    tokens: list[str] | None = None,
    zero_fraction: float = 0.9,
) -> pd.DataFrame:
    """Measure every (backend, n) configuration, unmasked and with a gene-set mask of each of
    ``mask_densities``, in each ``tokens`` mode (``all``; ``expressed``, with ``zero_fraction``
    of the genes unexpressed); write attention.csv, attention.png and (with ``report``)
    report.html."""
    import pandas as pd

    from omicsformer.nn.attention import BACKENDS
    from omicsformer.report.pages import publish_with_report

    densities = list(mask_densities or [])
    modes = check_tokens(tokens or ["all"], zero_fraction)
    if densities and "expressed" in modes:
        raise ConfigError("--mask-density and --tokens expressed are measured in separate runs")
    for name in backends:
        info = BACKENDS.get(name).info
        if densities and not info.supports_mask:
            able = ", ".join(n for n, c in BACKENDS.items() if c.info.supports_mask)
            raise ConfigError(
                f"--mask-density needs backends that honour masks ({able}); {name!r} does not"
            )
    if any(not 0 < f <= 1 for f in densities):
        raise ConfigError(f"--mask-density values must be in (0, 1], got {densities}")
    if dim % heads:
        raise ConfigError(f"--dim {dim} is not divisible by --heads {heads}")
    if precision not in BYTES or mode not in ("fwd", "fwd+bwd"):
        raise ConfigError("--precision must be 32, bf16 or 16 and --mode fwd or fwd+bwd")
    output = OutputFolder(out_dir, kind="bench-attention", overwrite=overwrite)
    output.check()
    with output:
        folder = output.create()
        budget = memory_budget_bytes(device, memory_budget_gb)
        peak = run_worker("matmul", {"device": device, "precision": precision}, timeout)
        matmul_gflops = peak.get("gflops", math.nan)
        note(f"matmul peak ({device}, {precision}): {matmul_gflops:.1f} GFLOP/s")
        rows = []
        for n in genes:
            configurations = [(b, f, t) for t in modes for b in backends for f in [0.0, *densities]]
            for backend, density, token_mode in configurations:
                case = AttentionCase(
                    backend,
                    n,
                    batch,
                    dim,
                    heads,
                    device,
                    precision,
                    mode,
                    repeats,
                    mask_density=density,
                    tokens=token_mode,
                    zero_fraction=zero_fraction if token_mode == "expressed" else 0.0,
                )
                row: dict[str, Any] = {**asdict(case), "head_dim": case.head_dim}
                row.update(tokens_kept(case.lengths()))
                estimate = case.estimated_bytes()
                if token_mode == "expressed" and BACKENDS.get(backend).info.fixed_tokens:
                    row.update(
                        status="skipped",
                        note=f"{backend} is built for a fixed number of tokens: no expressed mode",
                    )
                elif estimate > budget:
                    row.update(
                        status="skipped",
                        note=f"estimated {estimate / 2**30:.1f} GB, over the "
                        f"{budget / 2**30:.1f} GB memory budget",
                    )
                else:
                    row.update(run_worker("attention", asdict(case), timeout))
                seconds = row.get("seconds", math.nan)
                row["gflops"] = (
                    case.flops() / seconds / 1e9 if seconds and seconds == seconds else math.nan
                )
                row["matmul_gflops"] = matmul_gflops
                row["fraction_of_matmul"] = row["gflops"] / matmul_gflops
                rows.append(row)
                note(_describe(row))
        frame = pd.DataFrame(rows)
        columns = [
            "backend",
            "mask_density",
            "tokens",
            "zero_fraction",
            "n",
            "tokens_mean",
            "tokens_min",
            "tokens_max",
            "batch",
            "dim",
            "heads",
            "head_dim",
            "precision",
            "mode",
            "device",
            "status",
            "seconds",
            "peak_memory_mb",
            "gflops",
            "matmul_gflops",
            "fraction_of_matmul",
            "repeats",
            "note",
        ]
        frame = frame.reindex(columns=columns)
        write_with(folder / "attention.csv", lambda tmp: frame.to_csv(tmp, index=False))
        write_with(folder / "attention.png", lambda tmp: plot_scaling(frame, tmp))
        publish_with_report(output, report)
    return frame


TOKEN_MODES = ("all", "expressed")


def check_tokens(modes: list[str], zero_fraction: float) -> list[str]:
    """The ``--tokens`` modes, checked (``all``: dense; ``expressed``: expressed genes only)."""
    unknown = [m for m in modes if m not in TOKEN_MODES]
    if unknown or not modes:
        raise ConfigError(f"--tokens takes all and/or expressed, got {','.join(modes)!r}")
    if not 0 <= zero_fraction < 1:
        raise ConfigError(f"--zero-fraction must be in [0, 1), got {zero_fraction}")
    return list(dict.fromkeys(modes))


def tokens_kept(lengths: list[int] | np.ndarray) -> dict[str, float]:
    """Mean, min and max tokens kept per patient (the tokens columns of the benchmarks)."""
    kept = np.asarray(lengths, dtype=float)
    return {
        "tokens_mean": float(kept.mean()),
        "tokens_min": int(kept.min()),
        "tokens_max": int(kept.max()),
    }


def _describe(row: dict[str, Any]) -> str:
    from omicsformer.report.pages.bench import attention_label

    label = attention_label(row["backend"], row["mask_density"], row.get("tokens", "all"))
    head = f"{label:>9} n={row['n']:>6}"
    if row.get("tokens") == "expressed":
        head += f" (kept {row['tokens_mean']:.0f} per patient)"
    if row.get("status") != "ok":
        return f"{head}: {row.get('status')} ({row.get('note', '')})"
    return (
        f"{head}: {row['seconds']:.4f} s, {row['peak_memory_mb']:.0f} MB, "
        f"{row['gflops']:.1f} GFLOP/s ({row['fraction_of_matmul']:.0%} of matmul)"
    )


def plot_scaling(frame: pd.DataFrame, path: str | Path) -> None:
    """Time and peak memory vs tokens, log-log, one line per backend (the page's figure)."""
    from omicsformer.report.pages.bench import attention_scaling
    from omicsformer.report.plots import plt

    fig = attention_scaling(frame)
    fig.savefig(path, format="png", dpi=110)
    plt.close(fig)
