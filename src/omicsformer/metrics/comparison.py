"""Paired comparison of two models over the folds of (repeated) k-fold cross-validation.

Notation: ``d`` (n,) the per-fold differences in a metric between two models scored on the same
test folds (n = k folds x r repetitions); ``n_train``, ``n_test`` the sizes of the training and
test parts of those folds. ``results``: one row per model x repetition x fold (the table
``compare`` writes as results.csv), with at least the columns model, repeat, fold, n_train,
n_test and the metric.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import stats


@dataclass(frozen=True)
class PairedTest:
    """Outcome of :func:`corrected_resampled_ttest` (field names are the columns of
    ``differences.csv``)."""

    n_pairs: int
    mean_diff: float
    sd_diff: float
    t: float
    p_value: float


def corrected_resampled_ttest(
    differences: np.ndarray,
    n_train: float | np.ndarray,
    n_test: float | np.ndarray,
) -> PairedTest:
    r"""Corrected resampled t-test of the mean of paired per-fold differences.

    The folds of one k-fold split, and of its repetitions, share most of their training
    samples, so the per-fold scores of a model are correlated and a plain paired t-test (which
    assumes independent differences) understates the variance of their mean and gives p-values
    that are too small. Nadeau and Bengio (2003) correct the variance by the ratio of test to
    training size; Bouckaert and Frank (2004) apply the correction to r repetitions of k-fold
    cross-validation:

    .. math::

        t = \frac{\bar d}{\sqrt{\left(\frac{1}{k r} + \frac{n_2}{n_1}\right)\hat\sigma^2}},
        \qquad \mathrm{df} = k r - 1,

    with :math:`\hat\sigma^2` the sample variance of the differences (``ddof=1``),
    :math:`n_1` / :math:`n_2` the mean training / test sizes and ``k r`` the number of pairs.

    Parameters
    ----------
    differences
        (n,) per-fold differences, model minus reference, one per test fold of every
        repetition. Non-finite differences (a metric undefined on a fold) are left out, with
        their fold sizes, and ``n_pairs`` counts the rest.
    n_train, n_test
        Training and test sizes: one number each, or (n,) per-fold sizes (their means are used).
        ``n_train`` counts every sample the model learned from (for omicsformer: everything
        outside the test fold, the early-stopping part included). ``n_test=0`` gives the
        uncorrected paired t-test.

    Returns
    -------
    PairedTest
        ``n_pairs``; ``mean_diff`` and ``sd_diff`` (``ddof=1``) of the differences; ``t`` and the
        two-sided ``p_value`` on ``n_pairs - 1`` degrees of freedom. Degenerate cases are
        explicit: with fewer than 2 pairs ``sd_diff``, ``t`` and ``p_value`` are NaN; when every
        difference is the same, ``t = 0`` and ``p = 1`` if that difference is 0 (identical
        models) and ``t = ±inf``, ``p = 0`` otherwise (the limit of a vanishing variance).

    References
    ----------
    C. Nadeau and Y. Bengio (2003). Inference for the generalization error. Machine Learning
    52(3), 239-281. https://doi.org/10.1023/A:1024068626366

    R. R. Bouckaert and E. Frank (2004). Evaluating the replicability of significance tests for
    comparing learning algorithms. Advances in Knowledge Discovery and Data Mining (PAKDD),
    LNCS 3056, 3-12. https://doi.org/10.1007/978-3-540-24775-3_3
    """
    d = np.asarray(differences, dtype=float).ravel()
    sizes_train = np.broadcast_to(np.asarray(n_train, dtype=float), d.shape)
    sizes_test = np.broadcast_to(np.asarray(n_test, dtype=float), d.shape)
    keep = np.isfinite(d)
    d, sizes_train, sizes_test = d[keep], sizes_train[keep], sizes_test[keep]
    n = len(d)
    if n == 0:
        return PairedTest(0, math.nan, math.nan, math.nan, math.nan)
    mean = float(d.mean())
    if n < 2:
        return PairedTest(n, mean, math.nan, math.nan, math.nan)
    if np.any(sizes_train <= 0) or np.any(sizes_test < 0):
        raise ValueError("training sizes must be positive and test sizes non-negative")
    sd = float(d.std(ddof=1))
    # max - min, not sd: sd of identical floats can come out as 1e-17 instead of 0
    if np.ptp(d) == 0:
        if mean == 0:
            return PairedTest(n, 0.0, 0.0, 0.0, 1.0)
        return PairedTest(n, mean, 0.0, math.copysign(math.inf, mean), 0.0)
    ratio = float(sizes_test.mean() / sizes_train.mean())
    t = mean / math.sqrt((1.0 / n + ratio) * sd**2)
    p = float(2.0 * stats.t.sf(abs(t), df=n - 1))
    return PairedTest(n, mean, sd, float(t), p)


def reference_model(
    results: pd.DataFrame,
    metric: str,
    baselines: list[str],
    lower_is_better: frozenset[str] = frozenset(),
) -> str:
    """The model the others are compared with: of ``baselines`` present in ``results`` the one
    with the best mean ``metric`` (the best model overall when there is none); first on ties."""
    means = results.groupby("model", sort=False)[metric].mean()
    pool = means[[m for m in means.index if m in baselines]]
    if pool.empty:
        pool = means
    pool = pool.dropna()
    if pool.empty:
        return str(means.index[0])
    return str(pool.idxmin() if metric in lower_is_better else pool.idxmax())


def paired_differences(results: pd.DataFrame, metric: str, reference: str) -> pd.DataFrame:
    """Per model: ``metric`` minus the reference's on the same test folds (paired on repetition
    and fold), with the corrected resampled t-test (:func:`corrected_resampled_ttest`).

    ``results`` needs the columns model, repeat, fold, n_train, n_test and ``metric``.
    """
    keys = ["repeat", "fold"]
    ref = results.loc[results["model"] == reference, [*keys, metric]]
    rows = []
    for model, own in results.groupby("model", sort=False):
        pairs = own.merge(ref, on=keys, suffixes=("", "_ref"), validate="one_to_one")
        test = corrected_resampled_ttest(
            pairs[metric] - pairs[f"{metric}_ref"], pairs["n_train"], pairs["n_test"]
        )
        rows.append({"model": model, "reference": reference, "metric": metric, **asdict(test)})
    return pd.DataFrame(rows)


def base_differences(results: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Per model with a base: ``metric`` minus its base alone's on the same test folds (what
    the network added to its base), with the corrected resampled t-test. The base of
    ``base=fitted`` is the task's linear baseline fitted on the same training patients, so
    this is also the difference to that baseline's own row when it was compared too.

    ``results`` needs the columns model, base, n_train, n_test, ``metric`` and
    ``base_<metric>``; models without a base are left out.
    """
    column = f"base_{metric}"
    rows = []
    if column not in results:
        return pd.DataFrame(rows)
    for model, own in results.groupby("model", sort=False):
        own = own.dropna(subset=[column])
        if own.empty:
            continue
        test = corrected_resampled_ttest(own[metric] - own[column], own["n_train"], own["n_test"])
        rows.append(
            {
                "model": model,
                "base": own["base"].iloc[0],
                "metric": metric,
                "n_pairs": test.n_pairs,  # first, as in differences.csv (the ** keeps the place)
                "base_mean": float(own[column].mean()),
                **asdict(test),
            }
        )
    return pd.DataFrame(rows)
