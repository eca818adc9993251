"""One benchmark measurement in a fresh process; prints one JSON line on stdout.

python -m omicsformer.bench.worker attention '{"backend": "sdpa", "n": 4000, ...}'
python -m omicsformer.bench.worker matmul '{"device": "cpu", "precision": "32"}'
python -m omicsformer.bench.worker model '{"model": "mlp", "genes": 2000, ...}'
python -m omicsformer.bench.worker gpu '{"what": "attention", "case": {...}, "max_batch": 1024}'
"""

from __future__ import annotations

import dataclasses
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from omicsformer.memory import PeakMemory

COHORT = 32  # random counts-like data: patients preprocessing is fitted on (at least the batch)

MATMUL_SIZE_ENV = "OMICSFORMER_MATMUL_SIZE"  # the matmul peak's size when set (tests: a small one)

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
    shapes, masks = [(b, n)], [None]  # dense: one call over the whole batch
    if case.get("tokens", "all") == "expressed":  # packed in length buckets, as the model does
        shapes, masks = _packed(case, backend, device)
    layer = None
    if case.get("projections"):  # the attention layer: q, k, v and output projections around it
        layer = torch.nn.ModuleDict(
            {
                "qkv": torch.nn.Linear(case["dim"], 3 * case["dim"]),
                "out": torch.nn.Linear(*[case["dim"]] * 2),
            }
        ).to(device=device, dtype=dtype)
        inputs = [
            [_random((rows, tokens, case["dim"]), device, dtype, backward)]
            for rows, tokens in shapes
        ]
    else:
        inputs = [
            [_random((rows, h, tokens, d), device, dtype, backward) for _ in "qkv"]
            for rows, tokens in shapes
        ]

    def step() -> None:
        with torch.no_grad() if not backward else torch.enable_grad():
            for tensors, padding in zip(inputs, masks, strict=True):  # a bucket at a time
                if layer is None:
                    out, _ = backend(*tensors, mask=mask if padding is None else padding)
                else:
                    x = tensors[0]  # (B, N, E)
                    rows, tokens = x.shape[:2]
                    q, k, v = layer["qkv"](x).view(rows, tokens, 3, h, d).permute(2, 0, 3, 1, 4)
                    out, _ = backend(q, k, v, mask=mask if padding is None else padding)
                    out = layer["out"](
                        out.transpose(1, 2).reshape(rows, tokens, h * d)
                    )  # (B, N, E)
                if backward:
                    out.backward(torch.ones_like(out))
                    for t in tensors:
                        t.grad = None
                    if layer is not None:
                        layer.zero_grad(set_to_none=True)

    seconds, peak = timed(step, device, case["repeats"], case["warmup"])
    return {"status": "ok", "seconds": seconds, "peak_memory_mb": peak, "note": ""}


def _packed(case: dict[str, Any], backend: Any, device: str) -> tuple[list, list]:
    """The expressed mode's buckets: (patients, longest) shapes and key-padding masks (P, 1, 1, L)
    (True: a real token; None where every patient of the bucket has the same length)."""
    from omicsformer.bench.attention import AttentionCase
    from omicsformer.nn.packing import pack

    known = {f.name for f in dataclasses.fields(AttentionCase)}
    attention_case = AttentionCase(**{k: v for k, v in case.items() if k in known})
    lengths = torch.tensor(attention_case.lengths())
    keep = torch.arange(int(lengths.max()))[None, :] < lengths[:, None]  # (B, N): real tokens
    padding = attention_case.bucket_padding if backend.info.key_padding else 0.0
    buckets = pack(keep, padding)  # the models' own packing
    shapes = [(len(b.rows), b.positions.shape[1]) for b in buckets]
    return shapes, [None if b.mask is None else b.mask.to(device) for b in buckets]


def _random(shape: tuple[int, ...], device: str, dtype: torch.dtype, grad: bool) -> torch.Tensor:
    return (torch.randn(*shape, device=device, dtype=dtype) * 0.5).requires_grad_(grad)


def matmul(case: dict[str, Any]) -> dict[str, Any]:
    """The device's peak: GFLOP/s of a square matmul (8192² on CUDA, 4096² on a CPU, the size
    docs/attention-methods.md cites). ``OMICSFORMER_MATMUL_SIZE`` sets another size: the test
    suite's smaller one, a CPU's 4096² being about 10 s of a core."""
    device, dtype = case["device"], DTYPES[case["precision"]]
    size = int(os.environ.get(MATMUL_SIZE_ENV) or (8192 if device == "cuda" else 4096))
    a = torch.randn(size, size, device=device, dtype=dtype)
    b = torch.randn(size, size, device=device, dtype=dtype)
    seconds, _ = timed(lambda: a @ b, device, repeats=5, warmup=2)
    return {"status": "ok", "gflops": 2 * size**3 / seconds / 1e9, "size": size}


def counts_like(patients: int, genes: int, zero_fraction: float, seed: int = 0) -> np.ndarray:
    """Random counts-like data (patients x genes): each value zero with probability
    ``zero_fraction``, otherwise a count of at least 1 (1 + Poisson of a per-gene mean drawn
    log-normally, so genes differ in level as real ones do); float32."""
    rng = np.random.default_rng(seed)
    level = rng.lognormal(mean=1.0, sigma=1.0, size=genes)  # per-gene mean count
    counts = 1 + rng.poisson(level, size=(patients, genes))
    expressed = rng.random((patients, genes)) >= zero_fraction
    return np.where(expressed, counts, 0).astype(np.float32)


def model_batch(case: dict[str, Any]) -> tuple[list[str], np.ndarray, Any]:
    """The genes and preprocessed values (batch x genes) one step trains on, and the fitted
    preprocessor (None for Gaussian data: nothing fitted, the values are the inputs).

    ``data``: a file or built-in name read by the library's reader, every gene of it (or the
    ``top_genes`` most variable), preprocessing fitted on all its patients as a run fits it on
    its training part (a speed benchmark: nothing is held out), the batch drawn from its patients
    (seeded). Otherwise random: counts-like with ``zero_fraction`` zeros when given (so the
    expressed-only mode has genes to skip; log1p and z-score as a run would), else Gaussian."""
    from omicsformer.data.preprocess import Preprocessor

    rng = np.random.default_rng(0)
    if case.get("data"):
        from omicsformer.data.readers import load_data

        adata = load_data(case["data"])
        values = np.asarray(adata.X, dtype=np.float32)
        genes = list(adata.var_names)
        transform = case.get("transform", "none")
        rows = rng.choice(len(values), case["batch"], replace=case["batch"] > len(values))
    elif case.get("zero_fraction") is not None:  # a cohort to fit on, the batch drawn from it
        cohort = max(case["batch"], COHORT)
        values = counts_like(cohort, case["genes"], case["zero_fraction"])
        genes = [f"g{i}" for i in range(case["genes"])]
        transform, rows = "log1p", np.arange(case["batch"])
    else:  # Gaussian, already on a z-score-like scale: nothing to fit
        genes = [f"g{i}" for i in range(case["genes"])]
        torch.manual_seed(0)
        x = torch.randn(case["batch"], len(genes)).numpy()
        return genes, x, None
    preprocessor = Preprocessor.fit(
        values, genes, transform=transform, top_genes=case.get("top_genes")
    )
    return preprocessor.genes, preprocessor.apply(values[rows], genes), preprocessor


@torch.no_grad()
def kept_tokens(module: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    """Tokens each patient of ``x`` (B, G) keeps in ``module``: the network's own selection
    with ``tokens=expressed`` (its ``expressed_genes``), else every gene."""
    select = getattr(module, "expressed_genes", None)
    if select is None:
        return np.full(len(x), x.shape[1])
    return select(x).sum(dim=1).cpu().numpy()


def model_step(case: dict[str, Any]) -> dict[str, Any]:
    """One training step (forward, backward, AdamW) of a registered model on one batch
    (:func:`model_batch`: random data or a real matrix)."""
    from omicsformer.bench.attention import tokens_kept
    from omicsformer.models import MODELS, ModelContext
    from omicsformer.tasks import TargetInfo

    device = case["device"]
    genes, values, preprocessor = model_batch(case)
    target = TargetInfo("classification", ["y"], ["a", "b"])
    # the fitted preprocessing goes to the model as a run gives it (tokens=expressed maps its raw
    # threshold through it)
    context = ModelContext(genes, target, seed=0, preprocessor=preprocessor)
    spec = MODELS.get(case["model"])
    options = spec.parse_options(case.get("options", {}))
    torch.manual_seed(0)
    x = torch.as_tensor(values, dtype=torch.float32)
    y = torch.randint(0, 2, (case["batch"],))
    model = spec.build(options, context)
    module = model.network(options, context, model.architecture(options, context, x.numpy()))
    module.to(device).train()
    x, y = x.to(device), y.to(device)
    kept = kept_tokens(module, x)
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
        "genes": len(genes),
        **tokens_kept(kept),
        "note": "",
    }


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` says the device ran out of memory (CUDA's error, or a kernel's message)."""
    return isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower()


def largest_batch(fits: Callable[[int], bool], cap: int) -> int:
    """The largest batch in [1, cap] for which ``fits`` holds (0 if not even 1 fits), assuming
    that a batch fits when a larger one does: doubling from 1, then bisection between the last
    batch that fit and the first that did not; about 2·log2(cap) calls at most."""
    if cap < 1 or not fits(1):
        return 0
    good = 1
    while good < cap:  # doubling: good fits, bad (if any) does not
        trial = min(2 * good, cap)
        if not fits(trial):
            bad = trial
            break
        good = trial
    else:
        return good
    while bad - good > 1:
        middle = (good + bad) // 2
        good, bad = (middle, bad) if fits(middle) else (good, middle)
    return good


def largest(payload: dict[str, Any]) -> dict[str, Any]:
    """``payload["case"]`` (an attention layer or a model step) at the largest batch up to
    ``max_batch`` that fits (:func:`largest_batch`: one untimed step per probe, out-of-memory
    caught), then timed at that batch."""
    import gc

    measure = attention if payload["what"] == "attention" else model_step
    case = payload["case"]

    def fits(batch: int) -> bool:
        try:
            measure({**case, "batch": batch, "repeats": 1, "warmup": 0})
            return True
        except Exception as exc:  # only out-of-memory means "does not fit"; the rest is a bug
            if not is_out_of_memory(exc):
                raise
            return False
        finally:
            gc.collect()
            if case["device"] == "cuda":
                torch.cuda.empty_cache()

    batch = largest_batch(fits, payload["max_batch"])
    if batch == 0:
        return {"status": "oom", "batch": 0, "note": "batch 1 does not fit in memory"}
    return {**measure({**case, "batch": batch}), "batch": batch}


def main() -> None:
    kind, payload = sys.argv[1], json.loads(sys.argv[2])
    threads = payload.get("threads")
    if threads:
        torch.set_num_threads(int(threads))
    kinds = {"attention": attention, "matmul": matmul, "model": model_step, "gpu": largest}
    result = kinds[kind](payload)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
