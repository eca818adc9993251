"""Metric tables for the terminal (rich) and for Markdown files."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from rich.markup import escape
from rich.table import Table

from omicsformer.console import out


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.3f}"
    return str(value)


def metrics_table(
    results: dict[str, dict[str, dict[str, Any]]], metric_names: Sequence[str], title: str = ""
) -> Table:
    """One row per (model, part): ``results[model][part][metric]``."""
    table = Table(title=title or None)
    table.add_column("model")
    table.add_column("part")
    table.add_column("n", justify="right")
    for name in metric_names:
        table.add_column(name, justify="right")
    for model, parts in results.items():
        for part, metrics in parts.items():
            cells = [model, part, _fmt(metrics.get("n", ""))]
            cells += [_fmt(metrics.get(m, "")) for m in metric_names]
            table.add_row(*map(escape, cells))
    return table


def print_metrics(
    results: dict[str, dict[str, dict[str, Any]]], metric_names: Sequence[str], title: str = ""
) -> None:
    out.print(metrics_table(results, metric_names, title))


def markdown_lines(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A Markdown table: the header line, its rule and one line per row."""
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]
