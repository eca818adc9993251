"""The tables of a comparison: the summary (mean ± sd per model and metric, best mean marked),
the paired differences to the reference model and what each network added to its base.

Built once as header + rows of text and shown three ways: in summary.md
(:func:`summary_markdown`), on the terminal (:func:`print_summary`) and on the comparison's
page (``report.pages.compare``), so the three show the same numbers. The statistics come from
:mod:`omicsformer.metrics.comparison`.
"""

from __future__ import annotations

import math

import pandas as pd

from omicsformer.console import out
from omicsformer.report.tables import markdown_lines

COST_COLUMNS = ("fit_seconds", "predict_seconds", "peak_memory_mb", "n_parameters")


def number(value: float) -> str:
    return "" if pd.isna(value) else f"{value:.3f}"


def summarize(results: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    """Mean and sd over folds per model (models in their original order)."""
    columns = [c for c in [*metrics, *COST_COLUMNS] if c in results]
    grouped = results.groupby("model", sort=False)[columns]
    return grouped.mean().join(grouped.std(ddof=1), rsuffix="_sd")


def mean_sd(mean: float, sd: float, digits: int) -> str:
    if math.isnan(mean):
        return "nan"
    return f"{mean:.{digits}f} ± {sd:.{digits}f}" if not math.isnan(sd) else f"{mean:.{digits}f}"


def p_text(p: float) -> str:
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

    With ``differences`` (from :func:`~omicsformer.metrics.comparison.paired_differences`) two
    columns follow the metrics: the mean ± sd of the paired difference to the reference model
    and its p-value.
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
            cell = mean_sd(r[m], r[f"{m}_sd"], 3)
            cells.append(f"**{cell}**" if r[m] == best[m] else cell)
        if diffs is not None:
            d = diffs.loc[model]
            if model == d["reference"]:
                cells += ["reference", "—"]
            else:
                cells += [mean_sd(d["mean_diff"], d["sd_diff"], 3), p_text(d["p_value"])]
        cells += [
            mean_sd(r["fit_seconds"], r["fit_seconds_sd"], 1),
            mean_sd(r["predict_seconds"], r["predict_seconds_sd"], 2),
            mean_sd(r["peak_memory_mb"], r["peak_memory_mb_sd"], 0),
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
    :func:`~omicsformer.metrics.comparison.base_differences`): the base, its mean, Δ mean ± sd,
    p."""
    metric = str(added["metric"].iloc[0])
    header = ["model", "base", f"base {metric}", f"Δ {metric} vs base", "p"]
    rows = [
        [
            str(d["model"]),
            str(d["base"]),
            number(d["base_mean"]),
            mean_sd(d["mean_diff"], d["sd_diff"], 3),
            p_text(d["p_value"]),
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


def summary_markdown(
    results: pd.DataFrame,
    metrics: list[str],
    title: str = "",
    lower_is_better: frozenset[str] = frozenset(),
    differences: pd.DataFrame | None = None,
    added: pd.DataFrame | None = None,
) -> str:
    """summary.md: the summary table, how to read it, and the table of each network against
    its base (``added``, when there is one)."""
    lines = [f"# {title}", ""] if title else []
    lines += markdown_lines(*summary_rows(results, metrics, lower_is_better, differences))
    lines += [
        "",
        f"Mean ± sd over {n_test_folds(results)} test folds; best mean per metric in bold "
        "(lowest for rmse, mae and the integrated Brier score). Peak MB: growth of "
        "the process's resident memory during fit + predict.",
        "",
    ]
    if differences is not None and not differences.empty:
        lines += [differences_note(differences, lower_is_better), ""]
    if added is not None and not added.empty:
        lines += ["## What each network added to its base", ""]
        lines += markdown_lines(*added_rows(added))
        lines += ["", added_note(added), ""]
    return "\n".join(lines)


def print_summary(
    results: pd.DataFrame,
    metrics: list[str],
    title: str,
    lower_is_better: frozenset[str] = frozenset(),
    differences: pd.DataFrame | None = None,
    added: pd.DataFrame | None = None,
) -> None:
    """The summary table (and the table of each network against its base) on the terminal."""
    from rich.markup import escape
    from rich.table import Table

    header, rows = summary_rows(results, metrics, lower_is_better, differences)
    caption = None
    if differences is not None and not differences.empty:
        first = differences.iloc[0]
        better = "lower" if first["metric"] in lower_is_better else "higher"
        caption = escape(
            f"mean ± sd over {n_test_folds(results)} test folds; Δ: paired difference in "
            f"{first['metric']} to {first['reference']} ({better} is better); p: corrected "
            "resampled t-test (Nadeau & Bengio 2003; Bouckaert & Frank 2004)"
        )

    table = Table(title=title, caption=caption)
    for i, column in enumerate(header):
        table.add_column(column, justify="left" if i == 0 else "right")
    for r in rows:
        table.add_row(
            *(f"[bold]{escape(c[2:-2])}[/bold]" if c.startswith("**") else escape(c) for c in r)
        )
    out.print(table)
    if added is not None and not added.empty:
        header, rows = added_rows(added)
        table = Table(
            title="what each network added to its base",
            caption=escape(
                f"Δ: the network minus its base alone on the same {n_test_folds(results)} test "
                "folds; p: corrected resampled t-test"
            ),
        )
        for i, column in enumerate(header):
            table.add_column(column, justify="left" if i < 2 else "right")
        for r in rows:
            table.add_row(*map(escape, r))
        out.print(table)
