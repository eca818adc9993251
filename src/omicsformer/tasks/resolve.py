"""Task resolution: which task a run has and which obs columns hold its target
(``--task`` / ``--target`` / ``--time --event``, a built-in dataset's default, or inferred)."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd

from omicsformer.cohort import PreparedData
from omicsformer.config import RunConfig
from omicsformer.console import note
from omicsformer.data.datasets import dataset_for
from omicsformer.data.inputs import describe_columns
from omicsformer.data.targets import require_columns
from omicsformer.errors import ConfigError

SMALLEST_CLASS = 3  # a class needs a sample in each of train, validation and test


def infer_task(series: pd.Series) -> str:
    """The task ``--task auto`` picks for a target column.

    Text, booleans and numbers with few distinct values are classes; numbers with many
    distinct values (more than 20, or more than 10 with fractions) are a quantity
    (regression). Whole numbers with 11 to 20 distinct values are classes only if every one
    is frequent enough to be split; otherwise they are read as a count (regression).
    """
    values = series.dropna()
    numbers = pd.to_numeric(values, errors="coerce")
    if len(values) == 0 or numbers.isna().any() or pd.api.types.is_bool_dtype(values):
        return "classification"
    distinct = numbers.nunique()
    whole = bool(np.all(np.isclose(numbers, np.round(numbers))))
    if distinct > 20 or (distinct > 10 and not whole):
        return "regression"
    if distinct > 10 and numbers.value_counts().min() < SMALLEST_CLASS:
        return "regression"
    return "classification"


OVERALL_SURVIVAL = ["os_time", "os_event"]  # derived from a clinical table (data.clinical)


def target_columns(config: RunConfig) -> list[str]:
    """The target columns the reader must keep: those given (--target, --time, --event), or
    overall survival for a survival task given none."""
    d, t = config.data, config.task
    given = [c for c in (d.target, t.time, t.event) if c]
    if t.name == "survival" and not given:
        return list(OVERALL_SURVIVAL)
    return given


def resolve_target(config: RunConfig, adata: ad.AnnData) -> tuple[str, list[str]]:
    """The task and its target column(s): from --task / --target / --time --event, or the
    built-in dataset's default targets. The choice is printed."""
    t, d = config.task, config.data
    if t.name == "survival" and t.time is None and not d.target:
        derived = list(OVERALL_SURVIVAL)
        if all(c in adata.obs.columns for c in derived):
            note("task: survival (overall survival: time 'os_time', event 'os_event')")
            return "survival", derived
    if t.time is not None:
        if t.name not in ("auto", "survival"):
            raise ConfigError(f"--time and --event define a survival target, not {t.name}")
        require_columns(adata, [t.time, t.event])
        note(f"task: survival (time {t.time!r}, event {t.event!r})")
        return "survival", [t.time, t.event]
    if d.target:
        require_columns(adata, [d.target])
        if t.name == "survival":
            raise ConfigError("a survival task needs --time and --event, not --target")
        if t.name != "auto":
            return t.name, [d.target]
        column = adata.obs[d.target]
        name = infer_task(column)
        distinct = column.dropna().nunique()
        why = "numeric" if name == "regression" else f"{distinct} distinct values"
        note(f"task: {name} (target {d.target!r}, {why}); use --task to change it")
        return name, [d.target]
    spec = dataset_for(d.source)
    if spec is not None and spec.default_targets:
        name = t.name if t.name != "auto" else next(iter(spec.default_targets))
        if name not in spec.default_targets:
            raise ConfigError(
                f"dataset {spec.name!r} has no default {name} target; give --target (or --time "
                f"and --event); columns: {describe_columns(adata)}"
            )
        default = spec.default_targets[name]
        columns = [default] if isinstance(default, str) else list(default)
        if t.name == "auto":
            note(f"task: {name} ({spec.name}'s default target {', '.join(columns)})")
        return name, columns
    raise ConfigError(
        "--target is required (--time and --event for survival); available columns: "
        f"{describe_columns(adata)}"
    )


def numeric_class_hint(data: PreparedData) -> str:
    """A hint for a classification target that may be a quantity."""
    if data.task.name != "classification":
        return ""
    column = data.target.columns[0]
    numbers = pd.to_numeric(data.adata.obs[column], errors="coerce")
    if numbers.notna().all():
        return (
            f"; if {column!r} is a quantity rather than classes, use --task regression "
            "(see `omicsformer models` for the models that support it)"
        )
    return ""
