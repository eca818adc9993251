"""interpret and bench interactions through the command line."""

import pandas as pd
import pytest

DATA = "synthetic:n_samples=120,n_genes=20,n_modules=1,module_size=5"


@pytest.mark.slow
def test_interpret_writes_every_output(cli, tmp_path):
    run = tmp_path / "run"
    assert (
        cli(
            "train",
            "--data",
            DATA,
            "--model",
            "gene-transformer",
            "-o",
            "dim=16",
            "-o",
            "layers=2",
            "--max-epochs",
            "2",
            "--out",
            run,
        ).code
        == 0
    )
    out = tmp_path / "interp"
    result = cli(
        "interpret",
        run,
        "--data",
        DATA,
        "--samples",
        "S00000,S00003",
        "--top-k",
        "5",
        "--methods",
        "attention,rollout,integrated_gradients,gradient_x_input,hessian,occlusion",
        "--out",
        out,
    )
    assert result.code == 0, result.err
    edges = pd.read_parquet(out / "interactions.parquet")
    assert list(edges.columns) == ["sample_id", "gene_a", "gene_b", "score", "method", "layer"]
    assert set(edges.method) == {"attention_gene", "rollout", "hessian", "occlusion"}
    assert set(edges.sample_id) == {"S00000", "S00003"}
    assert {"layer0", "layer1", "mean"} <= set(edges[edges.method == "attention_gene"].layer)
    per = edges[(edges.method == "attention_gene") & (edges.layer == "mean")]
    assert per.groupby("sample_id").size().max() <= 5
    importance = pd.read_csv(out / "gene_importance.csv")
    assert {"sample", "class"} == set(importance.scope)
    assert importance[["integrated_gradients", "gradient_x_input"]].notna().all().all()
    recurrent = pd.read_csv(out / "recurrent_interactions.csv")
    assert (recurrent.n_patients >= 1).all() and (recurrent.n_patients <= 2).all()
    assert (out / "heatmap_S00000.png").stat().st_size > 0
    assert list(out.glob("heatmap_class_*.png"))
    # rollout on its own still gets the integrated gradients it starts from
    alone = tmp_path / "rollout"
    result = cli("interpret", run, "--data", DATA, "--methods", "rollout", "--out", alone)
    assert result.code == 0, result.err
    rollout = pd.read_parquet(alone / "interactions.parquet")
    assert len(rollout) > 0 and set(rollout.method) == {"rollout"}


@pytest.mark.slow
def test_interpret_refuses_other_genes_and_baselines(cli, tmp_path):
    run = tmp_path / "run"
    assert (
        cli("train", "--data", DATA, "--model", "mlp", "--max-epochs", "1", "--out", run).code == 0
    )
    other = "synthetic:n_samples=30,n_genes=40,seed=3"
    result = cli(
        "interpret", run, "--data", "synthetic:n_samples=30,n_genes=15", "--out", tmp_path / "x"
    )
    assert result.code == 2 and "genes the model uses are missing" in result.err
    assert not (tmp_path / "x").exists()
    result = cli("interpret", run, "--data", other, "--samples", "NOPE", "--out", tmp_path / "y")
    assert result.code == 2 and "not in the data" in result.err
    base = tmp_path / "base"
    assert cli("train", "--data", DATA, "--model", "logreg", "-o", "C=0.1", "--out", base).code == 0
    result = cli("interpret", base, "--data", DATA, "--out", tmp_path / "z")
    assert result.code == 2 and "explains neural models" in result.err


@pytest.mark.slow
def test_bench_interactions_writes_the_table(cli, tmp_path):
    out = tmp_path / "bench"
    result = cli(
        "bench",
        "interactions",
        "--models",
        "mlp,attomics",
        "--data",
        "synthetic:n_samples=200,n_genes=12",
        "--max-epochs",
        "2",
        "-o",
        "attomics.n_groups=3",
        "--test-patients",
        "20",
        "--out",
        out,
    )
    assert result.code == 0, result.err
    table = pd.read_csv(out / "interactions.csv")
    assert {"(control)", "mlp", "attomics"} == set(table.model)
    assert {"auroc", "precision_at_3", "precision_at_10", "p_value"} <= set(table.columns)
    control = table[table.method == "pair_product_correlation"].iloc[0]
    assert control.auroc > 0.9  # the planted pairs are real
    assert table.auroc.between(0, 1).all()
