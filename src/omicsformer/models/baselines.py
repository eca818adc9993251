"""Classical baselines: logistic regression, random forest and XGBoost (optional extra).

Fair baselines for small, imbalanced medical cohorts:

- every classifier weights classes inversely to their frequency (``class_weight="balanced"``, or
  balanced sample weights for XGBoost) unless ``class_weight=none`` is asked for;
- the regularisation strength is chosen by inner stratified cross-validation on the training
  split only (scored by balanced accuracy); the choice is recorded in ``model.json``.

Models are saved with skops (scikit-learn) or XGBoost's JSON format: loading never unpickles.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.class_weight import compute_sample_weight

from omicsformer.console import note
from omicsformer.errors import MissingDependencyError, RunError
from omicsformer.fileio import write_with
from omicsformer.models import MODELS
from omicsformer.models.base import FitData, ModelContext, ModelSpec, Runtime

ClassWeight = Literal["balanced", "none"]

# skops trusts scikit-learn estimators and numpy types by default; beyond those, a saved model may
# hold only these. Any other type in a file is refused on load rather than trusted blindly.
TRUSTED_TYPES = {"sklearn.tree._tree.Tree"}


def inner_cv(y: np.ndarray, folds: int, seed: int) -> StratifiedKFold | None:
    """Stratified inner folds, fewer if the smallest class is small; None if CV is impossible."""
    smallest = int(np.bincount(y).min()) if len(y) else 0
    n = min(folds, smallest)
    if n < 2:
        note(f"smallest training class has {smallest} sample(s): no inner cross-validation")
        return None
    return StratifiedKFold(n_splits=n, shuffle=True, random_state=seed)


def _check_proba(proba: np.ndarray, context: ModelContext) -> np.ndarray:
    n_classes = len(context.target.classes)
    if proba.shape[1] != n_classes:  # a class missing from training data: refuse, never guess
        raise RunError(f"model predicts {proba.shape[1]} classes, expected {n_classes}")
    return proba.astype(np.float64)


class SklearnClassifier:
    """A scikit-learn estimator tuned by grid search on inner folds of the training split."""

    def __init__(
        self,
        estimator: BaseEstimator,
        grid: dict[str, list[Any]],
        context: ModelContext,
        inner_folds: int,
        sample_weighted: bool = False,
    ) -> None:
        self.estimator = estimator
        self.grid = grid
        self.context = context
        self.inner_folds = inner_folds
        self.sample_weighted = sample_weighted

    def fit(self, data: FitData, runtime: Runtime | None = None) -> dict[str, Any]:
        x, y = data.x_train, data.y_train
        fit_params = {}
        if self.sample_weighted:
            fit_params["sample_weight"] = compute_sample_weight("balanced", y)
        cv = inner_cv(y, self.inner_folds, self.context.seed)
        if cv is None or all(len(v) == 1 for v in self.grid.values()):
            params = {k: v[0] for k, v in self.grid.items()}
            self.estimator = clone(self.estimator).set_params(**params).fit(x, y, **fit_params)
            return {"chosen": params, "inner_folds": 0}
        search = GridSearchCV(
            self.estimator, self.grid, cv=cv, scoring="balanced_accuracy", refit=True, n_jobs=1
        )
        search.fit(x, y, **fit_params)
        self.estimator = search.best_estimator_
        return {
            "chosen": _plain(search.best_params_),
            "inner_folds": cv.get_n_splits(),
            "inner_cv_balanced_accuracy": float(search.best_score_),
        }

    def predict(self, x: np.ndarray) -> np.ndarray:
        return _check_proba(self.estimator.predict_proba(x), self.context)

    def save(self, folder: Path) -> None:
        import skops.io as sio

        write_with(folder / "estimator.skops", lambda tmp: sio.dump(self.estimator, tmp))

    @staticmethod
    def load_estimator(folder: Path) -> BaseEstimator:
        import skops.io as sio

        path = folder / "estimator.skops"
        if not path.exists():
            raise RunError(f"{folder}: estimator.skops missing")
        untrusted = set(sio.get_untrusted_types(file=path))
        unexpected = sorted(untrusted - TRUSTED_TYPES)
        if unexpected:
            raise RunError(f"{path}: refusing to load unexpected types: {', '.join(unexpected)}")
        return sio.load(path, trusted=sorted(untrusted))

    def n_parameters(self) -> int:
        return _count_parameters(self.estimator)


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    return {k.split("__")[-1]: (v.item() if hasattr(v, "item") else v) for k, v in params.items()}


def _count_parameters(estimator: BaseEstimator) -> int:
    """Learned numbers: coefficients for linear models, tree nodes for forests."""
    final = estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator
    if hasattr(final, "coef_"):
        return int(final.coef_.size + np.size(final.intercept_))
    if hasattr(final, "estimators_"):
        return int(sum(t.tree_.node_count for t in final.estimators_))
    return 0


# ------------------------------------------------------------------------- logistic regression
@dataclass
class LogRegOptions:
    """L2 logistic regression on standardized genes; C (inverse strength) picked by inner CV."""

    C: list[float] = field(default_factory=lambda: [0.001, 0.01, 0.1, 1.0])
    class_weight: ClassWeight = "balanced"
    inner_folds: int = 3
    max_iter: int = 5000


def build_logreg(options: LogRegOptions, context: ModelContext) -> SklearnClassifier:
    estimator = Pipeline(
        [
            ("scale", StandardScaler()),
            (
                "logreg",
                LogisticRegression(
                    C=options.C[0],
                    class_weight=None if options.class_weight == "none" else "balanced",
                    max_iter=options.max_iter,
                ),
            ),
        ]
    )
    return SklearnClassifier(
        estimator, {"logreg__C": list(options.C)}, context, options.inner_folds
    )


def load_sklearn(
    folder: Path, options: Any, context: ModelContext, fitted: dict[str, Any]
) -> SklearnClassifier:
    return SklearnClassifier(SklearnClassifier.load_estimator(folder), {}, context, 0)


# ------------------------------------------------------------------------------- random forest
@dataclass
class RandomForestOptions:
    """Random forest; the minimum leaf size (its regularisation) picked by inner CV."""

    n_estimators: int = 500
    min_samples_leaf: list[int] = field(default_factory=lambda: [1, 3, 5])
    max_features: str = "sqrt"
    class_weight: ClassWeight = "balanced"
    inner_folds: int = 3
    n_jobs: int = -1


def build_rf(options: RandomForestOptions, context: ModelContext) -> SklearnClassifier:
    max_features: str | float = options.max_features
    try:
        max_features = float(options.max_features)
    except ValueError:
        pass
    estimator = RandomForestClassifier(
        n_estimators=options.n_estimators,
        max_features=max_features,
        class_weight=None if options.class_weight == "none" else "balanced",
        n_jobs=options.n_jobs,
        random_state=context.seed,
    )
    return SklearnClassifier(
        estimator,
        {"min_samples_leaf": list(options.min_samples_leaf)},
        context,
        options.inner_folds,
    )


# ------------------------------------------------------------------------------------- XGBoost
@dataclass
class XGBoostOptions:
    """Gradient-boosted trees (XGBoost); tree depth picked by inner CV; balanced sample weights."""

    n_estimators: int = 300
    learning_rate: float = 0.05
    max_depth: list[int] = field(default_factory=lambda: [2, 4])
    subsample: float = 0.8
    colsample_bytree: float = 0.3
    class_weight: ClassWeight = "balanced"
    inner_folds: int = 3
    n_jobs: int = -1


def _xgboost():
    try:
        import xgboost
    except ImportError:
        raise MissingDependencyError(
            "xgboost", extra="xgboost", feature="model 'xgboost'"
        ) from None
    return xgboost


class XGBoostClassifier(SklearnClassifier):
    """XGBoost saved in its own JSON format (no pickle)."""

    def save(self, folder: Path) -> None:
        write_with(folder / "xgboost.json", lambda tmp: self.estimator.save_model(str(tmp)))

    def n_parameters(self) -> int:
        trees = self.estimator.get_booster().trees_to_dataframe()
        return len(trees)


def build_xgboost(options: XGBoostOptions, context: ModelContext) -> XGBoostClassifier:
    xgb = _xgboost()
    estimator = xgb.XGBClassifier(
        n_estimators=options.n_estimators,
        learning_rate=options.learning_rate,
        max_depth=options.max_depth[0],
        subsample=options.subsample,
        colsample_bytree=options.colsample_bytree,
        n_jobs=options.n_jobs,
        random_state=context.seed,
        tree_method="hist",
    )
    return XGBoostClassifier(
        estimator,
        {"max_depth": list(options.max_depth)},
        context,
        options.inner_folds,
        sample_weighted=options.class_weight == "balanced",
    )


def load_xgboost(
    folder: Path, options: XGBoostOptions, context: ModelContext, fitted: dict[str, Any]
) -> XGBoostClassifier:
    xgb = _xgboost()
    path = folder / "xgboost.json"
    if not path.exists():
        raise RunError(f"{folder}: xgboost.json missing")
    estimator = xgb.XGBClassifier()
    estimator.load_model(str(path))
    return XGBoostClassifier(estimator, {}, context, 0)


MODELS.add(
    "logreg",
    ModelSpec(
        name="logreg",
        description="L2 logistic regression, balanced class weights, C by inner CV",
        options=LogRegOptions,
        build=build_logreg,
        load=load_sklearn,
        tasks=("classification",),
        family="baseline",
    ),
)
MODELS.add(
    "rf",
    ModelSpec(
        name="rf",
        description="Random forest, balanced class weights, leaf size by inner CV",
        options=RandomForestOptions,
        build=build_rf,
        load=load_sklearn,
        tasks=("classification",),
        family="baseline",
    ),
)
MODELS.add(
    "xgboost",
    ModelSpec(
        name="xgboost",
        description="XGBoost gradient-boosted trees, balanced sample weights, depth by inner CV",
        options=XGBoostOptions,
        build=build_xgboost,
        load=load_xgboost,
        tasks=("classification",),
        family="baseline",
        extra="xgboost",
    ),
)
