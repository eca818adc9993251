"""The page of a ``compare`` folder: settings, summary, paired differences, every test fold.

Read from the files ``compare`` writes (never from the comparison code): ``config.yaml``,
``results.csv``, ``differences.csv``, ``splits.json``, ``histories.csv`` (neural models) and
``predictions.csv``. The summary-table helpers here are also what ``compare`` prints and writes
to summary.md, so the three show the same numbers.

Sections: settings; summary (mean ± sd per model and metric); paired differences to the
reference model (corrected resampled t-test) and how to read them; every test fold of the main
metric (one row per repetition / fold, one column per model, and each model's difference to the
reference), with a figure that joins each fold's points across models; fit time and peak memory;
learning curves of the neural models (mean over folds, with the range); the pooled out-of-fold
predictions (:func:`pooled_sections`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from omicsformer.fileio import read_file, read_json, read_optional_csv, read_yaml
from omicsformer.report.html import Figure, Section, Table, Text
from omicsformer.report.plots import plt
from omicsformer.tasks import TASKS, TargetInfo, Task

COST_COLUMNS = ("fit_seconds", "predict_seconds", "peak_memory_mb", "n_parameters")


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
                f"Δ {metric} (mean)": "reference" if own else _number(d["mean_diff"]),
                "Δ sd": "" if own else _number(d["sd_diff"]),
                "t": "" if own else _number(d["t"]),
                "p": "" if own else _p_text(d["p_value"]),
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


def _number(value: float) -> str:
    return "" if pd.isna(value) else f"{value:.3f}"


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
        shown[column] = shown[column].map(_number)
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
            row[column] = _cell(r[(column, "mean")], r[(column, "std")], digits)
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


# ------------------------------------------------------- summary tables (shared with compare)
def summarize(results: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """Mean and sd over folds per model (models in their original order)."""
    columns = [c for c in [*metrics, *COST_COLUMNS] if c in results]
    grouped = results.groupby("model", sort=False)[columns]
    return grouped.mean().join(grouped.std(ddof=1), rsuffix="_sd")


def _cell(mean: float, sd: float, digits: int) -> str:
    if math.isnan(mean):
        return "nan"
    return f"{mean:.{digits}f} ± {sd:.{digits}f}" if not math.isnan(sd) else f"{mean:.{digits}f}"


def _p_text(p: float) -> str:
    if math.isnan(p):
        return "nan"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def summary_rows(
    results: pd.DataFrame,
    metrics: list[str],
    lower_is_better: frozenset[str] = frozenset(),
    differences: pd.DataFrame | None = None,
) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the summary table; the best mean of each metric is marked with **.

    With ``differences`` (from :func:`paired_differences`) two columns follow the metrics: the
    mean ± sd of the paired difference to the reference model and its p-value.
    """
    table = summarize(results, metrics)
    header = ["model", *metrics]
    diffs = None
    if differences is not None and not differences.empty:
        diffs = differences.set_index("model")
        first = diffs.iloc[0]
        header += [f"Δ {first['metric']} vs {first['reference']}", "p"]
    header += ["fit s", "predict s", "peak MB", "parameters"]
    best = {m: table[m].min() if m in lower_is_better else table[m].max() for m in metrics}
    rows = []
    for model, r in table.iterrows():
        cells = [str(model)]
        for m in metrics:
            cell = _cell(r[m], r[f"{m}_sd"], 3)
            cells.append(f"**{cell}**" if r[m] == best[m] else cell)
        if diffs is not None:
            d = diffs.loc[model]
            if model == d["reference"]:
                cells += ["reference", "—"]
            else:
                cells += [_cell(d["mean_diff"], d["sd_diff"], 3), _p_text(d["p_value"])]
        cells += [
            _cell(r["fit_seconds"], r["fit_seconds_sd"], 1),
            _cell(r["predict_seconds"], r["predict_seconds_sd"], 2),
            _cell(r["peak_memory_mb"], r["peak_memory_mb_sd"], 0),
            f"{r['n_parameters']:,.0f}",
        ]
        rows.append(cells)
    return header, rows


def n_test_folds(results: pd.DataFrame) -> int:
    keys = [c for c in ("repeat", "fold") if c in results]
    return len(results[keys].drop_duplicates())


def differences_note(differences: pd.DataFrame, lower_is_better: frozenset[str]) -> str:
    first = differences.iloc[0]
    metric, reference = first["metric"], first["reference"]
    better = "lower" if metric in lower_is_better else "higher"
    n = int(differences["n_pairs"].max())
    return (
        f"Δ: paired per-fold difference in {metric} to {reference} (model − {reference}; "
        f"{better} is better), mean ± sd over {n} test folds; p: two-sided corrected resampled "
        f"t-test (Nadeau & Bengio 2003, for repeated k-fold Bouckaert & Frank 2004), df = {n - 1}. "
        "The correction is needed because the training sets of the folds (and of the "
        "repetitions) overlap, so the per-fold differences are not independent and a plain "
        "paired t-test would understate their variance and give too small p-values. "
        "p-values are not adjusted for comparing several models."
    )


def added_rows(added: pd.DataFrame) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the table of each network against its own base (from
    :func:`~omicsformer.compare.base_differences`): the base, its mean, Δ mean ± sd, p."""
    metric = str(added["metric"].iloc[0])
    header = ["model", "base", f"base {metric}", f"Δ {metric} vs base", "p"]
    rows = [
        [
            str(d["model"]),
            str(d["base"]),
            _number(d["base_mean"]),
            _cell(d["mean_diff"], d["sd_diff"], 3),
            _p_text(d["p_value"]),
        ]
        for _, d in added.iterrows()
    ]
    return header, rows


def added_note(added: pd.DataFrame) -> str:
    """How to read the columns of each network's difference to its own base."""
    metric = added["metric"].iloc[0]
    n = int(added["n_pairs"].max())
    return (
        f"Δ vs base: a network's {metric} minus its base alone's on the same {n} test folds "
        "(mean ± sd): what the network added to the linear model it starts as; p: the same "
        "corrected resampled t-test. A fitted base is the task's linear baseline fitted on the "
        "same training patients, so its column equals that baseline's own row."
    )
