"""One benchmark measurement in a fresh process; prints one JSON line on stdout.

python -m omicsformer.bench.worker attention '{"backend": "sdpa", "n": 4000, ...}'
python -m omicsformer.bench.worker matmul '{"device": "cpu", "precision": "32"}'
python -m omicsformer.bench.worker model '{"model": "mlp", "genes": 2000, ...}'
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import torch

from omicsformer.memory import PeakMemory

DTYPES = {"32": torch.float32, "bf16": torch.bfloat16, "16": torch.float16}


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def timed(step: Callable[[], Any], device: str, repeats: int, warmup: int) -> tuple[float, float]:
    """Median seconds of ``step`` over ``repeats`` (after ``warmup`` untimed calls), and the peak
    memory in MB over all calls, warm-up included, so first-call allocations (optimizer state,
    autograd buffers) count: the CUDA allocator's peak, or the growth of the CPU process's RSS
    above its level before the first call (inputs and model already allocated)."""
    times = []
    with PeakMemory() as memory:
        for _ in range(warmup):
            step()
        _sync(device)
        for _ in range(repeats):
            start = time.perf_counter()
            step()
            _sync(device)
            times.append(time.perf_counter() - start)
    peak = memory.cuda_peak_mb if device == "cuda" else memory.peak_mb
    return statistics.median(times), peak


def attention(case: dict[str, Any]) -> dict[str, Any]:
    from omicsformer.nn.attention import make_backend

    device, dtype = case["device"], DTYPES[case["precision"]]
    b, h, n, d = case["batch"], case["heads"], case["n"], case["dim"] // case["heads"]
    backend = make_backend(case["backend"], n_tokens=n, head_dim=d).to(device)
    mask = None
    if case.get("mask_density"):  # one global token + gene sets of synthetic random blocks
        from omicsformer.bench.attention import synthetic_gene_sets
        from omicsformer.nn.attention.masks import GeneSetMask

        gene_sets = synthetic_gene_sets(n - 1, case["mask_density"])
        mask = GeneSetMask(gene_sets, n_global=1).to(device)
    backward = case["mode"] == "fwd+bwd"
    torch.manual_seed(0)
    q, k, v = (
        (torch.randn(b, h, n, d, device=device, dtype=dtype) * 0.5).requires_grad_(backward)
        for _ in range(3)
    )

    def step() -> None:
        with torch.no_grad() if not backward else torch.enable_grad():
            out, _ = backend(q, k, v, mask=mask)
            if backward:
                out.backward(torch.ones_like(out))
                for t in (q, k, v):
                    t.grad = None

    seconds, peak = timed(step, device, case["repeats"], case["warmup"])
    return {"status": "ok", "seconds": seconds, "peak_memory_mb": peak, "note": ""}


def matmul(case: dict[str, Any]) -> dict[str, Any]:
    device, dtype = case["device"], DTYPES[case["precision"]]
    size = 8192 if device == "cuda" else 4096
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    seconds, _ = timed(lambda: a @ b, device, repeats=5, warmup=2)
    return {"status": "ok", "gflops": 2 * size**3 / seconds / 1e9, "size": size}


def model_step(case: dict[str, Any]) -> dict[str, Any]:
    """One training step (forward, backward, AdamW) of a registered model on random data."""
    from omicsformer.models import MODELS, ModelContext
    from omicsformer.tasks import TargetInfo

    device = case["device"]
    genes = [f"g{i}" for i in range(case["genes"])]
    context = ModelContext(genes, TargetInfo("classification", ["y"], ["a", "b"]), seed=0)
    spec = MODELS.get(case["model"])
    options = spec.parse_options(case.get("options", {}))
    torch.manual_seed(0)
    x = torch.randn(case["batch"], len(genes))
    y = torch.randint(0, 2, (case["batch"],))
    model = spec.build(options, context)
    module = model.network(options, context, model.architecture(options, context, x.numpy()))
    module.to(device).train()
    x, y = x.to(device), y.to(device)
    optimizer = torch.optim.AdamW(module.parameters(), lr=1e-4)
    autocast = torch.autocast(device, dtype=torch.bfloat16, enabled=case["precision"] == "bf16")

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with autocast:
            loss = torch.nn.functional.cross_entropy(module(x).float(), y)
        loss.backward()
        optimizer.step()

    seconds, peak = timed(step, device, case["repeats"], case["warmup"])
    from omicsformer.models.neural import count_parameters

    return {
        "status": "ok",
        "seconds": seconds,
        "peak_memory_mb": peak,
        "n_parameters": count_parameters(module),
        "note": "",
    }


def main() -> None:
    kind, payload = sys.argv[1], json.loads(sys.argv[2])
    threads = payload.get("threads")
    if threads:
        torch.set_num_threads(int(threads))
    result = {"attention": attention, "matmul": matmul, "model": model_step}[kind](payload)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
