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
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from omicsformer.console import note
from omicsformer.errors import ConfigError
from omicsformer.fileio import OutputFolder, write_with
from omicsformer.report.pages import stage_report
from omicsformer.report.pages.bench import attention_label, attention_scaling
from omicsformer.report.plots import plt

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

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads

    def flops(self) -> float:
        forward = 4.0 * self.batch * self.n**2 * self.heads * self.head_dim
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
) -> pd.DataFrame:
    """Measure every (backend, n) configuration, unmasked and with a gene-set mask of each of
    ``mask_densities``; write attention.csv, attention.png and (with ``report``) report.html."""
    from omicsformer.nn.attention import BACKENDS

    densities = list(mask_densities or [])
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
            for backend, density in [(b, f) for b in backends for f in [0.0, *densities]]:
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
                )
                row: dict[str, Any] = {**asdict(case), "head_dim": case.head_dim}
                estimate = case.estimated_bytes()
                if estimate > budget:
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
            "n",
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
        if report:  # after the results: a failing page costs a warning, not them
            stage_report(folder, "bench-attention", output.target)
        output.publish()
    return frame


def _describe(row: dict[str, Any]) -> str:
    head = f"{attention_label(row['backend'], row['mask_density']):>9} n={row['n']:>6}"
    if row.get("status") != "ok":
        return f"{head}: {row.get('status')} ({row.get('note', '')})"
    return (
        f"{head}: {row['seconds']:.4f} s, {row['peak_memory_mb']:.0f} MB, "
        f"{row['gflops']:.1f} GFLOP/s ({row['fraction_of_matmul']:.0%} of matmul)"
    )


def plot_scaling(frame: pd.DataFrame, path: str | Path) -> None:
    """Time and peak memory vs tokens, log-log, one line per backend (the page's figure)."""
    fig = attention_scaling(frame)
    fig.savefig(path, format="png", dpi=110)
    plt.close(fig)
