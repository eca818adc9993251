"""``omicsformer bench model``: one training step (forward, backward, AdamW) of each model.

Each (model, genes) configuration runs in a fresh process on random data with the model's
default options (plus ``-o`` overrides); rows report the median step time, the peak memory and
the parameter count (model.csv; report.html, its page, unless ``report=False``). Models that
need grouping or binning fit them on the random batch.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pandas as pd

from omicsformer.bench.attention import run_worker
from omicsformer.console import note
from omicsformer.fileio import OutputFolder, write_with
from omicsformer.models import MODELS
from omicsformer.models.options import split_options
from omicsformer.report.pages import stage_report


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
) -> pd.DataFrame:
    per_model = split_options(models, options or {})
    for name in models:
        if MODELS.get(name).family != "neural":
            from omicsformer.errors import ConfigError

            raise ConfigError(
                f"bench model measures neural models; {name!r} is a {MODELS.get(name).family}"
            )
        MODELS.get(name).parse_options(per_model[name])
    output = OutputFolder(out_dir, kind="bench-model", overwrite=overwrite)
    output.check()
    with output:
        folder = output.create()
        rows = []
        for n in genes:
            for name in models:
                case = {
                    "model": name,
                    "genes": n,
                    "batch": batch,
                    "device": device,
                    "precision": precision,
                    "options": per_model[name],
                    "repeats": repeats,
                    "warmup": 1,
                }
                row: dict[str, Any] = {k: v for k, v in case.items() if k != "options"}
                row["options"] = ",".join(f"{k}={v}" for k, v in per_model[name].items())
                row.update(run_worker("model", case, timeout))
                rows.append(row)
                if row["status"] == "ok":
                    note(
                        f"{name:>16} genes={n:>6}: {row['seconds']:.3f} s/step, "
                        f"{row['peak_memory_mb']:.0f} MB, {row['n_parameters']:,} parameters"
                    )
                else:
                    note(f"{name:>16} genes={n:>6}: {row['status']} ({row['note']})")
        frame = pd.DataFrame(rows)
        for column in ("seconds", "peak_memory_mb", "n_parameters"):
            if column not in frame:
                frame[column] = math.nan
        write_with(folder / "model.csv", lambda tmp: frame.to_csv(tmp, index=False))
        if report:  # after the results: a failing page costs a warning, not them
            stage_report(folder, "bench-model", output.target)
        output.publish()
    return frame
