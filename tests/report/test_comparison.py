import pandas as pd

from omicsformer.metrics.comparison import paired_differences
from omicsformer.report.comparison import summary_markdown


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


def test_summary_shows_each_model_s_paired_difference_to_the_reference():
    results = pd.DataFrame(
        {
            "model": ["ref"] * 4 + ["new"] * 4,
            "repeat": [0, 0, 1, 1] * 2,
            "fold": [0, 1] * 4,
            "n_train": 30,
            "n_test": 10,
            "acc": [0.5, 0.6, 0.7, 0.8, 0.6, 0.6, 0.9, 0.9],
            "fit_seconds": 1.0,
            "predict_seconds": 0.1,
            "peak_memory_mb": 10.0,
            "n_parameters": 5,
        }
    )
    table = paired_differences(results, "acc", "ref").set_index("model")
    text = summary_markdown(results, ["acc"], differences=table.reset_index())
    assert "| Δ acc vs ref | p |" in text and "higher is better" in text
    assert "| new | **0.750 ± 0.173** | 0.100 ± 0.082 | 0.207 |" in text
    lower = summary_markdown(
        results, ["acc"], lower_is_better=frozenset({"acc"}), differences=table.reset_index()
    )
    assert "lower is better" in lower
