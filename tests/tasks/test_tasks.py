"""Survival and regression tasks end to end: every model with every task, plots, bad input."""

import importlib.util
import json

import numpy as np
import pandas as pd
import pytest

from omicsformer.data.datasets import load_builtin
from omicsformer.errors import DataError
from omicsformer.tasks.survival import MIN_EVENTS, SurvivalTask, comparable_pairs, parse_events

SYNTH = "synthetic:n_samples=90,n_genes=30,n_modules=1,module_size=5"
ONE_STEP = ["--max-epochs", "1"]
FAST = {
    "logreg": ["-o", "C=0.1", "-o", "inner_folds=2"],
    "rf": ["-o", "n_estimators=10", "-o", "min_samples_leaf=3", "-o", "inner_folds=2"],
    "coxph": ["-o", "n_alphas=3", "-o", "inner_folds=2"],
    "rsf": ["-o", "n_estimators=10", "-o", "min_samples_leaf=5", "-o", "inner_folds=2"],
    "ridge": ["-o", "alpha=1,10", "-o", "inner_folds=2"],
    "xgboost": ["-o", "n_estimators=10", "-o", "max_depth=2", "-o", "inner_folds=2"],
    "mlp": ONE_STEP,
    "attomics": [*ONE_STEP, "-o", "n_groups=3"],
    "gene-transformer": [*ONE_STEP, "-o", "dim=16", "-o", "layers=1"],
    "hybrid": [*ONE_STEP, "-o", "n_groups=3", "-o", "dim=16"],
}
TASK_MODELS = {
    "classification": ["logreg", "rf", "xgboost", "mlp", "attomics", "gene-transformer", "hybrid"],
    "survival": ["coxph", "rsf", "xgboost", "mlp", "attomics", "gene-transformer", "hybrid"],
    "regression": ["ridge", "rf", "xgboost", "mlp", "attomics", "gene-transformer", "hybrid"],
}
CASES = [
    (task, model)
    for task, models in TASK_MODELS.items()
    for model in models
    if model != "xgboost" or importlib.util.find_spec("xgboost")
]


@pytest.mark.slow
@pytest.mark.parametrize(("task", "model"), CASES)
def test_every_model_trains_on_every_task(cli, tmp_path, task, model):
    out = tmp_path / "run"
    result = cli(
        "train", "--data", SYNTH, "--task", task, "--model", model, *FAST[model], "--out", out
    )
    assert result.code == 0, result.err
    metrics = json.loads((out / "metrics.json").read_text())["test"]
    predictions = pd.read_csv(out / "predictions.csv")
    if task == "survival":
        assert 0 <= metrics["c_index"] <= 1 and "integrated_brier_score" in metrics
        assert {"time", "event", "risk"} <= set(predictions.columns)
        survival = predictions.filter(like="survival_at_")
        assert survival.shape[1] == 3 and survival.to_numpy().min() >= 0
        assert (out / "km_test.png").stat().st_size > 0
    elif task == "regression":
        assert {"rmse", "mae", "r2", "pearson", "spearman"} <= set(metrics)
        assert {"true", "predicted"} <= set(predictions.columns)
        assert (out / "predicted_vs_observed.png").stat().st_size > 0
    else:
        assert "balanced_accuracy" in metrics
    run = json.loads((out / "run.json").read_text())
    assert run["target"]["task"] == task
    # the saved run predicts again, with the survival calibration restored
    again = cli("predict", out, "--data", SYNTH, "--out", tmp_path / "p.csv")
    assert again.code == 0, again.err
    fresh = pd.read_csv(tmp_path / "p.csv").set_index("sample_id")
    saved = predictions.set_index("sample_id")
    column = {"survival": "risk", "regression": "predicted"}.get(task)
    column = column or next(c for c in predictions.columns if c.startswith("prob_"))
    np.testing.assert_allclose(fresh.loc[saved.index, column], saved[column], rtol=1e-12)


def test_breast_cancer_survival_needs_only_the_task(cli, tmp_path):
    result = cli(
        "train",
        "--data",
        "breast-gse7390",
        "--task",
        "survival",
        "--model",
        "coxph",
        *FAST["coxph"],
        "--out",
        tmp_path / "r",
    )
    assert result.code == 0, result.err
    run = json.loads((tmp_path / "r" / "run.json").read_text())
    assert run["target"]["columns"] == ["t.tdm", "e.tdm"]


def test_breast_cancer_dataset():
    adata = load_builtin("breast-gse7390")
    assert adata.shape == (198, 76)
    assert int(adata.obs["e.tdm"].sum()) == 51
    assert adata.var_names[0] == "200726_at"
    assert {"age", "size", "grade", "er"} <= set(adata.obs.columns)


def test_synthetic_survival_and_response_follow_the_planted_pairs():
    from omicsformer.data.datasets.synthetic import make_synthetic
    from omicsformer.metrics.survival import harrell_c

    data = make_synthetic(n_samples=500, n_genes=100, seed=2)
    obs = data.adata.obs
    x = np.asarray(data.adata.X)
    x = (x - x.mean(0)) / x.std(0)
    col = {g: i for i, g in enumerate(data.adata.var_names)}
    risk = sum(p.sign * x[:, col[p.a]] * x[:, col[p.b]] for p in data.pairs)
    assert 0.25 < 1 - obs["event"].mean() < 0.35  # about 30 % censored
    assert harrell_c(obs["time"].to_numpy(), obs["event"].to_numpy() > 0, risk) > 0.65
    assert np.corrcoef(risk, obs["response"])[0, 1] > 0.5
    singles = max(abs(np.corrcoef(x[:, col[p.a]], obs["response"])[0, 1]) for p in data.pairs)
    assert singles < 0.2


def test_event_parsing():
    assert parse_events(pd.Series(["1", "0", "true", "False"]), "e").tolist() == [
        True,
        False,
        True,
        False,
    ]
    with pytest.raises(DataError, match="must hold 0/1 or true/false; found 2 other value"):
        parse_events(pd.Series([1, 2, None]), "e")


def write_survival(tmp_path, tiny, time, event):
    labels = pd.DataFrame({"sample": tiny.frame.index, "t": time, "e": event})
    path = tmp_path / "surv.csv"
    labels.to_csv(path, index=False)
    return path


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t, e: (t.where(t.index != 3, -5.0), e), "negative"),
        (lambda t, e: (t.where(t.index != 4, np.nan), e), "missing or non-numeric"),
        (lambda t, e: (t, e.where(e.index != 2, 7)), "must hold 0/1"),
        (lambda t, e: (t, e * 0), "no events"),
        (lambda t, e: (t, pd.Series((e.index < 2).astype(int))), "class too small"),
        # 10 events: 2 in the test part (issue 24: a run published with test C-index 0.0)
        (lambda t, e: (t, pd.Series((e.index < 10).astype(int))), "too few events"),
    ],
)
def test_bad_survival_input_exit_2(cli, tiny_files, tiny, tmp_path, change, message):
    rng = np.random.default_rng(0)
    time = pd.Series(rng.exponential(10, size=60))
    event = pd.Series((rng.random(60) < 0.6).astype(int))
    time, event = change(time, event)
    path = write_survival(tmp_path, tiny, time.to_numpy(), event.to_numpy())
    result = cli(
        "train",
        "--data",
        tiny_files["csv"],
        "--labels",
        path,
        "--time",
        "t",
        "--event",
        "e",
        "--model",
        "coxph",
        "--out",
        tmp_path / "run",
    )
    assert result.code == 2, result.err
    assert message in result.err and "Traceback" not in result.err
    assert not (tmp_path / "run").exists()


def test_survival_state_has_horizons_and_baseline():
    task = SurvivalTask()
    y = np.column_stack([np.arange(1.0, 21.0), np.tile([1, 0], 10)])
    state = task.fit_state(y, None)
    assert len(state["horizons"]) == 3 and state["horizons"] == sorted(state["horizons"])
    state = task.calibrate(state, y, -y[:, 0] / 10)
    curves = task.survival(np.array([0.0, 1.0]), state, state["horizons"])
    assert curves.shape == (2, 3) and np.all(np.diff(curves, axis=1) <= 0)


def test_survival_split_needs_events_and_a_comparable_pair_in_every_part():
    task = SurvivalTask()
    assert comparable_pairs(np.array([1.0, 2.0, 3.0]), np.array([1, 0, 1])) == 2
    assert comparable_pairs(np.array([5.0, 1.0, 2.0]), np.array([1, 0, 0])) == 0  # the last
    y = np.column_stack([np.arange(1.0, 31.0), np.tile([1, 1, 0], 10)])  # 20 events
    fine = {"train": np.arange(0, 18), "val": np.arange(18, 24), "test": np.arange(24, 30)}
    task.check_parts(y, fine)
    task.check_parts(y, {**fine, "val": fine["val"][:0]})  # an empty part is not scored
    late = y.copy()
    late[24:, 0] = 100.0  # the test part's events all at the same, last, time: no pair
    with pytest.raises(DataError, match="test part 4 events in 6 patients and no comparable"):
        task.check_parts(late, fine)
    short = {"train": np.arange(0, 26), "val": np.arange(26, 28), "test": np.arange(28, 30)}
    with pytest.raises(DataError) as caught:
        task.check_parts(y, short, where=" (fold 2/5)", remedy="use fewer --folds")
    message = str(caught.value)
    assert message.startswith("too few events to score survival (fold 2/5): val part 1 event")
    assert f"needs at least {MIN_EVENTS} events" in message and "test part 1 event" in message
    assert message.endswith("(20 events in 30 patients: use fewer --folds)")
    assert "\n" not in message


def test_compare_refuses_a_fold_with_too_few_events(cli, tiny_files, tiny, tmp_path):
    """Each cross-validation fold is checked before any model is fitted."""
    event = (np.arange(60) % 3 == 0).astype(int)  # 20 events: 4 per test fold, 2 in a val part
    path = write_survival(tmp_path, tiny, np.arange(1.0, 61.0), event)
    result = cli(
        "compare", "--data", tiny_files["csv"], "--labels", path, "--time", "t", "--event", "e",
        "--models", "coxph", "--folds", "5", "--out", tmp_path / "cmp",
    )  # fmt: skip
    assert result.code == 2 and len(result.err.strip().splitlines()) == 2, result.err
    assert "too few events to score survival (fold 1/5): val part 2 events" in result.err
    assert "use fewer --folds or a larger --val-fraction" in result.err
    assert "Traceback" not in result.err and not (tmp_path / "cmp").exists()
