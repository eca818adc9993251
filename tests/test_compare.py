import pandas as pd
import pytest

from omicsformer.compare import split_options, summary_markdown
from omicsformer.errors import ConfigError


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


def test_options_go_to_the_named_model_or_to_every_model_that_has_them():
    assert split_options(["logreg", "mlp"], {"logreg.C": 1, "mlp.dropout": 0.2}) == {
        "logreg": {"C": 1},
        "mlp": {"dropout": 0.2},
    }
    both = split_options(["mlp", "attomics", "logreg"], {"dropout": 0.1})
    assert both == {"mlp": {"dropout": 0.1}, "attomics": {"dropout": 0.1}, "logreg": {}}
    with pytest.raises(ConfigError, match="none of logreg, rf has it"):
        split_options(["logreg", "rf"], {"dropout": 0.1})
    with pytest.raises(ConfigError, match="'svm' is not one of --models"):
        split_options(["logreg"], {"svm.C": 1})


def test_summary_marks_the_best_mean():
    results = pd.DataFrame(
        {
            "model": ["m1", "m1", "m2", "m2"],
            "fold": [0, 1, 0, 1],
            "acc": [0.5, 0.7, 0.9, 0.8],
            "fit_seconds": [1, 1, 2, 2],
            "predict_seconds": [0.1] * 4,
            "peak_memory_mb": [10] * 4,
            "n_parameters": [5] * 4,
        }
    )
    text = summary_markdown(results, ["acc"])
    assert "| m2 | **0.850 ± 0.071** |" in text
    assert "| m1 | 0.600 ± 0.141 |" in text
