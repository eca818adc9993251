import importlib.util
from typing import ClassVar

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

from omicsformer.augment import AugmentContext, parse_specs
from omicsformer.errors import ConfigError, RunError
from omicsformer.metrics.classification import balanced_accuracy
from omicsformer.models import MODELS, FitData, ModelContext, Runtime, build_model
from omicsformer.models.base import load_model, save_model
from omicsformer.models.baselines import SklearnModel, inner_cv
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


# ------------------------------------------------------------------ SMOTE (imbalanced-learn)
def smote(text: str, seed: int = 0):
    """``--augment TEXT`` readied for an estimator, as a run hands it to a baseline."""
    (spec,) = parse_specs([text])
    context = AugmentContext("classification", 3, seed=seed, classes=("a", "b", "c"))
    return spec.build().prepare(context)


class Recorder(ClassifierMixin, BaseEstimator):
    """A logistic regression that logs the rows of every fit and prediction (of every clone)."""

    log: ClassVar[list[tuple[str, np.ndarray, np.ndarray | None]]] = []

    def __init__(self, C: float = 1.0) -> None:
        self.C = C

    def fit(self, x, y):
        Recorder.log.append(("fit", np.array(x), np.array(y)))
        self.model_ = LogisticRegression(C=self.C, max_iter=2000).fit(x, y)
        self.classes_ = self.model_.classes_
        return self

    def predict(self, x):
        Recorder.log.append(("predict", np.array(x), None))
        return self.model_.predict(x)

    def predict_proba(self, x):
        return self.model_.predict_proba(x)


def rows(x: np.ndarray) -> set[bytes]:
    return {r.tobytes() for r in np.ascontiguousarray(x)}


def test_smote_oversamples_the_rows_of_each_fit_only(problem):
    x, y, context = problem
    Recorder.log.clear()
    model = SklearnModel(Recorder(), {"C": [0.1, 1.0]}, context, inner_folds=3)
    fitted = model.fit(FitData(x, y), Runtime(resample=smote("smote:k=3")))
    splits = list(inner_cv(model.task, y, 3, context.seed).split(x, y))
    fits = [(fx, fy) for kind, fx, fy in Recorder.log if kind == "fit"]
    scored = [px for kind, px, _ in Recorder.log if kind == "predict"]
    assert len(fits) == 2 * 3 + 1 and len(scored) == 2 * 3  # grid x inner folds, + the refit
    for j, ((fx, fy), px) in enumerate(zip(fits[:-1], scored, strict=True)):
        train, val = splits[j % 3]  # candidates outside, folds inside
        # the inner training fold, first as it is, then synthetic rows up to the largest class
        np.testing.assert_array_equal(fx[: len(train)], x[train])
        counts = np.bincount(y[train])
        assert np.array_equal(np.bincount(fy), np.full(3, counts.max()))
        assert len(fx) > len(train)
        assert not rows(fx) & rows(x[val])  # no validation row, not even interpolated from one
        np.testing.assert_array_equal(px, x[val])  # the validation fold is scored as it is
    refit_x, refit_y = fits[-1]
    np.testing.assert_array_equal(refit_x[: len(x)], x)
    assert np.array_equal(np.bincount(refit_y), [60, 60, 60])
    assert fitted["resampled"] == {"by": "smote", "added": {"b": 40, "c": 50}}
    assert isinstance(model.estimator, Recorder)  # the sampler is not kept for prediction


def test_smote_without_a_search_resamples_the_training_part(problem):
    x, y, context = problem
    Recorder.log.clear()
    model = SklearnModel(Recorder(), {"C": [1.0]}, context, inner_folds=3)
    fitted = model.fit(FitData(x, y), Runtime(resample=smote("smote:k=3")))
    ((kind, fx, _),) = Recorder.log
    assert kind == "fit" and len(fx) == 180 and fitted["inner_folds"] == 0
    assert fitted["resampled"]["added"] == {"b": 40, "c": 50}


@pytest.mark.parametrize("name", ["logreg", "rf"])
def test_baseline_with_smote_saves_and_reloads_identically(tmp_path, problem, name):
    x, y, context = problem
    spec = MODELS.get(name)
    # one job: a forest's threads add up tree probabilities in any order (last-bit changes)
    options = {**FAST[name], "n_jobs": 1} if name == "rf" else FAST[name]
    model = build_model(spec, options, context)
    fitted = model.fit(FitData(x, y), Runtime(resample=smote("smote:k=3")))
    proba = model.predict(x)
    assert balanced_accuracy(y, proba.argmax(1)) > 0.7
    save_model(model, spec, spec.parse_options(options), tmp_path / "m", fitted)
    loaded, _, meta = load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(x), proba)
    assert meta["fitted"]["resampled"]["by"] == "smote"
    assert "imblearn" not in type(loaded.estimator).__module__


def test_smote_is_seeded_by_the_run(problem):
    x, y, context = problem
    outputs = []
    for seed in (0, 0, 1):
        model = build_model(MODELS.get("logreg"), {"C": [1.0]}, context)
        model.fit(FitData(x, y), Runtime(resample=smote("smote:k=3", seed)))
        outputs.append(model.predict(x))
    np.testing.assert_array_equal(outputs[0], outputs[1])
    assert not np.array_equal(outputs[0], outputs[2])


def test_a_class_too_small_for_k_is_refused_with_the_k_that_fits(problem):
    x, _, context = problem
    y = np.repeat([0, 1, 2], [60, 26, 4])
    for folds, message in (
        (3, r"class 'c' has 2 patient\(s\) in the training rows of inner fold \d.*try smote:k=1"),
        (1, r"class 'c' has 4 patient\(s\) in the training part.*k \+ 1 = 6.*try smote:k=3"),
    ):
        model = build_model(MODELS.get("logreg"), {"inner_folds": folds}, context)
        with pytest.raises(ConfigError, match=message):
            model.fit(FitData(x, y), Runtime(resample=smote("smote:k=5")))
