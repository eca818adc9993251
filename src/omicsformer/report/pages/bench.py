"""The pages of the benchmark folders, from the files each benchmark writes.

- ``bench-attention`` (attention.csv): the setup, time and peak memory vs tokens per backend
  (and mask density, and tokens mode: ``expressed`` rows beside the dense ``all`` ones, with the
  tokens kept per patient) on log-log axes (:func:`scaling_figure`, also what ``bench attention``
  saves as attention.png), every row with its status.
- ``bench-model`` (model.csv): the same figure and table per model (and tokens mode) vs genes.
- ``bench-augmentation`` (augmentation.csv, learning_curves.png): the main metric per
  augmentation and training fraction (mean ± sd, paired gain over ``none``, folds up / down),
  every fold's points joined across augmentations, the cVAE quality, what was not available.
- ``bench-interactions`` (interactions.csv, setup.json): recovery of the planted pairs
  (AUROC, precision@k) per model and method against the controls.

On the scaling figures a configuration that failed, timed out or was skipped (over the memory
budget) is not dropped: it is drawn as an ``x`` on the axis at its size, and listed in the table.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure as MplFigure

from omicsformer.fileio import read_file, read_json
from omicsformer.metrics.comparison import corrected_resampled_ttest
from omicsformer.report.html import Figure, Section, Table, Text
from omicsformer.report.pages.compare import paired_points
from omicsformer.report.plots import plt


def sections(folder: Path, kind: str) -> list[Section]:
    """The page's sections, from the files of the benchmark folder ``folder`` of ``kind``."""
    pages: dict[str, Callable[[Path], list[Section]]] = {
        "bench-attention": _attention,
        "bench-model": _model,
        "bench-augmentation": _augmentation,
        "bench-interactions": _interactions,
    }
    return pages[kind](folder)


def _csv(path: Path) -> pd.DataFrame:
    return read_file(path, pd.read_csv)


# ------------------------------------------------------------------------ time and memory
def scaling_figure(
    frame: pd.DataFrame, series: pd.Series, x: str, xlabel: str, title: str = ""
) -> MplFigure:
    """Time and peak memory vs ``x``, log-log, one line per value of ``series`` (a label per
    row of ``frame``); rows whose status is not ``ok`` are drawn as an ``x`` on the axis."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    status = frame["status"] if "status" in frame else pd.Series("ok", index=frame.index)
    ok = status == "ok"
    colors: dict[str, str] = {}
    for label in dict.fromkeys(series):
        rows = frame[ok & (series == label)]
        color = f"C{len(colors) % 10}"
        colors[label] = color
        if len(rows):
            axes[0].plot(rows[x], rows["seconds"], marker="o", label=label, color=color)
            axes[1].plot(rows[x], rows["peak_memory_mb"], marker="o", label=label, color=color)
    for ax, label in zip(axes, ("seconds (median)", "peak memory (MB)"), strict=True):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    failed = frame[~ok]
    if len(failed):
        for ax in axes:  # at the bottom of the axis: not a measurement
            ax.scatter(
                failed[x],
                [0.02] * len(failed),
                marker="x",
                s=60,
                color=[colors[label] for label in series[~ok]],
                transform=ax.get_xaxis_transform(),
                clip_on=False,
                label="not measured (failed, timed out or skipped)",
            )
    if title:
        fig.suptitle(title)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        axes[0].legend(handles, labels, fontsize=8)
    fig.tight_layout()
    return fig


def _status_table(frame: pd.DataFrame, columns: list[str], caption: str) -> Table:
    shown = frame.reindex(columns=[c for c in columns if c in frame]).copy()
    for column, digits in (
        ("seconds", 4),
        ("peak_memory_mb", 0),
        ("gflops", 1),
        ("fraction_of_matmul", 2),
        ("tokens_mean", 1),
    ):
        if column in shown:
            shown[column] = shown[column].map(lambda v, d=digits: _fixed(v, d))
    if "n_parameters" in shown:
        shown["n_parameters"] = shown["n_parameters"].map(
            lambda v: "" if pd.isna(v) else f"{v:,.0f}"
        )
    if "note" in shown:
        shown["note"] = shown["note"].fillna("")
    return Table(shown, caption)


def _settings(rows: list[tuple[str, object]]) -> pd.DataFrame:
    return pd.DataFrame([(k, str(v)) for k, v in rows], columns=["setting", "value"])


def _fixed(value: float, digits: int) -> str:
    return "" if pd.isna(value) else f"{value:,.{digits}f}"


def _not_measured(frame: pd.DataFrame) -> str:
    bad = frame[frame["status"] != "ok"] if "status" in frame else frame.iloc[:0]
    if bad.empty:
        return "Every configuration was measured."
    counts = ", ".join(f"{n} {s}" for s, n in bad["status"].value_counts().items())
    return (
        f"Not measured: {counts}; they are kept in the table with the reason and drawn as x "
        "at the bottom of the axes."
    )


# what a person reads of attention.csv (the page's table, the terminal's)
ATTENTION_COLUMNS = [
    "backend",
    "mask_density",
    "tokens",
    "n",
    "tokens_mean",
    "status",
    "seconds",
    "peak_memory_mb",
    "gflops",
    "fraction_of_matmul",
    "note",
]


def attention_label(backend: str, density: float, tokens: str = "all") -> str:
    """A backend's name, with its mask density when masked and ``expressed`` in the
    expressed-only mode."""
    label = f"{backend} (mask {density:g})" if density else backend
    return f"{label}, expressed" if tokens == "expressed" else label


def _tokens(frame: pd.DataFrame) -> pd.Series:
    """Each row's tokens mode (``all`` for files written before the mode existed)."""
    if "tokens" not in frame:
        return pd.Series("all", index=frame.index, dtype=object)
    return frame["tokens"].fillna("all").astype(str)


def attention_scaling(frame: pd.DataFrame) -> MplFigure:
    """attention.csv's figure: time and peak memory vs tokens per backend (and mask density)."""
    series = pd.Series(
        [
            attention_label(b, d, t)
            for b, d, t in zip(frame["backend"], frame["mask_density"], _tokens(frame), strict=True)
        ],
        index=frame.index,
        dtype=object,
    )
    title = ""
    if len(frame):
        first = frame.iloc[0]
        precision = "fp32" if str(first["precision"]) == "32" else first["precision"]
        title = (
            f"attention {first['mode']}, batch {first['batch']}, d_model {first['dim']}, "
            f"{first['heads']} heads, {precision}, {first['device']}"
        )
    return scaling_figure(frame, series, "n", "tokens (genes)", title)


def _attention(folder: Path) -> list[Section]:
    frame = _csv(folder / "attention.csv")
    first = frame.iloc[0] if len(frame) else None
    setup = Section("Setup")
    if first is not None:
        rows = [
            (key, first[key])
            for key in ("mode", "batch", "dim", "heads", "head_dim", "precision", "device")
        ]
        rows += [("repeats (median of)", first["repeats"])]
        rows += [("matmul peak (GFLOP/s)", _fixed(first["matmul_gflops"], 1))]
        setup.add(Table(_settings(rows)))
    setup.add(
        Text(
            "Every configuration ran in a fresh process. GFLOP/s follow the FlashAttention "
            "convention (forward 4·B·N²·H·D, forward + backward 3.5x); for approximate backends "
            "it is the exact-attention-equivalent rate, so it can exceed the matmul peak."
        )
    )
    if (_tokens(frame) == "expressed").any():
        setup.add(
            Text(
                "Rows with tokens = expressed keep each patient's expressed genes only (a share "
                "1 - zero_fraction of n on average; tokens_mean is the kept count per patient), "
                "each patient's tokens run as their own sequence; their GFLOP/s count the work "
                "done on the kept tokens (4·Σ n_b²·H·D)."
            )
        )
    return [
        setup,
        Section("Time and memory vs tokens").add(
            Figure.of(
                attention_scaling(frame),
                "Median time and peak memory per backend, log-log: a slope of 2 is quadratic "
                "in the tokens (exact attention), 1 linear (the approximations). "
                + _not_measured(frame),
            )
        ),
        Section("Every configuration").add(
            _status_table(
                frame,
                ATTENTION_COLUMNS,
                "attention.csv (all columns there).",
            )
        ),
    ]


# what a person reads of model.csv (the page's table, the terminal's)
MODEL_COLUMNS = [
    "model",
    "genes",
    "tokens",
    "tokens_mean",
    "tokens_min",
    "tokens_max",
    "batch",
    "options",
    "status",
    "seconds",
    "peak_memory_mb",
    "n_parameters",
    "note",
]


def _model(folder: Path) -> list[Section]:
    frame = _csv(folder / "model.csv")
    title = ""
    if len(frame):
        first = frame.iloc[0]
        title = (
            f"one training step, batch {first['batch']}, {first['precision']}, {first['device']}"
        )
    tokens = _tokens(frame)
    series = frame["model"].astype(str).where(tokens != "expressed", frame["model"] + ", expressed")
    return [
        Section("Time and memory vs genes").add(
            Figure.of(
                scaling_figure(frame, series, "genes", "genes", title),
                "Median time of one training step (forward, backward, AdamW) and its peak "
                "memory per model (and tokens mode: expressed = each patient's expressed genes "
                "only), log-log. " + _not_measured(frame),
            )
        ),
        Section("Every configuration").add(
            _status_table(
                frame,
                MODEL_COLUMNS,
                "model.csv: default options plus the -o overrides shown; tokens_mean / min / "
                "max: tokens kept per patient in the batch (every gene when tokens is all).",
            )
        ),
    ]


# ---------------------------------------------------------------------------- augmentation
# the indicators of a generator's synthetic patients (bench/augmentation.py); an older CSV's
# tstr_balanced_accuracy and sd_ratio (a mean of per-gene ratios) are not shown
QUALITY = (
    "tstr",
    "discriminator_auroc",
    "variance_ratio",
    "correlation_similarity",
    "nn_distance_ratio",
)
QUALITY_NOTE = (
    "tstr: train on synthetic, test on real: a logistic regression's balanced accuracy (a ridge "
    "Cox model's C-index for survival) trained on synthetic patients only, scored on the real "
    "test fold (near the real-data score: the synthetic patients carry the signal). "
    "discriminator_auroc: a random forest telling synthetic patients from real test-fold "
    "patients, whom the generator never saw (0.5: indistinguishable, 1: trivially told apart). "
    "variance_ratio: the synthetic patients' total variance (sum over genes) over the real "
    "training patients' (1: the spread is reproduced; well below 1: samples too close to the "
    "class means). correlation_similarity: correlation of the real and synthetic gene-gene "
    "correlations over the 500 most variable genes (1: the co-expression is reproduced). "
    "nn_distance_ratio: median distance of a synthetic patient to its nearest training patient "
    "over that of a real test patient (about 1: as new as new patients; near 0: copies of the "
    "training patients)."
)
METRICS = ("balanced_accuracy", "c_index", "r2")  # each task's main metric


def _augmentation(folder: Path) -> list[Section]:
    frame = _csv(folder / "augmentation.csv")
    ok = frame[frame["status"] == "ok"]
    metric = next((m for m in METRICS if m in frame), None)
    parts = []
    if metric is not None and len(ok):
        parts.append(
            Section(f"{metric} per augmentation").add(
                Table(
                    augmentation_table(ok, metric),
                    f"{metric} on the test folds, mean ± sd; gain: mean paired difference to "
                    "none on the same fold and training subsample (± sd); p: corrected "
                    "resampled t-test over repeats x folds; up / down: folds where the "
                    "augmentation scored higher / lower than none.",
                ),
                _augmentation_pairs(ok, metric),
            )
        )
    curves = folder / "learning_curves.png"
    if curves.is_file():
        parts.append(
            Section("Learning curves").add(
                Figure(
                    curves.read_bytes(),
                    f"{metric} vs training patients (log scale), mean ± sd over folds "
                    "(learning_curves.png).",
                )
            )
        )
    quality = quality_table(ok)
    if len(quality):
        parts.append(
            Section("Synthetic patients' quality").add(
                Table(quality, "Mean ± sd over folds, one row per generator and fraction."),
                Text(QUALITY_NOTE),
            )
        )
    skipped = frame[frame["status"] != "ok"].drop_duplicates("augment")
    if len(skipped):
        parts.append(
            Section("Not available").add(
                Table(
                    skipped[["augment", "status", "note"]],
                    "Augmentations that do not apply to this task or model (not run).",
                )
            )
        )
    return parts


def quality_table(ok: pd.DataFrame) -> pd.DataFrame:
    """One row per generator (augmentation) and training fraction: mean ± sd over the folds of
    each quality indicator it has (empty when no fit made synthetic patients). Written to
    summary.md by ``bench augmentation`` and shown on its page."""
    columns = [c for c in QUALITY if c in ok and ok[c].notna().any()]
    if not columns:
        return pd.DataFrame()
    rows = []
    generated = ok[ok[columns].notna().any(axis=1)]
    for (augment, fraction), group in generated.groupby(["augment", "fraction"], sort=False):
        rows.append(
            {
                "augment": augment,
                "fraction": f"{fraction:g}",
                **{c: f"{group[c].mean():.3f} ± {_sd(group[c])}" for c in columns},
            }
        )
    return pd.DataFrame(rows)


def augmentation_table(ok: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per augmentation, one column per training fraction: mean ± sd of ``metric``
    over the test folds and, for the augmentations, the paired gain over ``none`` (mean ± sd of
    the per-fold differences), the corrected resampled t-test's p (Nadeau & Bengio; over
    repeats x folds, training size = training subsample + validation part) and the folds up /
    down. Written to summary.md by ``bench augmentation`` and shown on its page."""
    keys = [c for c in ("repeat", "fold", "fraction") if c in ok]  # "repeat": since repeats
    base = ok[ok["augment"] == "none"].set_index(keys)[metric]
    rows = []
    for augment in ok["augment"].unique():
        row = {"augment": augment}
        for fraction in sorted(ok["fraction"].unique()):
            own = ok[(ok["augment"] == augment) & (ok["fraction"] == fraction)].set_index(keys)
            n = int(ok[ok["fraction"] == fraction]["n_train"].mean())
            scores = own[metric]
            text = f"{scores.mean():.3f} ± {_sd(scores)}"
            if augment != "none":
                gain = (scores - base.reindex(scores.index)).dropna()
                text += f" (gain {gain.mean():+.3f} ± {_sd(gain)}"
                if "n_test" in own and len(gain) > 1:
                    sizes = own.loc[gain.index]
                    test = corrected_resampled_ttest(
                        gain.to_numpy(), sizes["n_train"] + sizes["n_val"], sizes["n_test"]
                    )
                    text += f", p {test.p_value:.3f}"
                text += f"; {int((gain > 0).sum())} up / {int((gain < 0).sum())} down)"
            row[f"fraction {fraction:g} (n≈{n})"] = text
        rows.append(row)
    return pd.DataFrame(rows)


def _sd(values: pd.Series) -> str:
    sd = values.std(ddof=1)
    return "nan" if math.isnan(sd) else f"{sd:.3f}"


def _augmentation_pairs(ok: pd.DataFrame, metric: str) -> Figure:
    fractions = sorted(ok["fraction"].unique())
    augments = list(ok["augment"].unique())
    fig, axes = plt.subplots(
        1,
        len(fractions),
        figsize=(max(4.0, 1.1 * len(augments) + 1.5) * len(fractions), 3.8),
        squeeze=False,
        sharey=True,
    )
    for ax, fraction in zip(axes[0], fractions, strict=True):
        own = ok[ok["fraction"] == fraction]
        paired_points(
            ax, own, "augment", augments, [c for c in ("repeat", "fold") if c in own], metric
        )
        ax.set_title(f"fraction {fraction:g} (n≈{int(own['n_train'].mean())})", fontsize=9)
    axes[0, 0].set_ylabel(f"{metric} (test fold)")
    fig.tight_layout()
    return Figure.of(
        fig,
        f"{metric} of every augmentation on every test fold, per training fraction; one grey "
        "line per fold joins its augmentations (the same patients), the black bar is the mean.",
    )


# ---------------------------------------------------------------------------- interactions
def _interactions(folder: Path) -> list[Section]:
    table = _csv(folder / "interactions.csv")
    setup_path = folder / "setup.json"
    setup = read_json(setup_path) if setup_path.is_file() else {}
    parts = []
    if setup:
        data = setup.get("data", {})
        rows = [
            ("pairs scored", setup.get("n_pairs_scored", "")),
            ("planted pairs", setup.get("n_planted", "")),
            *((f"data: {k}", v) for k, v in data.items()),
        ]
        parts.append(
            Section("Setup").add(
                Table(_settings(rows)),
                Text(
                    "The synthetic label is driven by products of the planted gene pairs (no "
                    "single gene of a pair carries it). Every candidate pair gets one "
                    "cohort-level score per method (mean over test patients); recovery is the "
                    "AUROC of planted vs other pairs and the share of planted pairs in the top k. "
                    "p: the share of 2,000 random rankings with at least the same AUROC."
                ),
            )
        )
    shown = table.copy()
    for column in shown.columns:
        if column not in ("model", "method") and pd.api.types.is_numeric_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: _fixed(v, 3))
    parts.append(
        Section("Recovery of the planted pairs").add(
            _interaction_figure(table),
            Table(shown, "interactions.csv: one row per model and method, controls first."),
        )
    )
    return parts


def _interaction_figure(table: pd.DataFrame) -> Figure:
    measures = ["auroc", *[c for c in table.columns if c.startswith("precision_at_")]]
    models = table[table["model"] != "(control)"]
    controls = table[table["model"] == "(control)"]
    methods = list(models["method"].unique())
    names = list(models["model"].unique())
    fig, axes = plt.subplots(1, len(measures), figsize=(4.2 * len(measures), 3.8), squeeze=False)
    width = 0.8 / max(1, len(methods))
    for ax, measure in zip(axes[0], measures, strict=True):
        for j, method in enumerate(methods):
            rows = models[models["method"] == method].set_index("model").reindex(names)
            ax.bar(
                [i + (j - (len(methods) - 1) / 2) * width for i in range(len(names))],
                rows[measure],
                width,
                label=method,
            )
        for k, (_, control) in enumerate(controls.iterrows()):
            ax.axhline(
                control[measure],
                color="grey",
                linestyle=[":", "--"][k % 2],
                label=f"control: {control['method']}",
            )
        ax.set_xticks(range(len(names)), names, rotation=20, ha="right")
        ax.set_ylim(0, 1.05)
        ax.set_title(measure.replace("_at_", "@"), fontsize=9)
        ax.grid(True, axis="y", alpha=0.3)
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    return Figure.of(
        fig,
        "AUROC of planted vs other pairs and precision@k per model and method; grey lines: "
        "the controls (random rankings, and the model-free pair-product correlation).",
    )
