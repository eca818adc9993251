"""One-off side-by-side timing: this project's ``linformer`` against the PyPI ``linformer`` package.

Issue 16 asked for ``linformer`` at parity with lucidrains' ``linformer`` package (``pip install
linformer``; a benchmarking aid only, not a dependency). Both sides are one self-attention layer
with q/k/v/out projections: ours is :class:`~omicsformer.nn.mha.MultiHeadAttention` with the
``linformer`` backend, theirs is ``linformer.LinformerSelfAttention(dim, seq_len, k, heads,
dim_head, one_kv_head=False, share_kv=False)`` (separate key and value projections, as ours).
One timed call is forward + backward (``out.sum().backward()``, the input requiring grad) in
fp32 on CPU; the two are timed alternately (ours, theirs, ours, theirs, ...) so that a shared,
noisy machine slows both alike, and each pair gives one ratio ours / theirs. Printed: the median
of each side and the median of the per-pair ratios.

Run from the repository root (to time another checkout, point PYTHONPATH at its ``src``)::

    PYTHONPATH=src python scripts/bench_linformer_vs_pypi.py --tokens 16000,60000 --repeats 7
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from omicsformer.nn.attention import backend_options
from omicsformer.nn.mha import MultiHeadAttention


def step(layer: torch.nn.Module, x: torch.Tensor) -> float:
    """Seconds for one forward + backward of ``layer`` on ``x``."""
    start = time.perf_counter()
    out = layer(x)
    out = out[0] if isinstance(out, tuple) else out  # ours returns (out, weights)
    out.sum().backward()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", default="16000,60000", help="comma-separated token counts")
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--k", type=int, default=256, help="linformer rank")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7, help="timed pairs per size")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from linformer import LinformerSelfAttention  # pip install linformer (benchmarking only)

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(
        f"torch {torch.__version__}, threads {torch.get_num_threads()}, fp32, fwd+bwd, "
        f"batch {args.batch}, dim {args.dim}, heads {args.heads}, k {args.k}"
    )
    for n in (int(t) for t in args.tokens.split(",")):
        ours = MultiHeadAttention(
            args.dim,
            args.heads,
            "linformer",
            n_tokens=n,
            backend_options=backend_options("linformer", {"k": args.k}),
        )
        theirs = LinformerSelfAttention(
            args.dim,
            n,
            k=args.k,
            heads=args.heads,
            dim_head=args.dim // args.heads,
            one_kv_head=False,
            share_kv=False,
        )
        x = torch.randn(args.batch, n, args.dim, requires_grad=True)
        for layer in (ours, theirs):  # warm-up: allocator and kernels
            step(layer, x)
        times: dict[str, list[float]] = {"ours": [], "theirs": []}
        for _ in range(args.repeats):
            times["ours"].append(step(ours, x))
            times["theirs"].append(step(theirs, x))
        ratios = [a / b for a, b in zip(times["ours"], times["theirs"], strict=True)]
        print(
            f"n={n:>6}: ours {statistics.median(times['ours']):.3f} s, "
            f"theirs {statistics.median(times['theirs']):.3f} s, "
            f"ours/theirs median {statistics.median(ratios):.2f} "
            f"(pairs: {', '.join(f'{r:.2f}' for r in ratios)})"
        )


if __name__ == "__main__":
    main()
