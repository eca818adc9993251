"""The page of an ``interpret`` folder, from the files ``omicsformer interpret`` writes.

Sections: what was interpreted (patients, methods, layers); the top interacting pairs (per
method, on its summary layer: the pairs with the highest score summed over the interpreted
patients, divided by their number); the recurrent interactions (recurrent_interactions.csv: the
pairs in most patients' top-k lists); the most important genes per predicted class
(gene_importance.csv, scope ``class``); and the heatmaps it drew (heatmap_class_*.png, then
heatmap_<sample>.png), embedded as they are.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from omicsformer.fileio import read_file, read_optional_csv
from omicsformer.report.html import Figure, Section, Table, Text

# the layer that summarises each method (the one its heatmaps are drawn from), in this order
SUMMARY_LAYERS = ("mean", "all", "input", "block0", "layer0", "gene_layer0")
TOP_PAIRS = 15
TOP_GENES = 15


def sections(folder: Path, kind: str = "interpret") -> list[Section]:
    """The page's sections, from the files of the interpret folder ``folder``."""
    interactions = read_file(folder / "interactions.parquet", pd.read_parquet)
    parts = [_overview(interactions)]
    if len(interactions):
        parts.append(_top_pairs(interactions))
    recurrent = read_optional_csv(folder / "recurrent_interactions.csv")
    if recurrent is not None and len(recurrent):
        parts.append(_recurrent(recurrent))
    importance = read_optional_csv(folder / "gene_importance.csv")
    if importance is not None and len(importance):
        parts.append(_importance(importance))
    heatmaps = _heatmaps(folder)
    if heatmaps is not None:
        parts.append(heatmaps)
    return parts


def _overview(interactions: pd.DataFrame) -> Section:
    rows = [("patients interpreted", interactions["sample_id"].nunique())]
    for method, own in interactions.groupby("method", sort=False):
        layers = ", ".join(map(str, own["layer"].unique()))
        rows.append((f"{method}: edges (layers)", f"{len(own):,} ({layers})"))
    frame = pd.DataFrame([(k, str(v)) for k, v in rows], columns=["what", "value"])
    return Section("What was interpreted").add(
        Table(frame, "interactions.parquet: one row per patient and edge."),
        Text(
            "attention_gene / attention_group: query gene_a attends to key gene_b (per layer, "
            "and their mean); rollout: attention flow from gene_a through the layers; hessian "
            "and occlusion: the pair's interaction in the model's output (gradient-based and "
            "model-agnostic). Attention shows where a model looks, not what its output "
            "depends on; the gradient and occlusion scores ask the output (see "
            "docs/interpretation.md)."
        ),
    )


def summary_layer(layers: list[str]) -> str:
    """The layer that summarises a method's edges: the mean over layers when there is one."""
    return next((layer for layer in SUMMARY_LAYERS if layer in layers), layers[0])


def top_pairs(interactions: pd.DataFrame, top: int = TOP_PAIRS) -> pd.DataFrame:
    """Per method, on its summary layer: the ``top`` directed pairs with the highest score summed
    over the interpreted patients / their number (a pair outside a patient's top-k counts 0)."""
    n = interactions["sample_id"].nunique()
    frames = []
    for method, own in interactions.groupby("method", sort=False):
        layer = summary_layer(list(map(str, own["layer"].unique())))
        own = own[own["layer"].astype(str) == layer]
        pairs = (
            own.groupby(["gene_a", "gene_b"])
            .agg(patients=("sample_id", "nunique"), total=("score", "sum"))
            .reset_index()
        )
        pairs["score per patient"] = pairs["total"] / n
        pairs = pairs.reindex(
            pairs["score per patient"].abs().sort_values(ascending=False).index
        ).head(top)
        pairs.insert(0, "method", method)
        pairs.insert(1, "layer", layer)
        frames.append(pairs.drop(columns="total"))
    return pd.concat(frames, ignore_index=True)


def _top_pairs(interactions: pd.DataFrame) -> Section:
    frame = top_pairs(interactions)
    frame["score per patient"] = frame["score per patient"].map(lambda v: f"{v:.4g}")
    n = interactions["sample_id"].nunique()
    return Section("Top interacting pairs").add(
        Table(
            frame,
            f"Per method (on its summary layer), the {TOP_PAIRS} pairs with the strongest score "
            f"summed over the {n} patients / {n}; patients: in how many patients' top-k lists "
            "the pair is.",
        )
    )


def _recurrent(recurrent: pd.DataFrame) -> Section:
    shown = recurrent.groupby(["method", "layer"], sort=False).head(10).copy()
    shown["mean_score"] = shown["mean_score"].map(lambda v: f"{v:.4g}")
    return Section("Recurrent interactions").add(
        Table(
            shown,
            "recurrent_interactions.csv (first 10 per method and layer): unordered pairs found "
            "in most patients' top-k lists, with their mean score where found.",
        )
    )


def _importance(importance: pd.DataFrame) -> Section:
    classes = importance[importance["scope"] == "class"]
    column = (
        "integrated_gradients"
        if classes["integrated_gradients"].notna().any()
        else "gradient_x_input"
    )
    rows = []
    for klass, own in classes.groupby("id", sort=False):
        own = own.reindex(own[column].abs().sort_values(ascending=False).index).head(TOP_GENES)
        for rank, (_, r) in enumerate(own.iterrows(), start=1):
            rows.append(
                {
                    "predicted class": klass,
                    "rank": rank,
                    "gene": r["gene"],
                    "integrated gradients": _number(r["integrated_gradients"]),
                    "gradient x input": _number(r["gradient_x_input"]),
                }
            )
    n = importance.loc[importance["scope"] == "sample", "id"].nunique()
    return Section("Gene importance").add(
        Table(
            pd.DataFrame(rows),
            f"The {TOP_GENES} genes with the largest mean |{column.replace('_', ' ')}| over "
            f"the patients predicted in each class ({n} patients in all; each patient's own top "
            "genes are in gene_importance.csv, scope sample). Positive: pushes the output "
            "toward the class (or a higher risk / value).",
        )
    )


def _number(value: float) -> str:
    return "" if pd.isna(value) else f"{value:.4g}"


def _heatmaps(folder: Path) -> Section | None:
    classes = sorted(folder.glob("heatmap_class_*.png"))
    patients = sorted(set(folder.glob("heatmap_*.png")) - set(classes))
    if not classes and not patients:
        return None
    section = Section("Heatmaps")
    for path in classes:
        name = path.stem.removeprefix("heatmap_class_")
        section.add(Figure(path.read_bytes(), f"Predicted {name}: mean over its patients."))
    for path in patients:
        name = path.stem.removeprefix("heatmap_")
        section.add(Figure(path.read_bytes(), f"Patient {name}."))
    section.add(
        Text(
            "Cell (a, b): the method's score of query gene a to key gene b (summed over the "
            "patients / their number for the class maps), over the genes in the strongest "
            f"edges. {len(classes)} class and {len(patients)} patient heatmaps "
            "(interpret --plots sets how many patients)."
        )
    )
    return section
