"""``omicsformer bench gpu`` (``make bench-gpu``): the GPU table of docs/attention-methods.md in
one command.

For each precision (bf16, fp32), gene count (1k-60k) and attention backend (:func:`table_backends`:
every registered backend that does not write the N x N matrix out, read from the registry, with
``flex`` after the exact ones; and the default backend, ``sdpa``, in the expressed-only mode;
``flash`` when flash-attn is installed), one attention layer (q/k/v and output projections around
the kernel; forward + backward) runs at **the largest batch that fits**
(:func:`omicsformer.bench.worker.largest_batch`: doubling, then bisection, on CUDA out-of-memory,
up to ``max_batch``); then the gene-transformer's
training step, dense (``tokens=all``) and expressed-only (``tokens=expressed``, counts-like data
with ``zero_fraction`` zeros) twice: in masked length buckets, and through ``sdpa_varlen`` (the
whole batch in one bucket, the padding skipped by PyTorch's varlen kernels), each at its own
largest batch. Each configuration runs in a fresh
process (``python -m omicsformer.bench.worker gpu``); the search runs inside it.

Notation: B batch, N tokens (genes), H heads, D head dim, E = H·D the layer's width.

FLOPs (:func:`layer_flops`): attention by the FlashAttention convention, forward 4·Σ_b N_b²·H·D
(for approximations the exact-equivalent count, as in ``bench attention``), plus the projections,
forward 2·Σ_b N_b·E·4E (q, k, v, out); forward + backward is 3.5x the attention's forward and 3x
the projections'. TFLOP/s are set against the device's dense peak for the precision
(:data:`PEAKS`, :func:`device_peak`); an unknown device gets no percentage, and the table says so.
``flex`` is FlexAttention as this project runs it: ``sdpa`` with a gene-set mask that allows
every pair (one set of all genes; on CUDA :func:`omicsformer.nn.attention.masks.masked_attention`
compiles FlexAttention with a ``BlockMask``), so its cost is FlexAttention's, not SDPA's.

Writes ``attention-gpu.csv`` and ``attention-gpu.png`` into ``out`` (``docs/`` by default, where
docs/attention-methods.md reads them) and returns the Markdown table to paste. ``device="cpu"``
with ``smoke`` runs one tiny configuration end to end (the test suite's check of the whole path).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from omicsformer.bench.attention import AttentionCase, run_worker, tokens_kept
from omicsformer.config import GPU_MODEL
from omicsformer.console import note
from omicsformer.errors import ConfigError
from omicsformer.fileio import write_with
from omicsformer.report.plots import plt

GENES = [1000, 4000, 16000, 30000, 60000]
# not a registered backend: the default (exact) backend with a gene-set mask, timed through
# FlexAttention (see the module's docstring); every other backend name comes from the registry
FLEX = "flex"
PRECISIONS = ["bf16", "32"]
CSV_NAME, PLOT_NAME = "attention-gpu.csv", "attention-gpu.png"
# expressed-only model rows through sdpa's variable-length path: one bucket (any lengths)
VARLEN_OPTIONS = {"sdpa_varlen": True, "bucket_padding": 1e9}


@dataclass(frozen=True)
class Peak:
    """A device's dense peak, TFLOP/s, per precision (fp32: without TF32, PyTorch's default for
    matmuls), and where the figure comes from."""

    device: str
    bf16: float
    fp32: float
    source: str


# matched in order against torch.cuda.get_device_name() (first hit wins: H100 PCIe before H100)
PEAKS: list[tuple[tuple[str, ...], Peak]] = [
    (("H200",), Peak("H200", 989.0, 67.0, "H100 SXM compute (same chip, more memory)")),
    (("H100", "PCIe"), Peak("H100 PCIe", 756.0, 51.0, "references.md; NVIDIA datasheet")),
    (("H100",), Peak("H100 SXM", 989.0, 67.0, "references.md; NVIDIA datasheet")),
    (("A100",), Peak("A100", 312.0, 19.5, "NVIDIA A100 datasheet")),
    (("L40S",), Peak("L40S", 362.0, 91.6, "NVIDIA L40S datasheet")),
    (("L4",), Peak("L4", 121.0, 30.3, "NVIDIA L4 datasheet")),
]


def device_peak(name: str) -> Peak | None:
    """The dense peak of the device called ``name`` (as ``torch.cuda.get_device_name`` says it);
    None for a device not in :data:`PEAKS`."""
    for words, peak in PEAKS:
        if all(word.lower() in name.lower() for word in words):
            return peak
    return None


def peak_tflops(peak: Peak | None, precision: str) -> float:
    """The peak for ``precision`` (``bf16`` or ``32``); NaN for an unknown device."""
    if peak is None:
        return math.nan
    return peak.bf16 if precision == "bf16" else peak.fp32


def layer_flops(lengths: list[int], heads: int, head_dim: int, mode: str = "fwd+bwd") -> float:
    """FLOPs of one attention layer over patients of ``lengths`` tokens: the kernel (4·N²·H·D
    forward per patient, x3.5 with the backward) and the four E x E projections (2·N·E·4E
    forward, x3 with the backward: two matmuls per forward one)."""
    width = heads * head_dim
    kernel = 4.0 * sum(n**2 for n in lengths) * heads * head_dim  # QKᵀ and PV: 2 x 2·N²·D per head
    projections = 2.0 * sum(lengths) * width * 4 * width  # q, k, v, out: (N, E) @ (E, E) each
    if mode == "fwd+bwd":
        return 3.5 * kernel + 3.0 * projections
    return kernel + projections


def table_backends() -> list[str]:
    """The backends of the table, in order: the exact ones, ``flex``, the approximations; every
    registered backend except those that write the whole N x N matrix out (``returns_weights``:
    out of memory past a few thousand genes)."""
    from omicsformer.nn.attention import BACKENDS

    names = [n for n, b in BACKENDS.items() if not b.info.returns_weights]
    exact = [n for n in names if BACKENDS.get(n).info.exact]
    return [*exact, FLEX, *(n for n in names if n not in exact)]


def default_backend() -> str:
    """The backend of the expressed-only rows and under ``flex``: the models' default."""
    from omicsformer.nn.attention import DEFAULT_BACKEND

    return DEFAULT_BACKEND


def backend_problem(backend: str, device: str, precision: str) -> str:
    """Why ``backend`` cannot run here ('' if it can): its declared devices and dtypes, and the
    flash-attn package for ``flash``."""
    import torch

    from omicsformer.nn.attention import BACKENDS
    from omicsformer.nn.attention.flash import FlashAttention

    name = default_backend() if backend == FLEX else backend
    if backend == FLEX and device != "cuda":
        return "FlexAttention runs on CUDA only here (no backward on CPU in PyTorch 2.13)"
    dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    try:
        BACKENDS.get(name).check(device=device, dtype=dtype, masked=backend == FLEX)
    except ConfigError as exc:
        return str(exc)
    if backend == FlashAttention.info.name and importlib.util.find_spec("flash_attn") is None:
        return "flash-attn is not installed (pip install 'omicsformer[flash]')"
    return ""


def configurations(
    genes: list[int], backends: list[str], precisions: list[str], model: str | None
) -> list[dict[str, Any]]:
    """Every configuration of the table, in order: per precision and gene count, each backend
    dense, ``sdpa`` expressed-only, then ``model`` dense, expressed-only in masked length
    buckets, and expressed-only with ``sdpa_varlen`` (the whole batch in one bucket, padding
    skipped by the varlen kernels: :data:`VARLEN_OPTIONS`)."""
    cases = []
    default = default_backend()
    for precision in precisions:
        for n in genes:
            kinds = [("attention", backend, "all", False) for backend in backends]
            if default in backends:
                kinds.append(("attention", default, "expressed", False))
            if model:
                kinds += [("model", model, tokens, False) for tokens in ("all", "expressed")]
                kinds.append(("model", model, "expressed", True))  # sdpa_varlen, one bucket
            cases += [
                {
                    "what": what,
                    "name": name,
                    "tokens": tokens,
                    "varlen": varlen,
                    "n": n,
                    "precision": precision,
                }
                for what, name, tokens, varlen in kinds
            ]
    return cases


def bench_gpu(
    out_dir: str | Path = "docs",
    *,
    genes: list[int] | None = None,
    backends: list[str] | None = None,
    precisions: list[str] | None = None,
    model: str | None = GPU_MODEL,
    dim: int = 512,
    heads: int = 8,
    zero_fraction: float = 0.9,
    max_batch: int = 1024,
    repeats: int = 3,
    device: str = "cuda",
    smoke: bool = False,
    timeout: float = 1800.0,
    overwrite: bool = False,
) -> tuple[pd.DataFrame, str]:
    """Run the GPU table; write ``attention-gpu.csv`` and ``attention-gpu.png`` into ``out_dir``
    and return the rows and the Markdown table. ``smoke`` (any device): one tiny configuration
    per kind (64 genes, ``sdpa``, fp32, width 32, batch at most 2), the end-to-end check."""
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "bench gpu needs a CUDA GPU (torch.cuda.is_available() is False here); "
            "--device cpu --smoke checks the path on a CPU"
        )
    if device != "cuda" and not smoke:
        raise ConfigError("bench gpu measures a GPU; on a CPU only --smoke runs (one tiny check)")
    if smoke:
        genes, backends, precisions = [64], [default_backend()], ["32"]
        dim, heads, max_batch, repeats = 32, 2, 2, 1
    known = table_backends()
    genes, backends = genes or GENES, backends or known
    precisions = precisions or PRECISIONS
    if not set(precisions) <= set(PRECISIONS):
        raise ConfigError(f"--precisions takes bf16 and/or 32, got {','.join(precisions)}")
    unknown = sorted(set(backends) - set(known))
    if unknown:
        raise ConfigError(f"bench gpu backends are {', '.join(known)}; got {unknown}")
    if dim % heads:
        raise ConfigError(f"--dim {dim} is not divisible by --heads {heads}")
    out = Path(out_dir)
    targets = [out / CSV_NAME, out / PLOT_NAME]
    if not overwrite and any(t.exists() for t in targets):
        raise ConfigError(f"{out / CSV_NAME} exists; --force replaces it")
    name = torch.cuda.get_device_name(0) if device == "cuda" else "cpu"
    peak = device_peak(name)
    note(
        f"{name}: "
        + (
            f"peak {peak.bf16:g} / {peak.fp32:g} TFLOP/s bf16 / fp32 ({peak.source})"
            if peak
            else "unknown device, no peak: TFLOP/s without a percentage"
        )
    )
    rows = []
    for case in configurations(genes, backends, precisions, model):
        row = {**case, "device": device, "device_name": name, "dim": dim, "heads": heads}
        row.update(_measure(case, device, dim, heads, zero_fraction, max_batch, repeats, timeout))
        row["peak_tflops"] = peak_tflops(peak, case["precision"])
        row.setdefault("tflops", math.nan)  # model rows: time and memory, no FLOP count
        row["fraction_of_peak"] = row["tflops"] / row["peak_tflops"]
        rows.append(row)
        note(_describe(row))
    frame = pd.DataFrame(rows).reindex(columns=COLUMNS)
    out.mkdir(parents=True, exist_ok=True)
    write_with(targets[0], lambda tmp: frame.to_csv(tmp, index=False))
    write_with(targets[1], lambda tmp: plot_gpu(frame, tmp))
    return frame, markdown_table(frame)


COLUMNS = [
    "what",
    "name",
    "tokens",
    "varlen",
    "precision",
    "n",
    "tokens_mean",
    "batch",
    "status",
    "seconds",
    "seconds_per_patient",
    "peak_memory_mb",
    "tflops",
    "peak_tflops",
    "fraction_of_peak",
    "dim",
    "heads",
    "zero_fraction",
    "device",
    "device_name",
    "note",
]


def _measure(
    case: dict[str, Any],
    device: str,
    dim: int,
    heads: int,
    zero_fraction: float,
    max_batch: int,
    repeats: int,
    timeout: float,
) -> dict[str, Any]:
    """One configuration through the worker: its largest batch, time, memory and TFLOP/s."""
    expressed = case["tokens"] == "expressed"
    if case["what"] == "attention":
        problem = backend_problem(case["name"], device, case["precision"])
        if problem:
            return {"status": "skipped", "note": problem}
        flex = case["name"] == FLEX
        layer = AttentionCase(
            default_backend() if flex else case["name"],
            case["n"],
            1,
            dim,
            heads,
            device,
            case["precision"],
            "fwd+bwd",
            repeats,
            mask_density=1.0 if flex else 0.0,  # one set of every gene: FlexAttention, all pairs
            tokens=case["tokens"],
            zero_fraction=zero_fraction if expressed else 0.0,
        )
        payload = {**dataclasses.asdict(layer), "projections": True}
    else:
        payload = {
            "model": case["name"],
            "genes": case["n"],
            "device": device,
            "precision": case["precision"],
            "options": (
                {"tokens": case["tokens"], **(VARLEN_OPTIONS if case["varlen"] else {})}
                if _has_tokens(case["name"])
                else {}
            ),
            "zero_fraction": zero_fraction,
            "repeats": repeats,
            "warmup": 1,
        }
        if expressed and not _has_tokens(case["name"]):
            return {"status": "skipped", "note": f"{case['name']} has no tokens option yet"}
    result = run_worker(
        "gpu", {"what": case["what"], "case": payload, "max_batch": max_batch}, timeout
    )
    if result.get("status") != "ok":
        return result
    batch = result["batch"]
    if case["what"] == "attention":
        lengths = dataclasses.replace(layer, batch=batch).lengths()
        result.update(tokens_kept(lengths))
        result["tflops"] = layer_flops(lengths, heads, dim // heads) / result["seconds"] / 1e12
    result["seconds_per_patient"] = result["seconds"] / batch
    if expressed:
        result["zero_fraction"] = zero_fraction
    return result


def _has_tokens(model: str) -> bool:
    from omicsformer.bench.model import has_token_modes

    return has_token_modes(model)


def _describe(row: dict[str, Any]) -> str:
    precision = "fp32" if row["precision"] == "32" else row["precision"]
    head = f"{row['name']:>16} {row['tokens']:>9} {precision:>4} n={row['n']:>6}"
    if row.get("status") != "ok":
        return f"{head}: {row.get('status')} ({row.get('note', '')})"
    rate = ""
    if not math.isnan(row.get("tflops", math.nan)):
        share = row["fraction_of_peak"]
        rate = f", {row['tflops']:.1f} TFLOP/s" + (
            f" ({share:.0%} of peak)" if share == share else ""
        )
    return (
        f"{head}: batch {row['batch']}, {row['seconds']:.4f} s, "
        f"{row['peak_memory_mb']:.0f} MB{rate}"
    )


def label(row: pd.Series | dict[str, Any]) -> str:
    """A row's name as the table and plot show it: backend or model, and the tokens mode."""
    if row["tokens"] != "expressed":
        return str(row["name"])
    varlen = row.get("varlen")
    flagged = varlen is not None and not pd.isna(varlen) and bool(varlen)
    return f"{row['name']}, expressed" + (", varlen" if flagged else "")


def cell(row: pd.Series) -> str:
    """One cell of the Markdown table: largest batch, time per patient, TFLOP/s (% of peak)."""
    if row["status"] != "ok":
        return "OOM at batch 1" if row["status"] == "oom" else str(row["status"])
    text = f"B {row['batch']:.0f}, {1e3 * row['seconds_per_patient']:.2f} ms/patient"
    if pd.notna(row["tflops"]):
        text += f", {row['tflops']:.3g} TFLOP/s"
        if pd.notna(row["fraction_of_peak"]):
            text += f" ({row['fraction_of_peak']:.0%})"
    if row["tokens"] == "expressed":
        text += f", {row['tokens_mean']:.0f} tokens"
    return text


def markdown_table(frame: pd.DataFrame) -> str:
    """One table per precision: a row per backend / model (and tokens mode), a column per gene
    count; each cell :func:`cell`; with the device and its peak above."""
    if frame.empty:
        return ""
    first = frame.iloc[0]
    peak = device_peak(str(first["device_name"]))
    lines = [
        f"Device: {first['device_name']}"
        + (
            f" (dense peak {peak.bf16:g} TFLOP/s bf16, {peak.fp32:g} fp32; {peak.source})"
            if peak
            else " (not in the peak table: no percentage of peak)"
        ),
        "",
    ]
    genes = sorted(frame["n"].unique())
    for precision, part in frame.groupby("precision", sort=False):
        name = "bf16" if str(precision) == "bf16" else "fp32"
        lines += [
            f"**{name}**, layer width {first['dim']} ({first['heads']} heads), forward + backward",
            "",
        ]
        lines.append("| | " + " | ".join(f"{n:,} genes" for n in genes) + " |")
        lines.append("|---|" + "---|" * len(genes))
        for key, rows in part.groupby(part.apply(label, axis=1), sort=False):
            by_n = {r["n"]: cell(r) for _, r in rows.iterrows()}
            lines.append(f"| {key} | " + " | ".join(by_n.get(n, "") for n in genes) + " |")
        lines.append("")
    return "\n".join(lines)


def plot_gpu(frame: pd.DataFrame, path: str | Path) -> None:
    """TFLOP/s (attention layers) and time per patient (every row) vs genes, one column of
    panels per precision; the device's peak as a dashed line."""
    precisions = list(dict.fromkeys(frame["precision"].astype(str))) or ["32"]
    fig, axes = plt.subplots(2, len(precisions), figsize=(6 * len(precisions), 8), squeeze=False)
    ok = frame[frame["status"] == "ok"]
    for column, precision in enumerate(precisions):
        part = ok[ok["precision"].astype(str) == precision]
        top, bottom = axes[0][column], axes[1][column]
        for key, rows in part.groupby(part.apply(label, axis=1), sort=False) if len(part) else []:
            rows = rows.sort_values("n")
            if rows["tflops"].notna().any():
                top.plot(rows["n"], rows["tflops"], marker="o", label=key)
            bottom.plot(rows["n"], rows["seconds_per_patient"], marker="o", label=key)
        peaks = frame.loc[frame["precision"].astype(str) == precision, "peak_tflops"].dropna()
        if len(peaks):
            top.axhline(peaks.iloc[0], linestyle="--", color="grey", label="device peak")
        name = "fp32" if precision == "32" else precision
        top.set_title(f"{name}: attention layer, largest batch that fits")
        top.set_ylabel("TFLOP/s (exact-equivalent for approximations)")
        bottom.set_ylabel("seconds per patient (step time / batch)")
        for ax in (top, bottom):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("genes (tokens)")
            ax.grid(True, which="both", alpha=0.3)
            if ax.get_legend_handles_labels()[0]:
                ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=110)
    plt.close(fig)
