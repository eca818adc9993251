"""``omicsformer bench augmentation``: learning curves with and without each augmentation.

For every stratified fold (of every repetition, ``repeats``), the fold's training part is
subsampled (stratified, seeded, at least ``min_per_class`` patients per class) to each training
fraction; preprocessing and every augmentation are fitted on that subsample only; the validation
part (early stopping) and the test fold stay the same for every fraction and augmentation, so
each comparison is paired.
``none`` is always included as the reference. Baselines take ``smote`` (imbalanced-learn's SMOTE
inside each of their fits) and ``cvae``.

Written: ``augmentation.csv`` (one row per fold x fraction x augmentation: the task's metrics;
for ``cvae`` also the quality of its synthetic patients), ``summary.md`` (mean ± sd, and the mean
paired difference to ``none`` with the corrected resampled t-test's p over repeats x folds and
the folds up / down), ``learning_curves.png``, ``report.html`` (the page, unless
``report=False``).

cVAE quality, per fit: ``tstr_balanced_accuracy`` (a logistic regression trained on synthetic
patients only, tested on the real test fold: "train on synthetic, test on real") and
``discriminator_auroc`` (a cross-validated random forest telling real training patients from
synthetic ones: 0.5 = indistinguishable, 1.0 = trivially told apart) and ``sd_ratio`` (mean over
genes of the synthetic patients' SD over the real ones': 1 = the spread is reproduced).

The discriminator is a random forest, not a linear model: with far more genes than patients a
linear discriminator can "anti-learn" (cross-validated AUROC well below 0.5 on two groups it
could tell apart), and it cannot see a difference in spread around the same mean, the typical
failure of a VAE that samples too close to its class means.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from omicsformer.augment.cvae import CVAEAugmenter
from omicsformer.augment.training import check_augmentation
from omicsformer.config import RunConfig
from omicsformer.console import note
from omicsformer.crossval import Fold, check_folds, cross_validate, cv_folds, repeated_splits
from omicsformer.errors import ConfigError
from omicsformer.fileio import OutputFolder, write_text, write_with
from omicsformer.models import MODELS, Runtime
from omicsformer.pipeline import fit_model, prepare_data
from omicsformer.report.pages import publish_with_report
from omicsformer.report.pages.bench import augmentation_table


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


def cvae_quality(
    augmenter: CVAEAugmenter, x_train: np.ndarray, x_test: np.ndarray, y_test: np.ndarray, seed: int
) -> dict[str, float]:
    """Train-on-synthetic/test-on-real balanced accuracy, real-vs-synthetic AUROC, SD ratio."""
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score, roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    synthetic, labels = augmenter.sample(augmenter.class_counts(), seed + 7)
    quality = {
        "tstr_balanced_accuracy": math.nan,
        "discriminator_auroc": math.nan,
        "sd_ratio": float(np.mean(synthetic.std(0) / np.maximum(x_train.std(0), 1e-8))),
    }
    if len(np.unique(labels)) > 1:
        clf = LogisticRegression(C=0.1, class_weight="balanced", max_iter=3000).fit(
            synthetic, labels
        )
        quality["tstr_balanced_accuracy"] = float(
            balanced_accuracy_score(y_test, clf.predict(x_test))
        )
    # equal numbers of real and synthetic patients: a seeded random subset of the larger side
    # (synthetic patients come sorted by class, so a prefix would differ in class mix)
    n = min(len(x_train), len(synthetic))
    rng = np.random.default_rng(seed)
    real, fake = (
        a if len(a) == n else a[rng.choice(len(a), n, replace=False)] for a in (x_train, synthetic)
    )
    x = np.concatenate([real, fake])
    is_real = np.r_[np.ones(n), np.zeros(n)]
    folds = min(3, n)
    if folds >= 2:
        cv = StratifiedKFold(folds, shuffle=True, random_state=seed)
        forest = RandomForestClassifier(n_estimators=200, random_state=seed)
        scores = cross_val_predict(forest, x, is_real, cv=cv, method="predict_proba")[:, 1]
        quality["discriminator_auroc"] = float(roc_auc_score(is_real, scores))
    return quality


QUALITY = ("tstr_balanced_accuracy", "discriminator_auroc", "sd_ratio")


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
                if isinstance(augmenter, CVAEAugmenter):
                    row.update(
                        cvae_quality(
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
        "| " + " | ".join(table.columns) + " |",
        "|" + "---|" * len(table.columns),
    ]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in table.itertuples(index=False)]
    columns = [c for c in QUALITY if c in ok and ok[c].notna().any()]
    if columns:
        cvae = ok[ok[columns].notna().any(axis=1)]
        lines += [
            "",
            "cVAE quality (mean ± sd over folds): train-on-synthetic/test-on-real balanced "
            "accuracy, real-vs-synthetic discriminator AUROC (0.5 = indistinguishable), "
            "synthetic/real SD ratio",
            "",
            "| fraction | " + " | ".join(columns) + " |",
            "|---|" + "---|" * len(columns),
        ]
        for f, rows in cvae.groupby("fraction"):
            cells = [f"{rows[c].mean():.3f} ± {rows[c].std(ddof=1):.3f}" for c in columns]
            lines.append(f"| {f:g} | " + " | ".join(cells) + " |")
    skipped = frame[frame["status"] != "ok"].drop_duplicates("augment")
    for _, row in skipped.iterrows():
        name = row["augment"]  # the note may start with the name already
        lines.append(f"- {name}: {str(row['note']).removeprefix(f'{name}: ')}")
    return "\n".join(lines) + "\n"


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
