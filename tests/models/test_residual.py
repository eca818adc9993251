"""Every neural model starts as its base: the untrained network predicts exactly what the task's
linear baseline predicts (base=fitted), keeps its base when training does not beat it on the
validation part, saves it with its weights, and reads files written before bases existed."""

import json

import numpy as np
import pytest
import torch

from omicsformer.config import TaskConfig, TrainConfig
from omicsformer.models import MODELS, FitData, ModelContext, Runtime, build_model
from omicsformer.models.base import load_model, save_model
from omicsformer.models.residual import fit_base
from omicsformer.tasks import TASKS, TargetInfo

NEURAL = {
    "mlp": {"hidden": [16]},
    "attomics": {"n_groups": 2, "token_sizes": [8], "head_hidden": [8]},
    "hybrid": {"n_groups": 2, "dim": 8, "heads": 2, "gene_layers": 1, "group_layers": 1},
    "gene-transformer": {"dim": 8, "heads": 2, "layers": 1},
}
N, G = 48, 12


def cohort(task: str, seed: int = 0):
    """Features (N, G) and targets of ``task`` with a linear signal in the first genes."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N, G)).astype(np.float32)
    signal = x[:, 0] - x[:, 1] + 0.5 * x[:, 2]
    if task == "binary":
        return x, (signal > 0).astype(int), TargetInfo("classification", ["y"], ["a", "b"])
    if task == "classification":
        y = np.digitize(signal, np.quantile(signal, [1 / 3, 2 / 3]))
        return x, y, TargetInfo("classification", ["y"], ["a", "b", "c"])
    if task == "regression":
        return x, 10 + 3 * signal + rng.normal(size=N), TargetInfo("regression", ["y"])
    time = rng.exponential(np.exp(-signal))
    event = (rng.random(N) < 0.8).astype(float)
    return x, np.column_stack([time, event]), TargetInfo("survival", ["time", "event"])


def untrained(name: str, task: str):
    """A model of ``name`` built and given its fitted base, not trained; and its data."""
    x, y, info = cohort(task)
    context = ModelContext(genes=[f"g{i}" for i in range(G)], target=info, seed=0)
    model = build_model(MODELS.get(name), {**NEURAL[name], "base": "fitted"}, context)
    state = TASKS.get(info.task).fit_state(y, TaskConfig())
    model.arch = model.architecture(model.options, context, x)
    model.module = model.network(model.options, context, model.arch)
    model.task_state = state
    model.eval_batch_size = 16
    weight, bias, _ = fit_base(context, FitData(x, y, task_state=state))
    model.module.base.set_fitted(weight, bias)
    return model, x, y, context, state


@pytest.mark.slow
@pytest.mark.parametrize("task", ["binary", "classification", "regression", "survival"])
@pytest.mark.parametrize("name", list(NEURAL))
def test_the_untrained_network_predicts_exactly_its_fitted_baseline(name, task):
    model, x, y, context, state = untrained(name, task)
    baseline_name = TASKS.get(context.target.task).linear_baseline
    baseline = build_model(MODELS.get(baseline_name), {}, context)
    baseline.fit(FitData(x, y, task_state=state), Runtime())
    expected = baseline.predict(x)
    if task == "regression":  # the network's output is the target on its own scale too
        expected = np.asarray(expected)
    np.testing.assert_allclose(model.predict(x), expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(model.base_predict(x), expected, rtol=1e-4, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(NEURAL))
def test_a_network_that_never_beats_its_base_keeps_it(name):
    """Epoch 0 (the untrained network, i.e. the base) is a candidate: with a learning rate too
    small to move anything no epoch beats it, and the kept weights are the starting ones."""
    x, y, info = cohort("classification")
    context = ModelContext(genes=[f"g{i}" for i in range(G)], target=info, seed=0)
    model = build_model(MODELS.get(name), {**NEURAL[name], "base": "fitted"}, context)
    train = TrainConfig(max_epochs=2, min_epochs=0, patience=1, lr=1e-12, batch_size=16)
    fitted = model.fit(
        FitData(x[:36], y[:36], x[36:], y[36:]), Runtime(train=train, progress=False)
    )
    assert model.history[0]["epoch"] == 0 and model.history[0]["lr"] == 0.0
    assert fitted["best_epoch"] == 0
    assert fitted["base"]["kind"] == "fitted" and fitted["base"]["model"] == "logreg"
    np.testing.assert_allclose(model.predict(x), model.base_predict(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("ties", ["loss", "earlier"])
def test_epochs_that_tie_with_the_base_keep_the_lower_loss_or_the_base(ties):
    """On a cohort whose validation part the base already classifies perfectly, no epoch can
    beat epoch 0 on balanced accuracy: ``epoch_ties=earlier`` keeps the base, ``loss`` the
    tying epoch with the lowest validation loss."""
    x, _, info = cohort("binary")
    y = np.arange(N) % 2
    x[:, 0] = np.where(y == 1, 1.0, -1.0) * (2 + np.abs(x[:, 0]))  # a wide gap between classes
    context = ModelContext(genes=[f"g{i}" for i in range(G)], target=info, seed=0)
    model = build_model(MODELS.get("mlp"), {**NEURAL["mlp"], "base": "fitted"}, context)
    train = TrainConfig(
        max_epochs=6, min_epochs=6, lr=1e-2, batch_size=16, monitor="auto", epoch_ties=ties
    )
    fitted = model.fit(
        FitData(x[:36], y[:36], x[36:], y[36:]), Runtime(train=train, progress=False)
    )
    history = model.history
    assert history[0]["val_balanced_accuracy"] == 1.0  # the base is perfect on validation
    best = max(row["val_balanced_accuracy"] for row in history)
    tying = [row for row in history if row["val_balanced_accuracy"] == best]
    if ties == "earlier":
        assert fitted["best_epoch"] == 0
        np.testing.assert_allclose(model.predict(x), model.base_predict(x), rtol=1e-5, atol=1e-6)
    else:
        lowest = min(tying, key=lambda row: row["val_loss"])
        assert fitted["best_epoch"] == lowest["epoch"] > 0  # training sharpened the base


@pytest.mark.parametrize("name", list(NEURAL))
def test_a_linear_base_trains_with_the_network(name):
    x, y, info = cohort("classification")
    context = ModelContext(genes=[f"g{i}" for i in range(G)], target=info, seed=0)
    model = build_model(MODELS.get(name), {**NEURAL[name], "base": "linear"}, context)
    train = TrainConfig(max_epochs=3, batch_size=16, lr=1e-2)
    fitted = model.fit(FitData(x, y), Runtime(train=train, progress=False))
    assert fitted["base"] == {"kind": "linear"}
    assert model.module.base.linear.weight.abs().sum() > 0  # started at zero, trained


def test_no_base_is_the_network_alone():
    x, y, info = cohort("classification")
    context = ModelContext(genes=[f"g{i}" for i in range(G)], target=info, seed=0)
    model = build_model(MODELS.get("mlp"), {**NEURAL["mlp"], "base": "none"}, context)
    fitted = model.fit(FitData(x, y), Runtime(train=TrainConfig(max_epochs=1), progress=False))
    assert "base" not in fitted and model.base_predict(x) is None
    assert model.module.base is None


def test_a_fitted_base_is_saved_with_the_weights(tmp_path):
    model, x, _, _, _ = untrained("gene-transformer", "classification")
    spec = MODELS.get("gene-transformer")
    save_model(model, spec, model.options, tmp_path, {"architecture": model.arch})
    loaded, _, _ = load_model(tmp_path)
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-6)


@pytest.mark.parametrize("name", ["mlp", "gene-transformer"])
def test_a_model_saved_before_bases_and_gates_loads_as_it_was(tmp_path, name):
    """model.json files written before ``base`` and ``layer_scale`` existed lack the keys: the
    network is rebuilt without a base and without gates, as it was trained."""
    x, y, info = cohort("classification")
    context = ModelContext(genes=[f"g{i}" for i in range(G)], target=info, seed=0)
    old = {**NEURAL[name], "base": "none"}
    if name == "gene-transformer":
        old["layer_scale"] = None
    model = build_model(MODELS.get(name), old, context)
    fitted = model.fit(FitData(x, y), Runtime(train=TrainConfig(max_epochs=1), progress=False))
    save_model(model, MODELS.get(name), model.options, tmp_path, fitted)
    meta = json.loads((tmp_path / "model.json").read_text())
    for key in ("base", "layer_scale"):
        meta["options"].pop(key, None)
    (tmp_path / "model.json").write_text(json.dumps(meta))
    loaded, _, _ = load_model(tmp_path)
    assert loaded.options.base == "none"
    assert not any(k.startswith("base") or ".gate" in k for k in loaded.module.state_dict())
    np.testing.assert_allclose(loaded.predict(x), model.predict(x), rtol=1e-6)
    with torch.no_grad():
        assert loaded.module(torch.from_numpy(x)).shape == (N, 3)


@pytest.mark.slow
def test_a_class_missing_from_the_training_part_gets_no_probability_from_the_base():
    """The baseline never saw it (two classes fitted, three in the target): its logit is far
    below the others, and the two it knows keep the baseline's probabilities."""
    x, y, info = cohort("classification")
    keep = y != 2
    context = ModelContext(genes=[f"g{i}" for i in range(G)], target=info, seed=0)
    weight, bias, _ = fit_base(context, FitData(x[keep], y[keep]))
    assert weight.shape == (3, G)
    logits = torch.from_numpy(x) @ weight.T + bias
    probability = logits.softmax(-1).numpy()
    assert probability[:, 2].max() < 1e-9
    baseline = build_model(MODELS.get("logreg"), {}, context)
    baseline.fit(FitData(x[keep], y[keep]), Runtime())
    two = baseline.estimator.predict_proba(x)  # (N, 2): the classes it was fitted on
    np.testing.assert_allclose(probability[:, :2], two, rtol=1e-4, atol=1e-6)
