"""The page of a compare folder, and the files it is drawn from (predictions.csv,
histories.csv), on a real tiny comparison."""

import json

import pandas as pd
import pytest

from omicsformer.report.pages.compare import per_fold_table
from tests.report.page_tables import figures, section, self_contained, tables, titles

DATA = "synthetic:n_samples=40,n_genes=20,n_modules=1,module_size=5"


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    """logreg and mlp on 2 folds x 2 repeats (run once for the module's tests)."""
    from omicsformer.cli import main

    out = tmp_path_factory.mktemp("compare") / "cmp"
    args = ["compare", "--data", DATA, "--models", "logreg,mlp", "--folds", "2"]
    args += ["--repeats", "2", "--max-epochs", "3", "-o", "logreg.inner_folds=2", "--out", out]
    assert main([str(a) for a in args]) == 0
    return out


@pytest.mark.slow
def test_compare_keeps_every_out_of_fold_prediction(compared):
    predictions = pd.read_csv(compared / "predictions.csv")
    assert list(predictions.columns[:4]) == ["model", "repeat", "fold", "sample_id"]
    assert {"true", "predicted", "prob_class_0", "prob_class_1"} <= set(predictions.columns)
    assert len(predictions) == 40 * 2 * 2  # patients x models x repeats
    for (model, repeat), rows in predictions.groupby(["model", "repeat"]):
        assert rows["sample_id"].is_unique and len(rows) == 40, (model, repeat)
    splits = json.loads((compared / "splits.json").read_text())
    fold = splits["repeats"][1]["folds"][0]["test"]
    own = predictions[(predictions.model == "mlp") & (predictions.repeat == 1)]
    assert sorted(own[own.fold == 0].sample_id) == sorted(fold)
    # the kept predictions are the ones the fold was scored on
    from sklearn.metrics import balanced_accuracy_score

    results = pd.read_csv(compared / "results.csv").set_index(["model", "repeat", "fold"])
    for key, rows in predictions.groupby(["model", "repeat", "fold"]):
        score = balanced_accuracy_score(rows["true"], rows["predicted"])
        assert score == pytest.approx(results.loc[key, "balanced_accuracy"])


@pytest.mark.slow
def test_compare_keeps_the_neural_histories(compared):
    histories = pd.read_csv(compared / "histories.csv")
    assert list(histories.columns[:4]) == ["model", "repeat", "fold", "epoch"]
    assert set(histories.model) == {"mlp"}  # logreg has no epochs
    assert len(histories[["repeat", "fold"]].drop_duplicates()) == 4
    assert {"train_loss", "val_loss"} <= set(histories.columns)


@pytest.mark.slow
def test_the_page_shows_settings_summary_differences_and_every_fold(compared):
    manifest = json.loads((compared / "omicsformer.json").read_text())
    assert "report.html" in manifest["files"]  # written before the folder was published
    page = (compared / "report.html").read_text()
    assert self_contained(page)
    assert titles(page) == [
        "Settings",
        "Summary",
        "Paired differences",
        "What each network added to its base",
        "Every test fold: balanced_accuracy",
        "Cost",
        "Learning curves",
        *[
            f"{model}, pooled test folds: {title}"
            for model in ("logreg", "mlp")
            for title in (
                "Metrics",
                "ROC and precision-recall curves",
                "Confusion matrix",
                "Calibration",
            )
        ],
    ]
    pngs = figures(page)  # per-fold pairing, cost, learning curves; per model ROC/PR,
    assert len(pngs) == 3 + 2 * 3 and all(png.startswith(b"\x89PNG") for png in pngs)
    settings, summary, differences, added, folds, *_ = tables(page)
    values = dict(zip(settings.setting, settings.value, strict=True))
    assert values["models"] == "logreg, mlp" and values["split seeds"] == "0, 1"
    assert values["repeats"] == "2" and values["folds"] == "2"
    assert list(summary.model) == ["logreg", "mlp"]
    assert "Δ balanced_accuracy vs logreg" in summary.columns
    assert list(differences.model) == ["logreg", "mlp"]
    assert differences.iloc[0]["Δ balanced_accuracy (mean)"] == "reference"
    assert "How to read it" in page and "Nadeau &amp; Bengio 2003" in page
    # each network against its own base: the mlp starts as a fitted logreg
    assert list(added.model) == ["mlp"] and list(added.base) == ["logreg (fitted)"]
    # the per-fold table: one row per repeat x fold, a column per model and the difference
    assert list(folds.columns) == ["repeat", "fold", "logreg", "mlp", "Δ mlp"]
    pairs = sorted(zip(folds.repeat, folds.fold, strict=True))
    assert pairs == [("1", "1"), ("1", "2"), ("2", "1"), ("2", "2")]
    results = pd.read_csv(compared / "results.csv")
    wide = per_fold_table(results, "balanced_accuracy", "logreg")
    assert wide["Δ mlp"].tolist() == pytest.approx((wide["mlp"] - wide["logreg"]).tolist())
    assert folds["Δ mlp"].tolist() == [f"{v:.3f}" for v in wide["Δ mlp"]]


@pytest.mark.slow
def test_the_pooled_metrics_are_those_of_the_first_repetitions_predictions(compared):
    """Each model's pooled section scores its out-of-fold predictions of repeat 0 (every
    patient once) as one test set, with a bootstrap interval around that estimate."""
    from sklearn.metrics import balanced_accuracy_score

    page = (compared / "report.html").read_text()
    (pooled,) = tables(section(page, "mlp, pooled test folds: Metrics"))
    row = pooled.set_index(pooled.columns[0]).loc["balanced_accuracy"]
    predictions = pd.read_csv(compared / "predictions.csv")
    first = predictions[(predictions.model == "mlp") & (predictions.repeat == 0)]
    expected = balanced_accuracy_score(first["true"], first["predicted"])
    assert float(row.iloc[0]) == pytest.approx(expected, abs=5e-4)


@pytest.mark.slow
def test_a_survival_comparison_pools_kaplan_meier_by_within_fold_risk(cli, tmp_path):
    out = tmp_path / "surv"
    data = "synthetic:n_samples=60,n_genes=20,n_modules=1,module_size=5"
    args = ["compare", "--data", data, "--task", "survival", "--models", "coxph,mlp"]
    assert cli(*args, "--folds", "2", "--max-epochs", "2", "--out", str(out)).code == 0
    page = (out / "report.html").read_text()
    title = "coxph, pooled test folds: Kaplan-Meier curves by predicted risk"
    (at_risk,) = tables(section(page, title))  # numbers at risk: one row per risk group
    assert len(at_risk) == 2 and at_risk.iloc[:, 1].astype(int).sum() == 60


@pytest.mark.slow
def test_report_rewrites_the_page_and_no_report_skips_it(cli, compared, tmp_path):
    again = tmp_path / "again.html"
    result = cli("report", compared, "--out", again)
    assert result.code == 0, result.err
    assert "Every test fold" in again.read_text()
    out = tmp_path / "plain"
    args = ["compare", "--data", DATA, "--models", "logreg", "--folds", "2"]
    result = cli(*args, "-o", "inner_folds=2", "--no-report", "--out", out)
    assert result.code == 0, result.err
    assert not (out / "report.html").exists() and (out / "predictions.csv").is_file()


@pytest.mark.slow
def test_a_failing_page_costs_a_warning_not_the_results(cli, tmp_path, monkeypatch):
    import omicsformer.report.pages.compare as page

    def broken(folder, kind):
        raise ValueError("no figure today")

    monkeypatch.setattr(page, "sections", broken)
    out = tmp_path / "cmp"
    args = ["compare", "--data", DATA, "--models", "logreg", "--folds", "2"]
    result = cli(*args, "-o", "inner_folds=2", "--out", out)
    assert result.code == 0, result.err
    warnings = [line for line in result.err.splitlines() if "report.html not written" in line]
    assert len(warnings) == 1 and "no figure today" in warnings[0]
    assert (out / "results.csv").is_file() and not (out / "report.html").exists()
    manifest = json.loads((out / "omicsformer.json").read_text())
    assert manifest["state"] == "complete" and "results.csv" in manifest["files"]


def test_predictions_keep_the_columns_every_fold_has():
    from omicsformer.compare import FoldOutputs

    def fold(horizon):
        return pd.DataFrame(
            {"model": ["m"], "sample_id": ["a"], "risk": [0.1], f"survival_at_{horizon}": [0.9]}
        )

    kept = FoldOutputs(predictions=[fold(1), fold(2)])
    # survival probabilities at each fold's own horizons would add columns per fold
    assert list(kept.predictions_frame().columns) == ["model", "sample_id", "risk"]
    kept = FoldOutputs(predictions=[fold(1), fold(1)])
    assert "survival_at_1" in kept.predictions_frame()
