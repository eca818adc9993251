"""Time one training step of the gene-transformer with tokens=all against tokens=expressed.

One step = forward + backward + AdamW step on one batch, default model options, fp32, CPU.
The two modes alternate (all, expressed, all, ...) so that load from other processes hits both.

Cohorts:

- ``hsmm:PATH``: a cells x genes CSV (gzip) of the HSMM single-cell data (Trapnell et al. 2014,
  Bioconductor ``HSMMSingleCell``: 271 cells x 47,192 genes, FPKM), written from the Debian
  package r-bioc-hsmmsinglecell with R (see docs/attention-methods.md);
- ``bulk``: simulated counts for 60,000 genes with ``--zeros`` of a sample's genes at zero
  (gene-specific zero propensities, Beta distributed, so some genes are never seen and most
  are always seen, as in a tumour's STAR counts over GENCODE).

    OMP_NUM_THREADS=2 python scripts/bench_expressed.py bulk --backend performer --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch

from omicsformer.config import build_options
from omicsformer.data.preprocess import Preprocessor
from omicsformer.models.gene_transformer import GeneTransformer, GeneTransformerOptions


def bulk_counts(n: int, genes: int, zeros: float, seed: int = 0) -> np.ndarray:
    """Counts (n, genes): a gene is at zero with its own probability (mean ``zeros``), else
    1 + Poisson of a log-normal level."""
    rng = np.random.default_rng(seed)
    a = 0.3  # Beta(a, b) with mean zeros: most genes near always-on or always-off
    p_zero = rng.beta(a, a * (1 - zeros) / zeros, size=genes)
    level = np.exp(rng.normal(3.0, 2.0, size=genes))
    counts = 1 + rng.poisson(level * rng.lognormal(0, 0.3, size=(n, 1)))
    return np.where(rng.random((n, genes)) < p_zero, 0, counts).astype(np.float32)


def read_cohort(spec: str, zeros: float) -> np.ndarray:
    if spec == "bulk":
        return bulk_counts(64, 60_000, zeros)
    import pandas as pd

    path = spec.split(":", 1)[1]
    return pd.read_csv(path, index_col=0).to_numpy(dtype=np.float32)


def step_time(model: GeneTransformer, opt: torch.optim.Optimizer, x: torch.Tensor) -> float:
    start = time.perf_counter()
    opt.zero_grad()
    model(x).sum().backward()
    opt.step()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("cohort", help="hsmm:PATH or bulk")
    parser.add_argument("--backend", default="sdpa")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--zeros", type=float, default=0.4, help="bulk: share of zero genes")
    parser.add_argument(
        "--modes", default="all,expressed", help="all, expressed, expressed@P (bucket_padding P)"
    )
    parser.add_argument("--bucket-padding", type=float, default=None)
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    args = parser.parse_args()

    raw = read_cohort(args.cohort, args.zeros)
    genes = [f"g{i}" for i in range(raw.shape[1])]
    pre = Preprocessor.fit(raw, genes, transform="log1p")  # z-scored, as a run does
    rows = np.random.default_rng(0).choice(len(raw), args.batch, replace=False)
    x = torch.from_numpy(pre.apply(raw[rows], genes))
    zero_share = (raw[rows] == 0).mean(axis=1)
    print(
        f"cohort {args.cohort}: {raw.shape[0]} x {raw.shape[1]} genes; batch {args.batch}: "
        f"zero genes per sample {zero_share.min():.1%}-{zero_share.max():.1%} "
        f"(mean {zero_share.mean():.1%}); torch threads {torch.get_num_threads()}"
    )
    thresholds = pre.model_value(0.0).tolist()
    models = {}
    for mode in args.modes.split(","):  # all, expressed, or expressed@P (bucket_padding P)
        tokens, _, padding = mode.partition("@")
        extra = {} if args.bucket_padding is None else {"bucket_padding": args.bucket_padding}
        if padding:
            extra["bucket_padding"] = float(padding)
        o = build_options(
            GeneTransformerOptions, {"attention": args.backend, "tokens": tokens, **extra}, "bench"
        )
        torch.manual_seed(0)
        model = GeneTransformer(o, len(genes), 2, thresholds=thresholds).train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        if tokens == "expressed":
            lengths = [len(k) for k in model.kept_genes(x)]
            print(f"expressed tokens per sample: {lengths}")
        models[mode] = (model, opt)
    for _ in range(args.warmup):
        for model, opt in models.values():
            step_time(model, opt, x)
    times: dict[str, list[float]] = {mode: [] for mode in models}
    for _ in range(args.repeats):
        for mode, (model, opt) in models.items():
            times[mode].append(step_time(model, opt, x))
            print(f"  {mode}: {times[mode][-1]:.2f} s", flush=True)
    for mode, ts in times.items():
        shown = ", ".join(f"{t:.2f}" for t in ts)
        print(f"{args.backend} tokens={mode}: median {statistics.median(ts):.2f} s/step ({shown})")
    if len(times) == 2:
        a, b = (statistics.median(ts) for ts in times.values())
        print(f"speed-up: {a / b:.1f}x")


if __name__ == "__main__":
    main()
