"""The page of an interpret folder (``omicsformer report``), on a real tiny interpretation."""

import json

import pandas as pd
import pytest

from omicsformer.report.pages.interpret import top_pairs
from tests.report.page_tables import figures, self_contained, tables, titles

DATA = "synthetic:n_samples=80,n_genes=20,n_modules=1,module_size=5"


@pytest.mark.slow
def test_interpret_page_shows_pairs_genes_and_the_heatmaps(cli, tmp_path):
    run = tmp_path / "run"
    args = [
        "train",
        "--data",
        DATA,
        "--model",
        "gene-transformer",
        "-o",
        "dim=16",
        "-o",
        "layers=2",
    ]
    assert cli(*args, "--max-epochs", "1", "--out", run).code == 0
    out = tmp_path / "interp"
    args = ["interpret", run, "--data", DATA, "--samples", "S00000,S00001,S00002"]
    args += ["--top-k", "5", "--methods", "attention,integrated_gradients,hessian"]
    result = cli(*args, "--plots", "2", "--out", out)
    assert result.code == 0, result.err
    assert not (out / "report.html").exists()  # interpret itself writes no page

    result = cli("report", out)
    assert result.code == 0, result.err
    page = (out / "report.html").read_text()
    assert self_contained(page)
    assert (out / "report.html").stat().st_size > 0 and "report.html" not in json.loads(
        (out / "omicsformer.json").read_text()
    )["files"]
    assert titles(page) == [
        "What was interpreted",
        "Top interacting pairs",
        "Recurrent interactions",
        "Gene importance",
        "Heatmaps",
    ]
    overview, pairs, recurrent, genes = tables(page)
    assert dict(zip(overview.what, overview.value, strict=True))["patients interpreted"] == "3"
    assert set(pairs.method) == {"attention_gene", "hessian"}
    assert set(pairs[pairs.method == "attention_gene"].layer) == {"mean"}
    edges = pd.read_parquet(out / "interactions.parquet")
    expected = top_pairs(edges)
    assert list(zip(pairs.gene_a, pairs.gene_b, strict=True)) == list(
        zip(expected.gene_a, expected.gene_b, strict=True)
    )
    assert set(recurrent.method) == set(pd.read_csv(out / "recurrent_interactions.csv").method)
    importance = pd.read_csv(out / "gene_importance.csv")
    classes = set(importance[importance.scope == "class"].id)
    assert set(genes["predicted class"]) == classes
    assert (genes.groupby("predicted class").size() <= 15).all()
    # every heatmap interpret drew is on the page, as it was written
    drawn = sorted(out.glob("heatmap_*.png"))
    assert len(drawn) == 2 + len(classes)
    shown = figures(page)
    assert sorted(shown) == sorted(p.read_bytes() for p in drawn)
    # a second page goes elsewhere, or replaces this one only with --force
    assert cli("report", out).code == 2
    assert cli("report", out, "--force").code == 0
