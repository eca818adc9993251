"""``omicsformer compare``: several models on the same stratified folds, side by side.

For each fold the preprocessing is fitted on the fold's training part only, a validation part is
carved from that training part (for early stopping), and every model is trained and tested on the
same arrays. Written to the output folder (atomically, as a whole):

    results.csv   one row per model x fold: test metrics, fit / predict seconds, peak memory,
                  parameter count, best epoch (neural models)
    summary.md    mean ± sd per model and metric, best mean in bold
    config.yaml   the shared configuration;  splits.json  the folds by sample ID
"""

from __future__ import annotations

import contextlib
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from omicsformer.bench.memory import PeakMemory
from omicsformer.config import RunConfig
from omicsformer.console import note, out
from omicsformer.data.splits import Split, splits_to_json
from omicsformer.errors import ConfigError
from omicsformer.fileio import OutputFolder, write_json, write_text, write_with, write_yaml
from omicsformer.models import MODELS, Runtime
from omicsformer.models.base import require_task
from omicsformer.pipeline import (
    PreparedData,
    check_augmentation,
    fit_model,
    make_folds,
    prepare_data,
    preprocess_split,
)
from omicsformer.train.distributed import is_main_process

COST_COLUMNS = ("fit_seconds", "predict_seconds", "peak_memory_mb", "n_parameters")


def split_options(models: list[str], options: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Options per model: ``model.key=value`` goes to that model, a bare ``key=value`` to every
    model that has an option ``key`` (e.g. ``attention=performer`` to all gene-level models)."""
    import dataclasses

    per_model: dict[str, dict[str, Any]] = {m: {} for m in models}
    for key, value in options.items():
        name, dot, option = key.partition(".")
        if dot:
            if name not in per_model:
                raise ConfigError(
                    f"option {key!r}: {name!r} is not one of --models ({', '.join(models)})"
                )
            per_model[name][option] = value
            continue
        takers = [
            m for m in models if key in {f.name for f in dataclasses.fields(MODELS.get(m).options)}
        ]
        if not takers:
            raise ConfigError(
                f"option {key!r}: none of {', '.join(models)} has it (use MODEL.{key})"
            )
        for m in takers:
            per_model[m][key] = value
    return per_model


def compare(
    config: RunConfig,
    models: list[str],
    out_dir: str | Path,
    *,
    folds: int = 5,
    overwrite: bool = False,
    progress: bool = False,
) -> pd.DataFrame | None:
    """Run every model on the same ``folds`` folds; write and return the per-fold results."""
    config.validate()
    if not models:
        raise ConfigError("--models needs at least one model")
    options = split_options(models, config.model.options)
    for name in models:
        MODELS.get(name).validate(options[name], config.train)
        check_augmentation(config, name)
    if folds < 2:
        raise ConfigError(f"--folds must be at least 2, got {folds}")
    main = is_main_process()
    output = OutputFolder(out_dir, kind="compare", overwrite=overwrite)
    if main:
        output.check()  # before any data is read
    data = prepare_data(config)
    for name in models:
        require_task(MODELS.get(name), data.task.name)
    fold_splits = make_folds(config, data, folds)
    with output if main else contextlib.nullcontext():
        folder = output.create() if main else None
        results = _run_folds(config, data, fold_splits, models, options, progress)
        if not main:
            return None
        summary = summary_markdown(
            results,
            list(data.task.metric_names),
            title=_title(config, folds),
            lower_is_better=data.task.lower_is_better,
        )
        write_with(folder / "results.csv", lambda tmp: results.to_csv(tmp, index=False))
        write_text(folder / "summary.md", summary)
        write_yaml(
            folder / "config.yaml",
            {**config.to_dict(), "compare": {"models": models, "folds": folds}},
        )
        write_json(
            folder / "splits.json",
            splits_to_json(
                fold_splits, data.sample_ids, seed=config.seed, stratified_on=data.target.columns
            ),
        )
        output.publish()
    print_summary(
        results, list(data.task.metric_names), _title(config, folds), data.task.lower_is_better
    )
    return results


def _run_folds(
    config: RunConfig,
    data: PreparedData,
    fold_splits: list[Split],
    models: list[str],
    options: dict[str, dict[str, Any]],
    progress: bool,
) -> pd.DataFrame:
    """Every model on every fold: one row of test metrics and costs per model x fold."""
    rows = []
    for fold, split in enumerate(fold_splits):
        arrays = preprocess_split(config, data, split)
        for name in models:
            with PeakMemory() as memory:
                result = fit_model(
                    config,
                    data,
                    arrays,
                    Runtime(train=config.train, progress=progress),
                    model_name=name,
                    options=options[name],
                )
            row = {"model": name, "fold": fold, "n_test": len(split["test"])}
            test = result.metrics["test"]
            row.update({m: test[m] for m in data.task.metric_names})
            row.update(
                fit_seconds=result.fit_seconds,
                predict_seconds=result.predict_seconds,
                peak_memory_mb=memory.peak_mb,
                n_parameters=result.model.n_parameters(),
                best_epoch=result.fitted.get("best_epoch", np.nan),
            )
            rows.append(row)
            note(
                f"fold {fold + 1}/{len(fold_splits)} {name}: {data.task.main_metric} "
                f"{test[data.task.main_metric]:.3f} ({result.fit_seconds:.1f} s)"
            )
    return pd.DataFrame(rows)


def _title(config: RunConfig, folds: int) -> str:
    target = config.data.target or (
        f"{config.task.time}/{config.task.event}" if config.task.time else "default target"
    )
    return f"{config.data.source} {target}: {folds}-fold CV, seed {config.seed}"


def summarize(results: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """Mean and sd over folds per model (models in their original order)."""
    columns = [c for c in [*metrics, *COST_COLUMNS] if c in results]
    grouped = results.groupby("model", sort=False)[columns]
    return grouped.mean().join(grouped.std(ddof=1), rsuffix="_sd")


def _cell(mean: float, sd: float, digits: int) -> str:
    if math.isnan(mean):
        return "nan"
    return f"{mean:.{digits}f} ± {sd:.{digits}f}" if not math.isnan(sd) else f"{mean:.{digits}f}"


def summary_rows(
    results: pd.DataFrame, metrics: list[str], lower_is_better: frozenset[str] = frozenset()
) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the summary table; the best mean of each metric is marked with **."""
    table = summarize(results, metrics)
    header = ["model", *metrics, "fit s", "predict s", "peak MB", "parameters"]
    best = {m: table[m].min() if m in lower_is_better else table[m].max() for m in metrics}
    rows = []
    for model, r in table.iterrows():
        cells = [str(model)]
        for m in metrics:
            cell = _cell(r[m], r[f"{m}_sd"], 3)
            cells.append(f"**{cell}**" if r[m] == best[m] else cell)
        cells += [
            _cell(r["fit_seconds"], r["fit_seconds_sd"], 1),
            _cell(r["predict_seconds"], r["predict_seconds_sd"], 2),
            _cell(r["peak_memory_mb"], r["peak_memory_mb_sd"], 0),
            f"{r['n_parameters']:,.0f}",
        ]
        rows.append(cells)
    return header, rows


def summary_markdown(
    results: pd.DataFrame,
    metrics: list[str],
    title: str = "",
    lower_is_better: frozenset[str] = frozenset(),
) -> str:
    header, rows = summary_rows(results, metrics, lower_is_better)
    lines = [f"# {title}", ""] if title else []
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join("---" for _ in header) + "|")
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    n_folds = results["fold"].nunique()
    lines += [
        "",
        f"Mean ± sd over {n_folds} test folds; best mean per metric in bold (lowest for "
        "rmse, mae and the integrated Brier score). Peak MB: growth of "
        "the process's resident memory during fit + predict.",
        "",
    ]
    return "\n".join(lines)


def print_summary(
    results: pd.DataFrame,
    metrics: list[str],
    title: str,
    lower_is_better: frozenset[str] = frozenset(),
) -> None:
    from rich.markup import escape
    from rich.table import Table

    header, rows = summary_rows(results, metrics, lower_is_better)
    table = Table(title=title)
    for i, column in enumerate(header):
        table.add_column(column, justify="left" if i == 0 else "right")
    for r in rows:
        table.add_row(
            *(f"[bold]{escape(c[2:-2])}[/bold]" if c.startswith("**") else escape(c) for c in r)
        )
    out.print(table)
