"""The report's metrics table: each metric with its bootstrap 95% interval (patients resampled).

Tasks build it from their own metrics (``Task.report``); this module knows no task, it takes the
metric function and the names.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from omicsformer.metrics.bootstrap import DEFAULT_RESAMPLES, Interval, bootstrap
from omicsformer.report.html import Table


def _number(value: float) -> str:
    return "undefined" if math.isnan(value) else f"{value:.3f}"


def metric_rows(
    point: Mapping[str, object], names: Sequence[str], skip: Sequence[str] = ("n",)
) -> list[str]:
    """``names`` followed by the other real-valued metrics of ``point`` (e.g. survival's AUC at
    each horizon); counts (ints), lists and ``skip`` are left out."""
    extra = [
        k
        for k, v in point.items()
        if k not in names and k not in skip and isinstance(v, float) and not isinstance(v, bool)
    ]
    return [*names, *extra]


def interval_frame(
    intervals: Mapping[str, Interval], lower_is_better: frozenset[str]
) -> pd.DataFrame:
    """One row per metric: estimate, 95% CI bounds and the resamples it rests on."""
    return pd.DataFrame(
        [
            {
                "metric": name + (" (lower is better)" if name in lower_is_better else ""),
                "estimate": _number(ci.estimate),
                "95% CI low": _number(ci.low),
                "95% CI high": _number(ci.high),
                "resamples used": f"{ci.n_used} / {ci.n_resamples}",
            }
            for name, ci in intervals.items()
        ]
    )


def interval_table(
    statistic: Callable[[np.ndarray], Mapping[str, object]],
    n: int,
    names: Sequence[str],
    *,
    lower_is_better: frozenset[str] = frozenset(),
    strata: np.ndarray | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    seed: int = 0,
    note: str = "",
) -> Table:
    """The metrics of ``statistic`` (``statistic(indices) -> {name: value}``) over ``n``
    patients, with percentile bootstrap 95% intervals (:func:`~omicsformer.metrics.bootstrap.
    bootstrap`), as a report table whose caption says how they were made."""
    rows = metric_rows(statistic(np.arange(n)), names)
    intervals = bootstrap(statistic, n, rows, strata=strata, n_resamples=n_resamples, seed=seed)
    how = "within each stratum (class or event status), " if strata is not None else ""
    caption = (
        f"{n} patients. 95% CI: percentile bootstrap, {n_resamples} resamples of the patients "
        f"drawn {how}with replacement (seed {seed}); a resample on which a metric is undefined "
        f"is left out of its interval (resamples used).{' ' + note if note else ''}"
    )
    return Table(interval_frame(intervals, lower_is_better), caption=caption)


def task_metrics_table(
    task: Any,
    y: np.ndarray,
    output: np.ndarray,
    state: dict[str, Any],
    *,
    seed: int = 0,
    n_resamples: int = DEFAULT_RESAMPLES,
    note: str = "",
) -> Table:
    """:func:`interval_table` of a task's own metrics (``task.metrics``), resampled within the
    task's strata (``task.inner_strata``: classes, event status)."""
    return interval_table(
        lambda idx: task.metrics(y[idx], output[idx], state),
        len(y),
        task.metric_names,
        lower_is_better=task.lower_is_better,
        strata=task.inner_strata(y),
        n_resamples=n_resamples,
        seed=seed,
        note=note,
    )
