"""Bootstrap confidence intervals of metrics, with patients resampled (pure functions).

Notation: ``n`` patients; a resample is ``n`` patient indices drawn with replacement (within each
stratum when ``strata`` is given, keeping every stratum's size, so a classification resample
keeps every class and a survival resample keeps events); ``B`` resamples.

The interval is the percentile interval (Efron & Tibshirani 1993, ch. 13): the ``(1 - level) / 2``
and ``(1 + level) / 2`` quantiles of the metric over the resamples. A resample on which a metric
is undefined (NaN: e.g. an AUROC with one class, a time-dependent AUC without an event before the
horizon) is left out of that metric's interval and counted: ``n_used`` says how many resamples
each interval rests on.

References
----------
B. Efron and R. J. Tibshirani (1993). An Introduction to the Bootstrap. Chapman & Hall.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

DEFAULT_RESAMPLES = 1000


@dataclass(frozen=True)
class Interval:
    """A point estimate with its bootstrap interval.

    ``low`` / ``high`` are NaN when no resample gave a defined value; ``n_used`` of
    ``n_resamples`` resamples gave one.
    """

    estimate: float
    low: float
    high: float
    n_used: int
    n_resamples: int

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high


def resamples(
    n: int, n_resamples: int, seed: int, strata: np.ndarray | None = None
) -> Iterator[np.ndarray]:
    """``n_resamples`` arrays of ``n`` indices drawn with replacement (within each stratum)."""
    rng = np.random.default_rng(seed)
    if strata is None:
        for _ in range(n_resamples):
            yield rng.integers(0, n, n)  # (n,)
        return
    strata = np.asarray(strata)
    if len(strata) != n:
        raise ValueError(f"strata has {len(strata)} labels for {n} patients")
    groups = [np.flatnonzero(strata == s) for s in np.unique(strata)]
    for _ in range(n_resamples):
        yield np.concatenate([g[rng.integers(0, len(g), len(g))] for g in groups])  # (n,)


def _value(x: object) -> float:
    try:
        value = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return value if math.isfinite(value) else math.nan


def bootstrap(
    statistic: Callable[[np.ndarray], Mapping[str, float]],
    n: int,
    names: list[str] | tuple[str, ...],
    *,
    strata: np.ndarray | None = None,
    n_resamples: int = DEFAULT_RESAMPLES,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, Interval]:
    """Percentile bootstrap intervals of the metrics ``names`` of ``statistic``.

    Parameters
    ----------
    statistic
        ``statistic(indices) -> {name: value}``: the metrics of the patients at ``indices``
        (an (n,) integer array; ``np.arange(n)`` gives the point estimate). One call computes
        every metric of a resample.
    n
        Number of patients.
    names
        The metrics to give intervals for (keys of ``statistic``'s result).
    strata
        (n,) labels to resample within (class labels; event indicators), or None.
    n_resamples, level, seed
        Number of resamples, coverage of the interval, and the seed (same seed, same interval).

    Returns
    -------
    dict
        name -> :class:`Interval`. A metric missing from the result or NaN on a resample is
        left out for that resample.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), not {level}")
    point = statistic(np.arange(n))
    values = {name: [] for name in names}
    for indices in resamples(n, n_resamples, seed, strata):
        result = statistic(indices)
        for name in names:
            value = _value(result.get(name))
            if value == value:
                values[name].append(value)
    alpha = (1 - level) / 2
    intervals = {}
    for name in names:
        drawn = np.asarray(values[name])
        low, high = np.quantile(drawn, [alpha, 1 - alpha]) if len(drawn) else (math.nan, math.nan)
        intervals[name] = Interval(
            _value(point.get(name)), float(low), float(high), len(drawn), n_resamples
        )
    return intervals
