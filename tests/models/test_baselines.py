import importlib.util

import numpy as np
import pytest

from omicsformer.errors import ConfigError, RunError
from omicsformer.metrics.classification import balanced_accuracy
from omicsformer.models import MODELS, FitData, ModelContext, build_model
from omicsformer.models.base import load_model, save_model
from omicsformer.tasks import TargetInfo


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    n, g = 90, 12
    y = np.repeat([0, 1, 2], [60, 20, 10])
    x = rng.normal(size=(n, g)).astype(np.float32)
    x[:, 0] += 2.0 * (y == 1)
    x[:, 1] += 2.0 * (y == 2)
    context = ModelContext(
        genes=[f"g{i}" for i in range(g)],
        target=TargetInfo("classification", ["label"], ["a", "b", "c"]),
        seed=0,
    )
    return x, y, context


FAST = {
    "logreg": {"C": [0.01, 1.0], "inner_folds": 2},
    "rf": {"n_estimators": 30, "min_samples_leaf": [1, 3], "inner_folds": 2},
    "xgboost": {"n_estimators": 20, "max_depth": [2], "inner_folds": 2},
}
AVAILABLE = [m for m in FAST if m != "xgboost" or importlib.util.find_spec("xgboost")]


@pytest.mark.parametrize("name", AVAILABLE)
def test_baseline_learns_saves_and_reloads_identically(tmp_path, problem, name):
    x, y, context = problem
    spec = MODELS.get(name)
    model = build_model(spec, FAST[name], context)
    fitted = model.fit(FitData(x, y))
    proba = model.predict(x)
    assert proba.shape == (len(y), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert balanced_accuracy(y, proba.argmax(1)) > 0.7  # chance is 1/3
    assert "chosen" in fitted
    save_model(model, spec, spec.parse_options(FAST[name]), tmp_path / "m", fitted)
    loaded, loaded_spec, meta = load_model(tmp_path / "m")
    assert loaded_spec.name == name and meta["target"]["classes"] == ["a", "b", "c"]
    np.testing.assert_array_equal(loaded.predict(x), proba)
    assert model.n_parameters() > 0


def test_class_weights_lift_the_rare_class(problem):
    x, y, context = problem
    x = x.copy()
    x[:, 1] -= 1.2 * (y == 2)  # make the rare class hard
    recalls = {}
    for weight in ("balanced", "none"):
        model = build_model(MODELS.get("logreg"), {"C": [0.01], "class_weight": weight}, context)
        model.fit(FitData(x, y))
        recalls[weight] = (model.predict(x).argmax(1)[y == 2] == 2).mean()
    assert recalls["balanced"] > recalls["none"]


def test_regularisation_is_chosen_on_inner_folds(problem):
    x, y, context = problem
    model = build_model(MODELS.get("logreg"), {"C": [1e-4, 1.0], "inner_folds": 3}, context)
    fitted = model.fit(FitData(x, y))
    assert fitted["inner_folds"] == 3
    assert fitted["chosen"]["C"] == 1.0  # C=1e-4 flattens everything to the prior


class Payload:
    """Stands for any type a tampered model file could carry."""


def test_loading_refuses_unexpected_types(tmp_path, problem):
    import skops.io as sio

    x, y, context = problem
    spec = MODELS.get("logreg")
    model = build_model(spec, FAST["logreg"], context)
    fitted = model.fit(FitData(x, y))
    save_model(model, spec, spec.parse_options(FAST["logreg"]), tmp_path / "m", fitted)
    sio.dump({"x": Payload()}, tmp_path / "m" / "estimator.skops")  # swap in another type
    with pytest.raises(RunError, match="refusing to load unexpected types: .*Payload"):
        load_model(tmp_path / "m")


def test_unknown_option_lists_valid_ones(problem):
    *_, context = problem
    with pytest.raises(ConfigError, match="unknown key.*Cs.*valid keys: C, class_weight"):
        build_model(MODELS.get("logreg"), {"Cs": 3}, context)
