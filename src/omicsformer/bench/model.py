"""``omicsformer bench model``: one training step (forward, backward, AdamW) of each model.

Each (model, genes, tokens mode) configuration runs in a fresh process with the model's default
options (plus ``-o`` overrides); rows report the median step time, the peak memory, the
parameter count and the tokens each patient kept (model.csv; report.html, its page, unless
``report=False``). Models that need grouping or binning fit them on the batch.

The data (:func:`omicsformer.bench.worker.model_batch`):

- random, Gaussian, ``genes`` wide (the default);
- random counts-like when ``tokens`` includes ``expressed``: a share ``zero_fraction`` of each
  patient's values are zero (0.9 by default, single-cell-like), so that the expressed-only mode
  has genes to skip; both modes then run on the same data, log1p-transformed and z-scored;
- ``data``: a real matrix (a file or a built-in name, read by the library's reader), every gene
  of it unless ``top_genes``, preprocessing (``transform``, z-score) fitted on all its patients
  as a run fits it on its training part, the batch drawn from its patients. This measures speed,
  not accuracy: nothing is held out.

``tokens``: ``all`` (every gene a token, dense) and / or ``expressed`` (``-o tokens=expressed``:
each patient's expressed genes only). A model without the ``tokens`` option (mlp, attomics) has
no expressed mode: its expressed rows are skipped, with the reason.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import pandas as pd

from omicsformer.bench.attention import check_tokens, run_worker
from omicsformer.console import note
from omicsformer.errors import ConfigError
from omicsformer.fileio import OutputFolder, write_with
from omicsformer.models import MODELS
from omicsformer.models.options import split_options
from omicsformer.report.pages import publish_with_report
from omicsformer.report.pages.bench import MODEL_COLUMNS

# model.csv: what a person reads first (the page's and the terminal's columns), then the setup
COLUMNS = [*MODEL_COLUMNS, "device", "precision", "data", "zero_fraction", "repeats"]


def has_token_modes(model: str) -> bool:
    """Whether ``model`` has the ``tokens`` option (all | expressed)."""
    return "tokens" in {f.name for f in dataclasses.fields(MODELS.get(model).options)}


def bench_model(
    models: list[str],
    genes: list[int],
    out_dir: str | Path,
    *,
    batch: int = 8,
    device: str = "cpu",
    precision: str = "32",
    options: dict[str, Any] | None = None,
    repeats: int = 3,
    timeout: float = 600.0,
    overwrite: bool = False,
    report: bool = True,
    tokens: list[str] | None = None,
    zero_fraction: float = 0.9,
    data: str | None = None,
    transform: str = "none",
    top_genes: int | None = None,
) -> pd.DataFrame:
    """Time one training step of each model for each of ``genes`` (random data) or on ``data``
    (a real matrix: ``genes`` is not used), in each ``tokens`` mode; write model.csv."""
    modes = check_tokens(tokens or ["all"], zero_fraction)
    per_model = split_options(models, options or {})
    for name in models:
        if MODELS.get(name).family != "neural":
            raise ConfigError(
                f"bench model measures neural models; {name!r} is a {MODELS.get(name).family}"
            )
        if "tokens" in per_model[name]:
            raise ConfigError("bench model sets the tokens option itself: use --tokens")
        MODELS.get(name).parse_options(per_model[name])
    if data is None and top_genes is not None:
        raise ConfigError("--top-genes selects genes of --data; random data has --genes")
    counts = data is None and "expressed" in modes  # counts-like random data for both modes
    if data is not None:  # a bad file is one error line here, not a failed row per model
        from omicsformer.data.readers import load_data

        shape = load_data(data).shape
        note(f"{data}: {shape[0]} patients x {shape[1]} genes (preprocessing fitted on all)")
    output = OutputFolder(out_dir, kind="bench-model", overwrite=overwrite)
    output.check()
    with output:
        folder = output.create()
        rows = []
        for n in [None] if data is not None else genes:
            for mode in modes:
                for name in models:
                    rows.append(
                        _measure(
                            name,
                            n,
                            mode,
                            per_model[name],
                            timeout,
                            batch=batch,
                            device=device,
                            precision=precision,
                            repeats=repeats,
                            warmup=1,
                            data=data,
                            transform=transform,
                            top_genes=top_genes,
                            zero_fraction=zero_fraction if counts else None,
                        )
                    )
        frame = pd.DataFrame(rows)
        for column in ("seconds", "peak_memory_mb", "n_parameters"):
            if column not in frame:
                frame[column] = math.nan
        frame = frame.reindex(columns=COLUMNS)
        write_with(folder / "model.csv", lambda tmp: frame.to_csv(tmp, index=False))
        publish_with_report(output, report)
    return frame


def _measure(
    name: str,
    n: int | None,
    mode: str,
    options: dict[str, Any],
    timeout: float,
    **settings: Any,
) -> dict[str, Any]:
    """One row: the worker's measurement of ``name`` in tokens ``mode``, or why it was skipped."""
    if has_token_modes(name):
        options = {**options, "tokens": mode}
    case = {"model": name, "genes": n, "tokens": mode, "options": options, **settings}
    row: dict[str, Any] = {k: v for k, v in case.items() if k != "options"}
    row["options"] = ",".join(f"{k}={v}" for k, v in options.items())
    if mode == "expressed" and not has_token_modes(name):
        row.update(status="skipped", note=f"{name} has no expressed-only mode (tokens option)")
    else:
        row.update(run_worker("model", case, timeout))
    size = "data" if n is None else f"genes={n:>6}"
    if row["status"] == "ok":
        kept = f", {row['tokens_mean']:.0f} tokens kept" if mode == "expressed" else ""
        note(
            f"{name:>16} {size} {mode:>9}: {row['seconds']:.3f} s/step, "
            f"{row['peak_memory_mb']:.0f} MB, {row['n_parameters']:,} parameters{kept}"
        )
    else:
        note(f"{name:>16} {size} {mode:>9}: {row['status']} ({row['note']})")
    return row
