import json

import numpy as np
import pandas as pd
import pytest
import yaml


@pytest.mark.slow
def test_compare_writes_one_row_per_model_and_fold(cli, tmp_path):
    out = tmp_path / "cmp"
    result = cli(
        "compare",
        "--data",
        "synthetic:n_samples=80,n_genes=30,n_modules=1,module_size=5",
        "--models",
        "logreg,mlp,attomics",
        "--folds",
        "3",
        "--max-epochs",
        "3",
        "-o",
        "logreg.C=0.1",
        "-o",
        "logreg.inner_folds=2",
        "-o",
        "attomics.n_groups=3",
        "--out",
        out,
    )
    assert result.code == 0, result.err
    assert f"results written to {out}; open {out / 'report.html'} in a browser" in result.err
    results = pd.read_csv(out / "results.csv")
    assert len(results) == 9
    assert sorted(results.groupby(["model", "fold"]).size().index.tolist()) == sorted(
        (m, f) for m in ("logreg", "mlp", "attomics") for f in range(3)
    )
    for column in (
        "balanced_accuracy",
        "auroc",
        "fit_seconds",
        "predict_seconds",
        "peak_memory_mb",
        "n_parameters",
    ):
        assert results[column].notna().all(), column
    summary = (out / "summary.md").read_text()
    assert "± " in summary and "**" in summary and "attomics" in summary
    assert "balanced_accuracy" in result.out  # the table is printed
    assert {"config.yaml", "splits.json"} <= {p.name for p in out.iterdir()}


TINY = "synthetic:n_samples=40,n_genes=20,n_modules=1,module_size=5"


@pytest.mark.slow
def test_repeated_folds_pair_every_model_with_the_best_baseline(cli, tmp_path):
    out = tmp_path / "cmp"
    args = ["compare", "--data", TINY, "--models", "logreg,mlp", "--folds", "2"]
    args += ["--repeats", "2", "--max-epochs", "2", "-o", "logreg.inner_folds=2", "--out", out]
    result = cli(*args)
    assert result.code == 0, result.err
    results = pd.read_csv(out / "results.csv")
    assert results.groupby("model").size().to_dict() == {"logreg": 4, "mlp": 4}
    assert sorted(set(zip(results["repeat"], results["fold"], strict=True))) == [
        (0, 0),
        (0, 1),
        (1, 0),
        (1, 1),
    ]
    assert (results["n_train"] + results["n_test"] == 40).all()

    splits = json.loads((out / "splits.json").read_text())
    assert splits["split_seeds"] == [0, 1] and splits["model_seed"] == 0
    first, second = (r["folds"] for r in splits["repeats"])
    assert len(first) == len(second) == 2
    assert sorted(first[0]["test"] + first[1]["test"]) == sorted(
        second[0]["test"] + second[1]["test"]
    )  # every sample is tested once per repetition ...
    assert first[0]["test"] not in (second[0]["test"], second[1]["test"])  # ... on new folds
    assert yaml.safe_load((out / "config.yaml").read_text())["compare"]["repeats"] == 2

    differences = pd.read_csv(out / "differences.csv")
    assert list(differences.columns) == [
        "model",
        "reference",
        "metric",
        "n_pairs",
        "mean_diff",
        "sd_diff",
        "t",
        "p_value",
    ]
    assert (differences["reference"] == "logreg").all()  # the only baseline
    assert (differences["n_pairs"] == 4).all()
    own = differences.set_index("model").loc["logreg"]
    assert (own["mean_diff"], own["p_value"]) == (0.0, 1.0)
    mlp = differences.set_index("model").loc["mlp"]
    assert 0 <= mlp["p_value"] <= 1
    by_fold = results.pivot_table(
        index=["repeat", "fold"], columns="model", values="balanced_accuracy"
    )
    assert mlp["mean_diff"] == pytest.approx((by_fold["mlp"] - by_fold["logreg"]).mean())

    summary = (out / "summary.md").read_text()
    assert "2-fold CV x 2 repeats" in summary
    assert "| Δ balanced_accuracy vs logreg | p |" in summary
    assert "| reference | — |" in summary
    assert f"{mlp['mean_diff']:.3f} ± {mlp['sd_diff']:.3f}" in summary
    assert "Mean ± sd over 4 test folds" in summary
    assert "Nadeau & Bengio 2003" in summary and "overlap" in summary
    assert "Δ balanced_accuracy" in result.out and "reference" in result.out

    added = pd.read_csv(out / "base_differences.csv")  # mlp starts as a fitted logreg
    assert added["model"].tolist() == ["mlp"] and added["base"].tolist() == ["logreg (fitted)"]
    assert added["n_pairs"].tolist() == [4]
    mlp_rows = results[results["model"] == "mlp"]
    gain = mlp_rows["balanced_accuracy"] - mlp_rows["base_balanced_accuracy"]
    assert added["mean_diff"].iloc[0] == pytest.approx(gain.mean())
    assert "## What each network added to its base" in summary
    assert "what each network added to its base" in result.out


@pytest.mark.slow
def test_a_fitted_base_is_the_linear_baseline_of_the_same_fold(cli, tmp_path):
    """With the baseline's default options, a network's fitted base alone scores exactly what
    the baseline's own row scores on every fold: the same model on the same patients."""
    out = tmp_path / "cmp"
    args = ["compare", "--data", TINY, "--models", "logreg,mlp", "--folds", "2"]
    result = cli(*args, "--max-epochs", "1", "--out", out)
    assert result.code == 0, result.err
    results = pd.read_csv(out / "results.csv").set_index(["model", "fold"])
    np.testing.assert_allclose(
        results.loc["mlp", "base_balanced_accuracy"], results.loc["logreg", "balanced_accuracy"]
    )
    assert results.loc["logreg", "base"].isna().all()  # a baseline has no base


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--repeats", "0", "must be at least 1, got 0"),
        ("--repeats", "two", "expected an integer"),
        ("--folds", "1", "must be at least 2, got 1"),
    ],
)
def test_compare_numbers_are_range_checked(cli, tmp_path, option, value, message):
    out = tmp_path / "cmp"
    args = ["compare", "--data", TINY, "--models", "logreg", option, value, "--out", out]
    result = cli(*args)
    assert result.code == 2
    assert option in result.err and message in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert not out.exists()


@pytest.mark.slow
def test_tuned_and_pretrained_variants_never_see_the_test_fold(cli, tmp_path, monkeypatch):
    """compare --tune / --pretrain: rows NAME (tuned) and NAME (pretrained) beside the
    defaults; every search and every pretraining sees the fold's training patients only."""
    import numpy as np

    import omicsformer.pretrain.run as pretrain_run
    import omicsformer.tuning.search as search

    seen: list[tuple[str, set[int], set[int]]] = []
    real_search, real_pretrain = search.run_search, pretrain_run.pretrain_network

    def spy_search(config, data, split, *args, **kwargs):
        seen.append(("search", set(split["train"]) | set(split["val"]), set(split["test"])))
        return real_search(config, data, split, *args, **kwargs)

    def spy_pretrain(model, options, genes, x, *args, **kwargs):
        seen.append(("pretrain", {len(x)}, set()))
        return real_pretrain(model, options, genes, x, *args, **kwargs)

    monkeypatch.setattr(search, "run_search", spy_search)
    monkeypatch.setattr(pretrain_run, "pretrain_network", spy_pretrain)
    out = tmp_path / "cmp"
    result = cli(
        "compare",
        "--data",
        "synthetic:n_samples=60,n_genes=20,n_modules=1,module_size=5",
        "--models",
        "logreg,attomics",
        "--folds",
        "2",
        "--max-epochs",
        "2",
        "--tune",
        "2",
        "--pretrain",
        "--pretrain-epochs",
        "1",
        "-o",
        "attomics.n_groups=3",
        "--out",
        out,
    )
    assert result.code == 0, result.err
    results = pd.read_csv(out / "results.csv")
    assert sorted(results.model.unique()) == [
        "attomics",
        "attomics (pretrained)",
        "attomics (tuned)",
        "logreg",
        "logreg (tuned)",
    ]
    assert set(results.variant) == {"default", "tuned", "pretrained"}
    assert len(results) == 5 * 2
    trials = pd.read_csv(out / "trials.csv")
    assert set(trials.model) == {"logreg", "attomics"} and set(trials.fold) == {0, 1}
    assert (out / "studies.db").is_file()
    splits = json.loads((out / "splits.json").read_text())["repeats"][0]["folds"]
    from omicsformer.data.datasets import load_builtin

    ids = list(
        load_builtin("synthetic:n_samples=60,n_genes=20,n_modules=1,module_size=5").obs_names
    )
    tests = [{ids.index(s) for s in fold["test"]} for fold in splits]
    searches = [(used, test) for kind, used, test in seen if kind == "search"]
    assert len(searches) == 4 and all(not used & test for used, test in searches)
    for used, _ in searches:
        assert any(not used & fold_test for fold_test in tests)  # a fold's test never searched
    sizes = [next(iter(used)) for kind, used, _ in seen if kind == "pretrain"]
    assert sizes == [30, 30]  # the training patients of each fold, no more
    assert np.isfinite(results.balanced_accuracy).all()
    summary = (out / "summary.md").read_text()
    assert "attomics (tuned)" in summary and "vs logreg" in summary
