"""``omicsformer bench augmentation``: learning curves with and without each augmentation.

For every stratified fold (of every repetition, ``repeats``), the fold's training part is
subsampled (stratified, seeded, at least ``min_per_class`` patients per class) to each training
fraction; preprocessing and every augmentation are fitted on that subsample only; the validation
part (early stopping) and the test fold stay the same for every fraction and augmentation, so
each comparison is paired.
``none`` is always included as the reference. Baselines take ``smote`` (imbalanced-learn's SMOTE
inside each of their fits) and the generators ``cvae`` and ``wgan``.

Written: ``augmentation.csv`` (one row per fold x fraction x augmentation: the task's metrics;
for a generator also the quality of its synthetic patients), ``summary.md`` (mean ± sd, and the
mean paired difference to ``none`` with the corrected resampled t-test's p over repeats x folds
and the folds up / down; the quality, one row per generator x fraction), ``learning_curves.png``,
``report.html`` (the page, unless ``report=False``).

A generator's quality, per fit, from synthetic patients drawn as many as it adds (each a small
function of arrays, so it can be tested on cases whose answer is known):

- ``tstr`` (train on synthetic, test on real): a logistic regression trained on synthetic
  patients only, its balanced accuracy on the real test fold; for survival the C-index of a
  ridge Cox model (500 genes of highest synthetic variance). Near the real-data score: the
  synthetic patients carry the class (or risk) signal.
- ``discriminator_auroc``: a cross-validated random forest telling real patients of the test
  fold from synthetic ones (0.5 = indistinguishable, 1.0 = trivially told apart). Real patients
  the generator never saw, not its training patients: against those, near-copies read far below
  0.5 (each synthetic patient's real twin sits in the other cross-validation part, so the forest
  calls it real; copies with noise of the genes' own SD read 0.11 on 22 patients x 2,000
  genes), which would score a copying generator as "more real than real". A random forest, not a
  linear model: with far more genes than patients a linear discriminator can "anti-learn"
  (cross-validated AUROC well below 0.5 on two groups it could tell apart), and it cannot see a
  difference in spread around the same mean, the typical failure of a VAE that samples too close
  to its class means.
- ``variance_ratio``: the synthetic patients' total variance (sum over genes) over the real
  training patients' (1 = the spread is reproduced; a scaled copy gives the scale squared). A
  ratio of sums: near-constant genes weigh by their variance. The mean of per-gene SD ratios it
  replaces read 338,817 on a cohort with near-constant genes.
- ``correlation_similarity``: the Pearson correlation between the upper triangles of the real
  and synthetic gene-gene correlation matrices over the 500 genes of highest training variance
  (1 = co-expression reproduced; near 0 = none of it).
- ``nn_distance_ratio``: the median Euclidean distance of a synthetic patient to its nearest
  training patient over that of a real test patient (about 1 = as far from the training patients
  as new real patients; near 0 = copies of them, which is not augmenting).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from omicsformer.augment.training import check_augmentation
from omicsformer.config import RunConfig
from omicsformer.console import note
from omicsformer.crossval import Fold, check_folds, cross_validate, cv_folds, repeated_splits
from omicsformer.errors import ConfigError
from omicsformer.fileio import OutputFolder, write_text, write_with
from omicsformer.models import MODELS, Runtime
from omicsformer.pipeline import fit_model, prepare_data
from omicsformer.report.pages import publish_with_report
from omicsformer.report.pages.bench import QUALITY_NOTE, augmentation_table, quality_table
from omicsformer.report.tables import markdown_lines


def stratified_subsample(
    index: np.ndarray, strata: np.ndarray, fraction: float, seed: int, min_per_class: int = 2
) -> np.ndarray:
    """A seeded stratified subset of ``index`` keeping ``fraction`` of each stratum (at least
    ``min_per_class``, or all of a smaller stratum)."""
    if fraction >= 1:
        return np.sort(index)
    rng = np.random.default_rng(seed)
    kept = []
    for value in np.unique(strata):
        members = index[strata == value]
        n = max(min(min_per_class, len(members)), round(fraction * len(members)))
        kept.append(rng.choice(members, size=n, replace=False))
    return np.sort(np.concatenate(kept))


def variance_ratio(synthetic: np.ndarray, real: np.ndarray) -> float:
    """Total variance of ``synthetic`` (n, G) over that of ``real`` (m, G): sums over genes, so
    near-constant genes weigh by their (small) variance, not as a ratio of two small numbers."""
    return float(synthetic.var(0).sum() / max(real.var(0).sum(), 1e-12))


def correlation_similarity(synthetic: np.ndarray, real: np.ndarray, top: int = 500) -> float:
    """Pearson correlation between the upper triangles of the gene-gene correlation matrices of
    ``real`` and ``synthetic`` over the ``top`` genes of highest variance in ``real``."""
    genes = np.argsort(-real.var(0), kind="stable")[:top]
    genes = genes[(synthetic[:, genes].std(0) > 0) & (real[:, genes].std(0) > 0)]
    if len(genes) < 3:
        return math.nan
    upper = np.triu_indices(len(genes), k=1)
    r_real = np.corrcoef(real[:, genes], rowvar=False)[upper]
    r_synthetic = np.corrcoef(synthetic[:, genes], rowvar=False)[upper]
    return float(np.corrcoef(r_real, r_synthetic)[0, 1])


def _nearest(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance of each row of ``a`` (n, G) to its nearest row of ``b`` (m, G)."""
    squared = (a**2).sum(1)[:, None] - 2 * a @ b.T + (b**2).sum(1)[None, :]  # (n, m)
    return np.sqrt(np.maximum(squared.min(1), 0))


def nn_distance_ratio(synthetic: np.ndarray, train: np.ndarray, test: np.ndarray) -> float:
    """Median distance of synthetic patients to their nearest training patient over the median
    distance of real test patients to theirs (1: as far as new real patients; near 0: copies)."""
    a, b, c = (np.asarray(m, dtype=np.float64) for m in (synthetic, train, test))
    return float(np.median(_nearest(a, b)) / max(np.median(_nearest(c, b)), 1e-12))


def discriminator_auroc(real: np.ndarray, synthetic: np.ndarray, seed: int) -> float:
    """Cross-validated AUROC of a random forest telling ``real`` from ``synthetic`` patients, on
    equal numbers of each (a seeded random subset of the larger side). ``real`` are patients the
    generator did not see (the test fold): see the module's note on near-copies."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    # synthetic patients come sorted by class, so a prefix would differ in class mix
    n = min(len(real), len(synthetic))
    if n < 2:
        return math.nan
    rng = np.random.default_rng(seed)
    real, fake = (
        a if len(a) == n else a[rng.choice(len(a), n, replace=False)] for a in (real, synthetic)
    )
    x = np.concatenate([real, fake])
    is_real = np.r_[np.ones(n), np.zeros(n)]
    cv = StratifiedKFold(min(3, n), shuffle=True, random_state=seed)
    forest = RandomForestClassifier(n_estimators=200, random_state=seed)
    scores = cross_val_predict(forest, x, is_real, cv=cv, method="predict_proba")[:, 1]
    return float(roc_auc_score(is_real, scores))


def tstr(
    synthetic: np.ndarray, targets: np.ndarray, x_test: np.ndarray, y_test: np.ndarray
) -> float:
    """Train on synthetic, test on real: the balanced accuracy of a logistic regression (class
    codes) or the C-index of a ridge Cox model on the 500 genes of highest synthetic variance
    (survival: time, event (n, 2)), fitted on the synthetic patients, scored on the real ones."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score

    if targets.ndim == 1:
        if len(np.unique(targets)) < 2:
            return math.nan
        clf = LogisticRegression(C=0.1, class_weight="balanced", max_iter=3000)
        return float(balanced_accuracy_score(y_test, clf.fit(synthetic, targets).predict(x_test)))
    from sksurv.linear_model import CoxPHSurvivalAnalysis
    from sksurv.metrics import concordance_index_censored
    from sksurv.util import Surv

    if not (targets[:, 1] > 0).any() or not (y_test[:, 1] > 0).any():
        return math.nan
    genes = np.argsort(-synthetic.var(0), kind="stable")[:500]
    cox = CoxPHSurvivalAnalysis(alpha=10.0).fit(
        synthetic[:, genes], Surv.from_arrays(targets[:, 1] > 0, targets[:, 0])
    )
    risk = cox.predict(x_test[:, genes])
    return float(concordance_index_censored(y_test[:, 1] > 0, y_test[:, 0], risk)[0])


def generator_quality(
    augmenter: Any, x_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, seed: int
) -> dict[str, float]:
    """The quality indicators of a fitted generator (``synthesizes``: cvae, wgan) from the
    synthetic patients it adds (``class_counts()``), drawn again with a seed of their own."""
    synthetic, targets = augmenter.sample(augmenter.class_counts(), seed + 7)
    return {
        "tstr": tstr(synthetic, targets, x_test, y_test),
        "discriminator_auroc": discriminator_auroc(x_test, synthetic, seed),
        "variance_ratio": variance_ratio(synthetic, x_train),
        "correlation_similarity": correlation_similarity(synthetic, x_train),
        "nn_distance_ratio": nn_distance_ratio(synthetic, x_train, x_test),
    }


def bench_augmentation(
    config: RunConfig,
    model: str,
    out_dir: str | Path,
    *,
    fractions: list[float],
    augments: list[str],
    folds: int = 5,
    repeats: int = 1,
    min_per_class: int = 2,
    overwrite: bool = False,
    report: bool = True,
) -> pd.DataFrame:
    config.validate()
    if any(not 0 < f <= 1 for f in fractions):
        raise ConfigError("--train-fractions must be in (0, 1]")
    spec = MODELS.get(model)
    spec.validate(config.model.options, config.train)
    check_folds(config, folds, repeats)
    augments = ["none", *[a for a in augments if a.strip() and a.strip() != "none"]]
    for a in augments:
        check_augmentation(
            dataclasses.replace(config, augment=dataclasses.replace(config.augment, methods=[a])),
            model,
        )
    output = OutputFolder(out_dir, kind="bench-augmentation", overwrite=overwrite)
    output.check()
    data = prepare_data(config)
    strata = data.task.strata(data.y, data.target)
    splits = repeated_splits(config, data, folds, repeats)
    with output:
        folder = output.create()
        frame = cross_validate(
            cv_folds(config, data, splits),
            lambda fold: _fold_rows(fold, model, fractions, augments, strata, min_per_class),
        )
        main = data.task.main_metric
        title = (
            f"{config.data.source}: {model}, {data.task.name}, {folds} folds"
            f"{f' x {repeats} repeats' if repeats > 1 else ''}, seed {config.seed}"
        )
        write_with(folder / "augmentation.csv", lambda tmp: frame.to_csv(tmp, index=False))
        write_text(folder / "summary.md", summary_markdown(frame, main, title))
        write_with(folder / "learning_curves.png", lambda tmp: plot_curves(frame, main, title, tmp))
        publish_with_report(output, report)
    return frame


def _fold_rows(
    fold: Fold,
    model: str,
    fractions: list[float],
    augments: list[str],
    strata: np.ndarray,
    min_per_class: int,
) -> list[dict[str, Any]]:
    """``model`` with each augmentation on each training fraction of one fold: one row each.
    The fraction is a stratified subsample of the fold's training part, and preprocessing and
    augmentation are fitted on it only; the validation part and the test fold stay the fold's."""
    config, data = fold.config, fold.data
    rows: list[dict[str, Any]] = []
    for fraction in fractions:
        train = stratified_subsample(
            fold.split["train"],
            strata[fold.split["train"]],
            fraction,
            config.seed + 100 * fold.index,
            min_per_class,
        )
        arrays = fold.preprocess(train=train)  # on the subsample only
        for augment in augments:
            row: dict[str, Any] = {
                "repeat": fold.repeat,
                "fold": fold.index,
                "fraction": fraction,
                "n_train": len(train),
                "n_val": len(fold.split.get("val", [])),
                "n_test": fold.n_test,
                "augment": augment,
            }
            run_config = dataclasses.replace(
                config,
                augment=dataclasses.replace(
                    config.augment, methods=[] if augment == "none" else [augment]
                ),
            )
            try:
                result = fit_model(
                    run_config,
                    data,
                    arrays,
                    Runtime(train=config.train, progress=False),
                    model_name=model,
                )
            except ConfigError as exc:  # e.g. mixup on survival: recorded, not fatal
                rows.append({**row, "status": "not available", "note": str(exc)})
                continue
            test = result.metrics["test"]
            row.update({m: test[m] for m in data.task.metric_names}, status="ok", note="")
            for augmenter in result.augmenters:
                if augmenter.synthesizes:
                    row.update(
                        generator_quality(
                            augmenter,
                            arrays.x("train"),
                            arrays.x("test"),
                            arrays.y("test"),
                            config.seed,
                        )
                    )
            rows.append(row)
            note(
                f"{fold.name} fraction {fraction:g} ({len(train)} patients) "
                f"{augment}: {data.task.main_metric} {test[data.task.main_metric]:.3f}"
            )
    return rows


def summary_markdown(frame: pd.DataFrame, metric: str, title: str) -> str:
    """Mean ± sd of ``metric`` per augmentation and fraction, and the paired gain over none:
    mean ± sd of the per-fold differences, the corrected resampled t-test's p (Nadeau & Bengio;
    over repeats x folds, training size = training subsample + validation part) and the folds
    where the augmentation scored higher / lower."""
    ok = frame[frame["status"] == "ok"]
    table = augmentation_table(ok, metric)
    lines = [
        f"# {title}",
        "",
        f"{metric}: mean ± sd over folds; gain = mean paired difference to `none` (± sd), p of "
        "the corrected resampled t-test, folds up / down",
        "",
        *_markdown(table),
    ]
    quality = quality_table(ok)
    if len(quality):
        lines += [
            "",
            f"Synthetic patients' quality (mean ± sd over folds). {QUALITY_NOTE}",
            "",
            *_markdown(quality),
        ]
    skipped = frame[frame["status"] != "ok"].drop_duplicates("augment")
    for _, row in skipped.iterrows():
        name = row["augment"]  # the note may start with the name already
        lines.append(f"- {name}: {str(row['note']).removeprefix(f'{name}: ')}")
    return "\n".join(lines) + "\n"


def _markdown(table: pd.DataFrame) -> list[str]:
    """``table``'s cells as text in a Markdown table."""
    rows = [[str(cell) for cell in row] for row in table.itertuples(index=False)]
    return markdown_lines([str(c) for c in table.columns], rows)


def plot_curves(frame: pd.DataFrame, metric: str, title: str, path: str | Path) -> None:
    from omicsformer.report.plots import plt

    ok = frame[frame["status"] == "ok"]
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for augment, rows in ok.groupby("augment", sort=False):
        stats = rows.groupby("fraction").agg(
            n=("n_train", "mean"), mean=(metric, "mean"), std=(metric, "std")
        )
        ax.errorbar(
            stats["n"], stats["mean"], yerr=stats["std"], marker="o", capsize=3, label=augment
        )
    ax.set_xscale("log")
    ax.set_xlabel("training patients (log scale)")
    ax.set_ylabel(f"{metric} (test folds)")
    ax.set_title(title, fontsize=9)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=110)
    plt.close(fig)
