"""Odd inputs at the command line (issue 24): each ends in a right result or in one error line
that says what was found and the way out, never in a traceback or a silent wrong result."""

from __future__ import annotations

import anndata as ad
import pandas as pd
import pytest


def error_line(result) -> str:
    """Exit code 2 and exactly one error line (the last), every other line one of our notes."""
    assert result.code == 2, result.err
    lines = result.err.strip().splitlines()
    assert all(line.startswith("omicsformer: ") for line in lines), result.err
    errors = [line for line in lines if line.startswith("omicsformer: error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.err
    return errors[0].removeprefix("omicsformer: error: ")


@pytest.mark.slow
def test_predict_and_embed_need_only_the_genes_a_top_genes_run_uses(cli, tiny_files, tmp_path):
    common = ["--labels", tiny_files["labels"], "--target", "label"]
    run = tmp_path / "run"
    trained = cli("train", "--data", tiny_files["csv"], *common, "--model", "mlp",
                  "--top-genes", "8", "--max-epochs", "1", "--out", run)  # fmt: skip
    assert trained.code == 0, trained.err
    frame = pd.read_csv(tiny_files["csv"], index_col=0)
    whole = tmp_path / "whole.csv"
    assert cli("predict", run, "--data", tiny_files["csv"], "--out", whole).code == 0
    kept = ["sample_id", "predicted", *pd.read_csv(whole).filter(like="prob_").columns]
    assert len(kept) == 2 + 3  # three classes
    from omicsformer.runs import load_run

    genes = load_run(run).preprocessor.genes
    assert len(genes) == 8
    subset = tmp_path / "subset.csv"
    frame[genes[::-1]].to_csv(subset)  # the model's genes only, in another order
    done = cli("predict", run, "--data", subset, "--out", tmp_path / "p.csv")
    assert done.code == 0, done.err
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "p.csv")[kept], pd.read_csv(whole)[kept], check_exact=True
    )
    embedded = cli("embed", run, "--data", subset, "--out", tmp_path / "e.h5ad")
    assert embedded.code == 0, embedded.err
    assert ad.read_h5ad(tmp_path / "e.h5ad").obsm["X_omicsformer"].shape[0] == 60

    frame[genes[:6]].to_csv(subset)
    line = error_line(cli("predict", run, "--data", subset, "--out", tmp_path / "q.csv"))
    assert line == (
        f"2 of the 8 genes the model uses are missing from the data (e.g. {genes[6]}, {genes[7]})"
    )
    assert not (tmp_path / "q.csv").exists()


def test_a_model_flag_the_model_does_not_take_names_the_flag(cli, tiny_files, tmp_path):
    """Issue 24: --grouping go-bp --model mlp was refused with an -o key never typed."""
    common = ["--data", tiny_files["csv"], "--labels", tiny_files["labels"], "--target", "label"]
    out = tmp_path / "r"
    cases = [
        (["train", "--model", "mlp", "--grouping", "go-bp"],
         "--grouping applies to attomics and hybrid only, not to --model mlp"),
        (["train", "--model", "logreg", "--attention", "sdpa"],
         "--attention applies to attomics, gene-transformer and hybrid only, not to --model "
         "logreg"),
        (["tune", "--model", "mlp", "--drop-ungrouped"],
         "--drop-ungrouped applies to attomics and hybrid only, not to --model mlp"),
        (["compare", "--models", "mlp,logreg", "--grouping", "go-bp"],
         "--grouping applies to attomics and hybrid only, not to --models mlp,logreg"),
        (["compare", "--models", "mlp,logreg", "-o", "grouping=go-bp"],
         "option 'grouping': none of mlp, logreg has it (it is an option of attomics, hybrid)"),
    ]  # fmt: skip
    for args, expected in cases:
        assert error_line(cli(*args, *common, "--out", out)) == expected
    assert not out.exists()


def test_evaluate_refuses_survival_scores_of_too_few_events(cli, tmp_path):
    """Too little data is refused, never published: evaluate --out wrote the C-index of one
    event's pairs."""
    from omicsformer.data.datasets.synthetic import make_synthetic

    adata = make_synthetic(n_samples=60, n_genes=12, seed=2).adata
    frame = pd.DataFrame(adata.X, index=adata.obs_names, columns=adata.var_names)
    frame = frame.rename_axis("sample")
    obs = adata.obs[["time", "event"]].rename_axis("sample")
    frame.to_csv(tmp_path / "x.csv")
    obs.to_csv(tmp_path / "y.csv")
    run = tmp_path / "run"
    common = ["--time", "time", "--event", "event"]
    fast = ["--model", "coxph", "-o", "n_alphas=3", "-o", "inner_folds=2"]
    data = ["--data", tmp_path / "x.csv", "--labels", tmp_path / "y.csv"]
    trained = cli("train", *data, *common, *fast, "--out", run)
    assert trained.code == 0, trained.err
    event = obs["event"].astype(int)
    few = [*obs.index[event == 0][:6], obs.index[event == 1][0]]
    frame.loc[few].to_csv(tmp_path / "few_x.csv")
    obs.loc[few].to_csv(tmp_path / "few_y.csv")
    data = ["--data", tmp_path / "few_x.csv", "--labels", tmp_path / "few_y.csv"]
    line = error_line(cli("evaluate", run, *data, *common, "--out", tmp_path / "m.json"))
    assert line.startswith("too few events to score survival: evaluated part 1 event in 7 ")
    assert line.endswith(
        "the evaluated part needs at least 3 events and a comparable pair (1 event in 7 "
        "patients: evaluate on more patients)"
    )
    assert not (tmp_path / "m.json").exists()


def test_predict_needs_only_the_genes_a_cox_model_picked_itself(cli, tmp_path):
    """coxph -o top_genes=K picks its genes inside the model: predict needs only those K."""
    from omicsformer.data.datasets.synthetic import make_synthetic
    from omicsformer.models.base import used_inputs
    from omicsformer.runs import load_run

    adata = make_synthetic(n_samples=60, n_genes=12, seed=3).adata
    frame = pd.DataFrame(adata.X, index=adata.obs_names, columns=adata.var_names)
    frame.rename_axis("sample").to_csv(tmp_path / "x.csv")
    adata.obs[["time", "event"]].rename_axis("sample").to_csv(tmp_path / "y.csv")
    run = tmp_path / "run"
    trained = cli("train", "--data", tmp_path / "x.csv", "--labels", tmp_path / "y.csv",
                  "--time", "time", "--event", "event", "--model", "coxph",
                  "-o", "n_alphas=3", "-o", "inner_folds=2", "-o", "top_genes=4",
                  "--out", run)  # fmt: skip
    assert trained.code == 0, trained.err
    loaded = load_run(run)
    used = used_inputs(loaded.model)
    assert used is not None and len(used) == 4
    genes = [loaded.preprocessor.genes[i] for i in used]
    whole, part = tmp_path / "whole.csv", tmp_path / "part.csv"
    assert cli("predict", run, "--data", tmp_path / "x.csv", "--out", whole).code == 0
    frame[genes[::-1]].rename_axis("sample").to_csv(tmp_path / "four.csv")
    done = cli("predict", run, "--data", tmp_path / "four.csv", "--out", part)
    assert done.code == 0, done.err
    pd.testing.assert_frame_equal(pd.read_csv(part), pd.read_csv(whole), check_exact=True)

    frame[genes[:3]].rename_axis("sample").to_csv(tmp_path / "three.csv")
    line = error_line(cli("predict", run, "--data", tmp_path / "three.csv",
                          "--out", tmp_path / "q.csv"))  # fmt: skip
    assert line == f"1 of the 4 genes the model uses are missing from the data (e.g. {genes[3]})"

    import numpy as np

    import omicsformer

    estimator = omicsformer.load(run)  # the Python API reads the same four genes only
    np.testing.assert_array_equal(estimator.predict(frame[genes]), estimator.predict(frame))
