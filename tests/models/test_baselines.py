import importlib.util
from typing import ClassVar

import numpy as np
import pytest
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sksurv.linear_model import CoxnetSurvivalAnalysis

from omicsformer.augment import AugmentContext, parse_specs
from omicsformer.errors import ConfigError, RunError
from omicsformer.metrics.classification import balanced_accuracy
from omicsformer.models import MODELS, FitData, ModelContext, Runtime, build_model
from omicsformer.models.base import load_model, save_model
from omicsformer.models.baselines import (
    SklearnModel,
    _passed_genes,
    coxnet_path,
    inner_cv,
    top_variance_genes,
)
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


@pytest.mark.slow
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


# ------------------------------------------------------------------ coxph: the path search
@pytest.fixture
def survival_problem():
    """120 patients x 15 genes; the hazard rises with gene 0 and falls with gene 1."""
    rng = np.random.default_rng(1)
    n, g = 120, 15
    x = rng.normal(size=(n, g)).astype(np.float32)
    event_time = rng.exponential(np.exp(-(x[:, 0] - 0.8 * x[:, 1])))
    censor_time = rng.exponential(2.0, size=n)
    y = np.c_[np.minimum(event_time, censor_time), (event_time <= censor_time).astype(float)]
    context = ModelContext(
        genes=[f"g{i}" for i in range(g)],
        target=TargetInfo("survival", ["time", "event"], []),
        seed=0,
    )
    return x, y, context


def fit_coxph(x, y, context, **options):
    model = build_model(MODELS.get("coxph"), {"n_alphas": 8, **options}, context)
    return model, model.fit(FitData(x, y))


def test_coxph_path_search_chooses_what_a_fit_per_alpha_would(survival_problem):
    from sksurv.linear_model import CoxnetSurvivalAnalysis

    from omicsformer.metrics.survival import harrell_c

    x, y, context = survival_problem
    model, fitted = fit_coxph(x, y, context, l1_ratio=0.5, inner_folds=3)
    target = model.task.sklearn_target(y)
    grid = model.alpha_grid(x, target)
    splits = list(inner_cv(model.task, y, 3, context.seed).split(x, y[:, 1]))
    brute = np.zeros(len(grid))  # mean inner C of each alpha, each fitted on its own
    for train, val in splits:
        for j, alpha in enumerate(grid):
            one = CoxnetSurvivalAnalysis(alphas=[alpha], l1_ratio=0.5).fit(x[train], target[train])
            brute[j] += harrell_c(y[val, 0], y[val, 1] > 0, one.predict(x[val])) / len(splits)
    best = int(np.flatnonzero(brute == brute.max())[0])  # ties: the larger alpha
    assert fitted["inner_folds"] == 3 and fitted["alphas_skipped"] == 0
    np.testing.assert_allclose(fitted["inner_cv_scores"], brute, atol=1e-4)
    assert fitted["chosen"]["alpha"] == pytest.approx(grid[best])
    assert fitted["inner_cv_score"] == pytest.approx(brute[best], abs=1e-4)
    assert fitted["inner_cv_score"] > 0.65  # the signal is found


def test_coxph_fits_again_from_scratch(survival_problem):
    x, y, context = survival_problem
    model, first = fit_coxph(x, y, context, top_genes=6)
    risk = model.predict(x)
    second = model.fit(FitData(x, y))
    assert second == first
    np.testing.assert_array_equal(model.predict(x), risk)


@pytest.mark.parametrize("top_genes", [0, 5])
def test_coxph_saved_model_predicts_with_the_chosen_alpha(tmp_path, survival_problem, top_genes):
    x, y, context = survival_problem
    spec = MODELS.get("coxph")
    options = {"n_alphas": 8, "top_genes": top_genes}
    model, fitted = fit_coxph(x, y, context, top_genes=top_genes)
    risk = model.predict(x)
    path = model.estimator.steps[-1][1] if top_genes else model.estimator
    genes = np.arange(x.shape[1]) if not top_genes else _passed_genes(model.estimator[0])
    at_chosen = path.predict(x[:, genes].astype(np.float64), alpha=fitted["chosen"]["alpha"])
    np.testing.assert_allclose(risk, at_chosen, rtol=1e-12)
    assert path.alphas_[-1] == pytest.approx(fitted["chosen"]["alpha"])  # predict's default
    save_model(model, spec, spec.parse_options(options), tmp_path / "m", fitted)
    loaded, _, meta = load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(x), risk)
    for saved, kept in zip(loaded.linear_map(), model.linear_map(), strict=True):
        np.testing.assert_array_equal(saved, kept)
    assert meta["fitted"]["genes_used"] == (top_genes or x.shape[1])
    assert loaded.n_parameters() == model.n_parameters() == (top_genes or x.shape[1])


def test_coxph_top_genes_are_the_most_variable_training_genes_before_z_scoring(
    survival_problem,
):
    from omicsformer.data.preprocess import Preprocessor

    x, y, context = survival_problem
    raw = x * 1.3 ** np.arange(x.shape[1], dtype=np.float32)  # gene j's spread grows with j
    raw[:, 3] *= 100.0  # the most variable gene
    train = np.arange(90)
    raw[90:, 4] *= 100.0  # the most variable gene over every row, but not over training rows
    preprocessor = Preprocessor.fit(raw[train], context.genes)  # z-scores: variance 1 each
    context.preprocessor = preprocessor
    inputs = preprocessor.apply(raw, context.genes)
    model, fitted = fit_coxph(inputs[train], y[train], context, top_genes=4)
    kept = _passed_genes(model.estimator[0])
    np.testing.assert_array_equal(kept, [3, 12, 13, 14])
    np.testing.assert_array_equal(kept, top_variance_genes(inputs[train], 4, preprocessor))
    assert fitted["genes_used"] == 4
    weight, _ = model.linear_map()
    assert not weight[:, np.setdiff1d(np.arange(x.shape[1]), kept)].any()


class FailsBelow(CoxnetSurvivalAnalysis):
    """Coxnet whose solver gives up (as on overflowing weights) on a path below ``floor``."""

    floor = 0.0

    def fit(self, X, y):
        if self.alphas is not None and min(self.alphas) < FailsBelow.floor:
            raise ArithmeticError("Numerical error, because weights are too large.")
        return super().fit(X, y)


def test_coxph_skips_the_alphas_the_solver_fails_at(survival_problem):
    x, y, context = survival_problem
    model = build_model(MODELS.get("coxph"), {"n_alphas": 8, "l1_ratio": 0.5}, context)
    grid = model.alpha_grid(x, model.task.sklearn_target(y))
    FailsBelow.floor = grid[4]  # alphas 5..7 fail, in every fold and in the refit
    model.coxnet = FailsBelow(l1_ratio=0.5)
    fitted = model.fit(FitData(x, y))
    assert fitted["alphas_skipped"] == 3
    assert fitted["chosen"]["alpha"] >= grid[4]
    path, n = coxnet_path(FailsBelow(l1_ratio=0.5), x, model.task.sklearn_target(y), grid)
    assert n == 5 and len(path.alphas_) == 5


def test_coxph_total_failure_is_an_error_not_a_silent_model(survival_problem):
    x, y, context = survival_problem
    model = build_model(MODELS.get("coxph"), {"n_alphas": 8, "max_iter": 1}, context)
    with pytest.raises(ConfigError, match=r"^coxph: the Coxnet solver failed at every penalty"):
        model.fit(FitData(x, y))


def test_coxph_without_inner_folds_takes_the_smallest_penalty(survival_problem):
    x, y, context = survival_problem
    _, fitted = fit_coxph(x, y, context, inner_folds=1)
    assert fitted["inner_folds"] == 0
    assert fitted["chosen"]["alpha"] == pytest.approx(fitted["alpha_grid"]["smallest"])


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"l1_ratio": 0}, "l1_ratio"),
        ({"l1_ratio": 0.0001}, "l1_ratio"),
        ({"top_genes": -1}, "top_genes"),
        ({"n_alphas": 0}, "n_alphas"),
        ({"alpha_min_ratio": 1}, "alpha_min_ratio"),
    ],
)
def test_coxph_bad_options_are_one_line_errors(survival_problem, options, message):
    *_, context = survival_problem
    with pytest.raises(ConfigError, match=message) as error:
        build_model(MODELS.get("coxph"), options, context)
    assert "\n" not in str(error.value)


# ------------------------------------------------------------------ linear maps
def raw_output(estimator, x):
    """What the linear map stands for: a classifier's decision function, else predict."""
    if hasattr(estimator, "decision_function"):
        return np.asarray(estimator.decision_function(x))
    return np.asarray(estimator.predict(x))


@pytest.mark.parametrize(
    ("name", "classes", "options"),
    [
        ("logreg", 2, {"C": [1.0]}),
        ("logreg", 3, {"C": [0.1, 1.0], "inner_folds": 2}),
        ("ridge", 0, {"alpha": [1.0]}),
        ("coxph", 0, {"n_alphas": 8}),
        ("coxph", 0, {"n_alphas": 8, "top_genes": 6, "l1_ratio": 0.01}),
    ],
)
def test_linear_map_reproduces_the_estimator(survival_problem, name, classes, options):
    x, y, context = survival_problem
    x = x * np.linspace(0.5, 2.0, x.shape[1], dtype=np.float32) + 1.0  # scaling matters
    if name == "logreg":
        y = np.digitize(x[:, 0], np.quantile(x[:, 0], np.linspace(0, 1, classes + 1)[1:-1]))
        names = [str(c) for c in range(classes)]
        context.target = TargetInfo("classification", ["label"], names)
    elif name == "ridge":
        y = (x[:, 0] - x[:, 1] + 0.1 * np.arange(len(x)) % 3).astype(np.float64)
        context.target = TargetInfo("regression", ["value"], [])
    model = build_model(MODELS.get(name), options, context)
    model.fit(FitData(x, y))
    weight, bias = model.linear_map()
    outputs = {"logreg": 1 if classes == 2 else classes}.get(name, 1)
    assert weight.shape == (outputs, x.shape[1]) and bias.shape == (outputs,)
    new = np.random.default_rng(5).normal(2.0, 3.0, size=(40, x.shape[1]))  # (N, G) float64
    expected = raw_output(model.estimator, new).reshape(len(new), -1)
    np.testing.assert_allclose(new @ weight.T + bias, expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("name", ["rf", "rsf"])
def test_linear_map_refuses_a_model_that_is_not_linear(survival_problem, problem, name):
    x, y, context = survival_problem if name == "rsf" else problem
    options = {"n_estimators": 5, "min_samples_leaf": [5], "n_jobs": 1}
    model = build_model(MODELS.get(name), options, context)
    model.fit(FitData(x, y))
    with pytest.raises(ConfigError, match="is not a linear model: .*logreg, ridge and coxph"):
        model.linear_map()
