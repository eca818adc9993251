"""The page of a ``compare`` folder: settings, summary, paired differences, every test fold.

Read from the files ``compare`` writes (never from the comparison code): ``config.yaml``,
``results.csv``, ``differences.csv``, ``splits.json``, ``histories.csv`` (neural models) and
``predictions.csv``. Its summary tables are those ``compare`` prints and writes to summary.md
(:mod:`omicsformer.report.comparison`), so the three show the same numbers.

Sections: settings; summary (mean ± sd per model and metric); paired differences to the
reference model (corrected resampled t-test) and how to read them; every test fold of the main
metric (one row per repetition / fold, one column per model, and each model's difference to the
reference), with a figure that joins each fold's points across models; fit time and peak memory;
learning curves of the neural models (mean over folds, with the range); the pooled out-of-fold
predictions (:func:`pooled_sections`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from omicsformer.fileio import read_file, read_json, read_optional_csv, read_yaml
from omicsformer.report.comparison import (
    COST_COLUMNS,
    added_note,
    added_rows,
    differences_note,
    mean_sd,
    n_test_folds,
    number,
    p_text,
    summary_rows,
)
from omicsformer.report.html import Figure, Section, Table, Text
from omicsformer.report.plots import plt
from omicsformer.tasks import TASKS, TargetInfo, Task


def sections(folder: Path, kind: str = "compare") -> list[Section]:
    """The page's sections, from the files of the compare folder ``folder``."""
    config = read_yaml(folder / "config.yaml") or {}
    results = read_file(folder / "results.csv", pd.read_csv)
    differences = read_optional_csv(folder / "differences.csv")
    task = _task(config, results)
    metric = task.main_metric
    if differences is not None and not differences.empty:
        metric = str(differences["metric"].iloc[0])
    reference = None if differences is None or differences.empty else differences
    added = read_optional_csv(folder / "base_differences.csv")
    added = None if added is None or added.empty else added
    parts = [
        _settings(folder, config, results, task),
        _summary(results, task, reference),
        _differences(reference, task),
        _added(added, task),
        _per_fold(results, metric, reference, task),
        _costs(results),
    ]
    histories = read_optional_csv(folder / "histories.csv")
    if histories is not None and not histories.empty:
        parts.append(_learning_curves(histories))
    parts += pooled_sections(folder, config, task)
    return [p for p in parts if p is not None]


def pooled_sections(folder: Path, config: dict[str, Any], task: Task) -> list[Section]:
    """Each model's out-of-fold predictions of the first repetition (every patient once),
    pooled over its test folds and drawn with the task's report (metrics with bootstrap
    intervals, ROC / PR / calibration or Kaplan-Meier figures)."""
    target = (config.get("compare") or {}).get("target")
    predictions = read_optional_csv(folder / "predictions.csv")
    if not target or predictions is None or predictions.empty:
        return []  # written before compare kept its predictions and target
    info = TargetInfo.from_dict(target)
    first = predictions[predictions["repeat"] == predictions["repeat"].min()]
    parts = []
    for model, rows in first.groupby("model", sort=False):
        for section in task.pooled_report(rows, info):
            title = f"{model}, pooled test folds: {section.title}"
            parts.append(Section(title, section.blocks))
    return parts


def _task(config: dict[str, Any], results: pd.DataFrame) -> Task:
    """The comparison's task: as recorded in config.yaml, else the one whose metrics the
    results have (folders written before the task was recorded)."""
    name = (config.get("compare") or {}).get("task")
    if name in TASKS:
        return TASKS.get(name)
    for _, task in TASKS.items():
        if set(task.metric_names) <= set(results.columns):
            return task
    return TASKS.get("classification")


# ------------------------------------------------------------------------------------ sections
def _settings(folder: Path, config: dict[str, Any], results: pd.DataFrame, task: Task) -> Section:
    data = config.get("data") or {}
    compare = config.get("compare") or {}
    target = data.get("target") or "/".join(
        str(c) for c in ((config.get("task") or {}).get(k) for k in ("time", "event")) if c
    )
    splits = folder / "splits.json"
    seeds = read_json(splits).get("split_seeds") if splits.is_file() else None
    rows = [
        ("data", data.get("source", "")),
        ("target", target or "(the dataset's default)"),
        ("task", task.name),
        ("models", ", ".join(map(str, compare.get("models") or results["model"].unique()))),
        ("compared", ", ".join(map(str, results["model"].unique()))),
        ("folds", compare.get("folds", results["fold"].nunique())),
        ("repeats", compare.get("repeats", results["repeat"].nunique())),
        ("model seed", config.get("seed", "")),
        ("split seeds", ", ".join(map(str, seeds)) if seeds else ""),
        ("test patients per repetition", int(_per_repeat(results)["n_test"].sum())),
    ]
    preprocess = config.get("preprocess") or {}
    if preprocess.get("top_genes"):
        rows.append(("top genes (per training fold)", preprocess["top_genes"]))
    if compare.get("tune"):
        rows.append(("tuned", f"{(config.get('tune') or {}).get('trials', '')} trials per fold"))
    frame = pd.DataFrame(rows, columns=["setting", "value"]).astype(str)
    return Section("Settings").add(
        Table(frame, "From config.yaml (the full configuration) and splits.json."),
        Text(
            "Every model is trained and tested on the same folds; the preprocessing is fitted "
            "on each fold's training part only."
        ),
    )


def _per_repeat(results: pd.DataFrame) -> pd.DataFrame:
    first = results[results["repeat"] == results["repeat"].min()]
    return first.drop_duplicates(["fold"])


def _summary(results: pd.DataFrame, task: Task, differences: pd.DataFrame | None) -> Section:
    metrics = [m for m in task.metric_names if m in results]
    header, rows = summary_rows(results, metrics, task.lower_is_better, differences)
    marked = [[f"{c[2:-2]} ▲" if c.startswith("**") else c for c in row] for row in rows]
    lower = sorted(m for m in metrics if m in task.lower_is_better)
    best = f" (lowest for {', '.join(lower)})" if lower else ""
    return Section("Summary").add(
        Table(
            pd.DataFrame(marked, columns=header),
            f"Mean ± sd over {n_test_folds(results)} test folds; ▲ the best mean of each "
            f"metric{best}. Peak MB: growth of the process's resident memory during fit + "
            "predict.",
        )
    )


def _differences(differences: pd.DataFrame | None, task: Task) -> Section | None:
    if differences is None:
        return None
    first = differences.iloc[0]
    metric, reference = str(first["metric"]), str(first["reference"])
    better = "lower" if metric in task.lower_is_better else "higher"
    rows = []
    for _, d in differences.iterrows():
        own = d["model"] == reference
        rows.append(
            {
                "model": d["model"],
                "paired folds": int(d["n_pairs"]),
                f"Δ {metric} (mean)": "reference" if own else number(d["mean_diff"]),
                "Δ sd": "" if own else number(d["sd_diff"]),
                "t": "" if own else number(d["t"]),
                "p": "" if own else p_text(d["p_value"]),
            }
        )
    return Section("Paired differences").add(
        Table(
            pd.DataFrame(rows),
            f"differences.csv: each model minus {reference} on the same test folds.",
        ),
        Text(
            f"How to read it: Δ is a model's {metric} minus {reference}'s on the same test "
            f"fold, averaged over the folds; {better} than 0 favours the model. p asks how "
            "often a mean difference this far from 0 would arise by chance, given how much Δ "
            "varies from fold to fold: a small p says the folds consistently tell the two "
            "apart; a large p says they do not (which is not evidence that the models are "
            "equal). " + differences_note(differences, task.lower_is_better)
        ),
    )


def _added(added: pd.DataFrame | None, task: Task) -> Section | None:
    """Each network against its own base on the same folds: what the network added."""
    if added is None:
        return None
    header, rows = added_rows(added)
    return Section("What each network added to its base").add(
        Table(
            pd.DataFrame(rows, columns=header),
            "base_differences.csv: each network minus its base alone.",
        ),
        Text(added_note(added)),
    )


def per_fold_table(results: pd.DataFrame, metric: str, reference: str | None) -> pd.DataFrame:
    """One row per repetition / fold, one column per model (``metric`` on that test fold), and
    ``Δ MODEL`` = the model minus ``reference`` on the same fold."""
    wide = results.pivot_table(index=["repeat", "fold"], columns="model", values=metric, sort=False)
    models = list(results["model"].unique())
    wide = wide[models]
    if reference is not None and reference in wide:
        for model in models:
            if model != reference:
                wide[f"Δ {model}"] = wide[model] - wide[reference]
    wide.columns.name = None
    return wide.reset_index()


def _per_fold(
    results: pd.DataFrame, metric: str, differences: pd.DataFrame | None, task: Task
) -> Section:
    reference = None if differences is None else str(differences["reference"].iloc[0])
    wide = per_fold_table(results, metric, reference)
    shown = wide.copy()
    for column in shown.columns[2:]:
        shown[column] = shown[column].map(number)
    shown["repeat"] += 1
    shown["fold"] += 1
    better = "lower" if metric in task.lower_is_better else "higher"
    caption = f"{metric} on every test fold ({better} is better)"
    if reference is not None:
        caption += f"; Δ MODEL: the model minus {reference} on the same fold"
    return Section(f"Every test fold: {metric}").add(
        Table(shown, caption + "."), _pairing_figure(results, metric, better)
    )


def _pairing_figure(results: pd.DataFrame, metric: str, better: str) -> Figure:
    """Each model's metric on every test fold, one line per fold joining its models."""
    models = list(results["model"].unique())
    fig, ax = plt.subplots(figsize=(max(4.5, 1.3 * len(models) + 2), 4))
    paired_points(ax, results, "model", models, ["repeat", "fold"], metric)
    ax.set_ylabel(f"{metric} (test fold; {better} is better)")
    ax.set_title("Every test fold, joined across models (pairs share a line)", fontsize=9)
    fig.tight_layout()
    return Figure.of(
        fig,
        f"{metric} of every model on every test fold: points, the mean (black bar), and one "
        "grey line per fold, so a model that wins on most folds shows lines that rise (or "
        "fall) consistently.",
    )


def paired_points(
    ax: Any, frame: pd.DataFrame, x: str, order: list[str], pair: list[str], metric: str
) -> None:
    """``metric`` per value of ``x`` (in ``order``) as points with a black bar at the mean, and
    one grey line per ``pair`` key (a test fold) joining its points, so pairing is visible."""
    position = {value: i for i, value in enumerate(order)}
    for _, rows in frame.groupby(pair, sort=False):
        rows = rows.set_index(x).reindex(order)
        ax.plot(range(len(order)), rows[metric], color="grey", alpha=0.45, lw=1, zorder=1)
    for value, rows in frame.groupby(x, sort=False):
        where = position[value]
        ax.scatter(np.full(len(rows), where), rows[metric], s=22, zorder=2)
        ax.hlines(rows[metric].mean(), where - 0.25, where + 0.25, color="k", zorder=3)
    ax.set_xticks(range(len(order)), order, rotation=20, ha="right")
    ax.grid(True, axis="y", alpha=0.3)


def _costs(results: pd.DataFrame) -> Section:
    columns = [c for c in COST_COLUMNS if c in results]
    stats = results.groupby("model", sort=False)[columns].agg(["mean", "std"])
    rows = []
    for model, r in stats.iterrows():
        row = {"model": model}
        for column, digits in zip(columns, (2, 3, 0, 0), strict=False):
            row[column] = mean_sd(r[(column, "mean")], r[(column, "std")], digits)
        rows.append(row)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    models = list(stats.index)
    for ax, column, label in zip(
        axes,
        ("fit_seconds", "peak_memory_mb"),
        ("fit time per fold (s)", "peak memory (MB)"),
        strict=True,
    ):
        paired_points(ax, results, "model", models, ["repeat", "fold"], column)
        ax.set_ylabel(label)
    if (results["fit_seconds"] > 0).all():
        axes[0].set_yscale("log")
        axes[0].set_ylabel("fit time per fold (s, log scale)")
    fig.tight_layout()
    return Section("Cost").add(
        Table(pd.DataFrame(rows), "Mean ± sd over test folds (one fit + predict per fold)."),
        Figure.of(
            fig,
            "Fit time and peak memory of every model on every fold (black bar: the mean; grey "
            "lines join a fold's models). Peak memory is the growth of the process's resident "
            "memory, so a model fitted after another may reuse memory and show less.",
        ),
    )


def _learning_curves(histories: pd.DataFrame) -> Section:
    """Per neural model: training and validation loss per epoch, mean over folds and range."""
    models = list(histories["model"].unique())
    fig, axes = plt.subplots(
        1, len(models), figsize=(4.2 * len(models), 3.4), squeeze=False, sharey=False
    )
    for ax, model in zip(axes[0], models, strict=True):
        own = histories[histories["model"] == model]
        n_folds = len(own[["repeat", "fold"]].drop_duplicates())
        for column, label in (("train_loss", "train"), ("val_loss", "validation")):
            if column not in own or own[column].isna().all():
                continue
            stats = own.groupby("epoch")[column].agg(["mean", "min", "max", "count"])
            line = ax.plot(stats.index, stats["mean"], label=label)[0]
            ax.fill_between(
                stats.index, stats["min"], stats["max"], color=line.get_color(), alpha=0.2
            )
        ax.set_title(f"{model} ({n_folds} folds)", fontsize=9)
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss")
        ax.legend(fontsize=8)
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    epochs = histories.groupby(["model", "repeat", "fold"], sort=False)["epoch"].max()
    last = epochs.groupby(level="model", sort=False).agg(["min", "median", "max"])
    table = last.reset_index().rename(
        columns={"min": "epochs (min)", "median": "epochs (median)", "max": "epochs (max)"}
    )
    return Section("Learning curves").add(
        Figure.of(
            fig,
            "Loss per epoch of each neural model: the mean over the folds that reached the "
            "epoch (a fold stops early when its validation loss stops improving), shaded from "
            "the lowest to the highest fold.",
        ),
        Table(table, "Epochs trained per fold (histories.csv)."),
    )
