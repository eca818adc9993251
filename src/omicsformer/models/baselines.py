"""Classical baselines for every task, each a fair competitor for small, imbalanced cohorts.

=========  ==============================  ==============================  =========================
name       classification                  survival                        regression
=========  ==============================  ==============================  =========================
logreg     L2 logistic regression          -                               -
coxph      -                               penalised Cox (elastic net)     -
ridge      -                               -                               ridge regression
rf         random forest                   -                               random forest regressor
rsf        -                               random survival forest          -
xgboost    gradient-boosted trees          boosted Cox (survival:cox)      gradient-boosted trees
=========  ==============================  ==============================  =========================

- Classifiers weight classes inversely to their frequency (``class_weight="balanced"``, or
  balanced sample weights for XGBoost) unless ``class_weight=none`` is asked for.
- The regularisation strength is chosen by inner cross-validation on the training split only
  (stratified by class, or by event for survival), scored by balanced accuracy, Harrell's C or
  R²; the choice is recorded in ``model.json``.
- Survival models output a risk score on the log hazard-ratio scale: the Cox linear predictor;
  for the random survival forest the log of its ensemble cumulative hazard (a monotone map, so
  concordance is unchanged, and survival curves come from the Breslow baseline like every model).

Models are saved with skops (scikit-learn / scikit-survival) or XGBoost's JSON format: loading
never unpickles, and skops files may hold only audited types.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from omicsformer.config import bounded
from omicsformer.console import note
from omicsformer.errors import ConfigError, RunError, optional_import
from omicsformer.fileio import read_file, write_with
from omicsformer.models.base import FitData, ModelContext, ModelSpec, Runtime
from omicsformer.tasks import TASKS, Task
from omicsformer.tuning.space import Choice, Float, Int

ClassWeight = Literal["balanced", "none"]
MAX_FEATURES = Choice(("sqrt", "log2", "0.05", "0.2"))  # share of the genes tried per split
# help texts of options several models share
CLASS_WEIGHT_HELP = "classification: balanced weighs classes by inverse frequency; none: equally"
INNER_FOLDS_HELP = "inner CV folds of the training split for the search (1: the first value)"
MIN_LEAF_HELP = "minimum samples per leaf, tried by the inner CV"
MAX_FEATURES_HELP = "genes tried per split: sqrt, log2 or a fraction in (0, 1]"
N_JOBS_HELP = "parallel jobs; -1: every core"

# skops trusts scikit-learn estimators and numpy types by default; beyond those, a saved model may
# hold only these. Any other type in a file is refused on load rather than trusted blindly.
TRUSTED_TYPES = {
    "sklearn.tree._tree.Tree",
    "sksurv.linear_model.coxnet.CoxnetSurvivalAnalysis",
    "sksurv.ensemble.forest.RandomSurvivalForest",
    "sksurv.tree.tree.SurvivalTree",
}


def inner_cv(task: Task, y: np.ndarray, folds: int, seed: int) -> KFold | StratifiedKFold | None:
    """Inner folds on the training split: stratified on the task's inner strata (class, event),
    plain where it has none (regression); fewer folds if a stratum is small; None if impossible."""
    strata = task.inner_strata(y)
    if strata is None:
        n = min(folds, len(y) // 2)
        return KFold(n_splits=n, shuffle=True, random_state=seed) if n >= 2 else None
    smallest = int(np.bincount(strata).min()) if len(strata) else 0
    n = min(folds, smallest)
    if n < 2:
        if folds > 1:  # inner_folds=1 asks for no search: nothing to explain
            note(f"smallest training stratum has {smallest} sample(s): no inner cross-validation")
        return None
    return StratifiedKFold(n_splits=n, shuffle=True, random_state=seed)


class SklearnModel:
    """An estimator tuned by grid search on inner folds of the training split.

    Parameters
    ----------
    estimator
        An unfitted scikit-learn / scikit-survival estimator.
    grid
        Parameter grid for the inner search (a single value each = no search).
    context
        Genes, target and seed.
    inner_folds
        Number of inner folds.
    sample_weighted
        Pass balanced sample weights to ``fit`` (classification).
    risk
        Survival only: ``linear`` (the estimator's prediction is a log hazard ratio) or ``log``
        (take the log of a positive risk score).
    """

    def __init__(
        self,
        estimator: BaseEstimator,
        grid: dict[str, list[Any]],
        context: ModelContext,
        inner_folds: int,
        sample_weighted: bool = False,
        risk: str = "linear",
    ) -> None:
        self.estimator = estimator
        self.grid = grid
        self.context = context
        self.inner_folds = inner_folds
        self.sample_weighted = sample_weighted
        self.risk = risk

    @property
    def task(self) -> Task:
        return TASKS.get(self.context.target.task)

    def _target(self, y: np.ndarray) -> np.ndarray:
        return self.task.sklearn_target(y)

    def _scoring(self) -> Any:
        return self.task.sklearn_scoring

    def fit(self, data: FitData, runtime: Runtime | None = None) -> dict[str, Any]:
        """Search the grid on inner folds of the training part and refit the best on all of it.

        With ``runtime.resample`` (``--augment smote``) the estimator is the second step of an
        imbalanced-learn pipeline behind the augmenter's sampler: every fit, of the search's
        inner training folds and of the refit, resamples its own rows; the inner validation
        folds, and everything predicted later, pass through unresampled. Only the fitted
        estimator is kept (the sampler has no part in prediction).
        """
        x, y = data.x_train, data.y_train
        resample = None if runtime is None else runtime.resample
        fit_params = {}
        # after resampling every class has the largest's size: balanced weights would all be 1
        # (and could not follow the rows the sampler adds)
        weighted = self.sample_weighted and resample is None
        weights = self.task.balanced_weights(y) if weighted else None
        if weights is not None:
            fit_params["sample_weight"] = weights
        cv = inner_cv(self.task, y, self.inner_folds, self.context.seed)
        target = self._target(y)
        estimator, grid = self.estimator, self.grid
        if resample is not None:
            from imblearn.pipeline import Pipeline as ResamplingPipeline

            estimator = ResamplingPipeline(
                [("resample", resample.sampler()), ("model", self.estimator)]
            )
            grid = {f"model__{k}": v for k, v in grid.items()}
        searched = cv is not None and any(len(v) > 1 for v in grid.values())
        if not searched:
            params = {k: v[0] for k, v in grid.items()}
            if resample is not None:
                resample.check_rows({"the training part": y})
            fitted = clone(estimator).set_params(**params).fit(x, target, **fit_params)
            self.estimator = _fitted_model(fitted, resample)
            return {
                "chosen": _plain(params),
                "inner_folds": 0,
                **_resampled(fitted, resample, self.context.target.classes),
            }
        strata = self.task.inner_strata(y)
        splits = list(cv.split(x, y if strata is None else strata))
        if resample is not None:  # the refit's rows and every inner training fold's
            parts = {
                f"the training rows of inner fold {i + 1}": y[t] for i, (t, _) in enumerate(splits)
            }
            resample.check_rows({"the training part": y, **parts})
        search = GridSearchCV(
            estimator, grid, cv=splits, scoring=self._scoring(), refit=True, n_jobs=1
        )
        search.fit(x, target, **fit_params)
        self.estimator = _fitted_model(search.best_estimator_, resample)
        return {
            "chosen": _plain(search.best_params_),
            "inner_folds": len(splits),
            "inner_cv_score": float(search.best_score_),
            **_resampled(search.best_estimator_, resample, self.context.target.classes),
        }

    def used_inputs(self) -> np.ndarray | None:
        """The input columns the fitted estimator reads: those a leading gene selection passes
        (``_select_genes``), else None (all)."""
        if isinstance(self.estimator, Pipeline) and isinstance(
            self.estimator[0], ColumnTransformer
        ):
            return _passed_genes(self.estimator[0])
        return None

    def predict(self, x: np.ndarray) -> np.ndarray:
        prediction = self.task.sklearn_output(self.estimator, x, self.context.target)
        if self.risk == "log":  # a positive risk score (random survival forest)
            prediction = np.log(np.maximum(prediction, 1e-12))
        return prediction

    def save(self, folder: Path) -> None:
        import skops.io as sio

        write_with(folder / "estimator.skops", lambda tmp: sio.dump(self.estimator, tmp))

    @staticmethod
    def load_estimator(folder: Path) -> BaseEstimator:
        import skops.io as sio

        def load(path: Path) -> BaseEstimator:
            untrusted = set(sio.get_untrusted_types(file=path))
            unexpected = sorted(untrusted - TRUSTED_TYPES)
            if unexpected:
                raise RunError(
                    f"{path}: refusing to load unexpected types: {', '.join(unexpected)}"
                )
            return sio.load(path, trusted=sorted(untrusted))

        return read_file(folder / "estimator.skops", load)

    def n_parameters(self) -> int:
        final = (
            self.estimator.steps[-1][1] if isinstance(self.estimator, Pipeline) else self.estimator
        )
        if hasattr(final, "alphas_"):  # a Coxnet path: one coefficient per gene it was fitted on
            return int(final.coef_.shape[0])
        if hasattr(final, "coef_"):
            intercept = getattr(final, "intercept_", None)
            return int(np.size(final.coef_) + (0 if intercept is None else np.size(intercept)))
        if hasattr(final, "estimators_"):
            return int(sum(t.tree_.node_count for t in final.estimators_))
        return 0

    def linear_map(self) -> tuple[np.ndarray, np.ndarray]:
        """The fitted linear model as one affine map of the model's inputs.

        Returns
        -------
        W, b
            Float64 arrays of shape ``(outputs, G)`` and ``(outputs,)`` such that the
            estimator's raw output for inputs ``x`` ``(N, G)``, as the model receives them, is
            ``x @ W.T + b``: logistic regression's ``decision_function`` (one row for two
            classes, one per class otherwise), ridge regression's prediction, and coxph's linear
            predictor (the risk ``predict`` gives, at the chosen penalty). A pipeline's
            standardization is folded into ``W`` and ``b``; genes a gene selection (coxph
            ``top_genes``) leaves out get weight 0.

        Raises
        ------
        ConfigError
            For a model that is not linear (rf, rsf, xgboost).
        """
        steps = (
            [s for _, s in self.estimator.steps]
            if isinstance(self.estimator, Pipeline)
            else [self.estimator]
        )
        weight, bias = _linear_output(steps[-1])
        for step in reversed(steps[:-1]):  # back through the transforms, to the model's inputs
            weight, bias = _fold_step(step, weight, bias)
        return weight, bias


def _linear_output(final: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(W, b)`` of a fitted linear estimator on its own inputs."""
    if hasattr(final, "alphas_"):  # Coxnet: predict(x) = x @ coef_[:, -1] - offset_[-1]
        return final.coef_[:, -1][None, :].astype(np.float64), -final.offset_[-1:].astype(float)
    if isinstance(final, LogisticRegression | Ridge):
        weight = np.atleast_2d(np.asarray(final.coef_, dtype=np.float64))  # (outputs, G)
        bias = np.broadcast_to(np.asarray(final.intercept_, dtype=np.float64), weight.shape[:1])
        return weight, bias.copy()
    raise ConfigError(
        f"{type(final).__name__} is not a linear model: a linear map exists for logreg, ridge "
        "and coxph only"
    )


def _fold_step(step: Any, weight: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(W, b)`` on the inputs of ``step`` from ``(W, b)`` on its outputs."""
    if isinstance(step, StandardScaler):  # z = (x - mean) / scale
        scale = 1.0 if step.scale_ is None else step.scale_
        mean = 0.0 if step.mean_ is None else step.mean_
        weight = weight / scale
        return weight, bias - weight @ np.broadcast_to(mean, weight.shape[1:])
    if isinstance(step, ColumnTransformer):  # the genes passed through; the others get 0
        expanded = np.zeros((weight.shape[0], step.n_features_in_))
        expanded[:, _passed_genes(step)] = weight
        return expanded, bias
    raise ConfigError(f"no linear map through a {type(step).__name__} step")


def _select_genes(genes: np.ndarray, n_genes: int, fitted: Any) -> Pipeline:
    """``fitted``, an estimator fitted on the columns ``genes`` of ``n_genes``, as one that
    takes every gene: behind a column selection."""
    select = ColumnTransformer([("genes", "passthrough", genes)])
    select.fit(np.zeros((1, n_genes)))
    return Pipeline([("genes", select), ("coxnet", fitted)])


def _passed_genes(select: ColumnTransformer) -> np.ndarray:
    """The input columns a fitted ``_select_genes`` selection passes through, in order."""
    (_, kind, columns), *others = select.transformers  # as declared: fitted, "passthrough"
    if kind != "passthrough" or others or select.remainder != "drop":  # becomes an identity
        raise ConfigError("no linear map through a column transformer other than a selection")
    return np.asarray(columns)


def _fitted_model(fitted: Any, resample: Any) -> BaseEstimator:
    """The fitted estimator, out of the resampling pipeline if there is one."""
    return fitted if resample is None else fitted.named_steps["model"]


def _resampled(fitted: Any, resample: Any, classes: list[str]) -> dict[str, Any]:
    """For the record (model.json): how many rows the refit's sampler added to each class."""
    if resample is None:
        return {}
    added = fitted.named_steps["resample"].sampling_strategy_
    return {
        "resampled": {"by": resample.name, "added": {classes[k]: int(v) for k, v in added.items()}}
    }


def _plain(params: dict[str, Any]) -> dict[str, Any]:
    def plain(v: Any) -> Any:
        if isinstance(v, list | tuple):
            return [plain(i) for i in v]
        return v.item() if hasattr(v, "item") else v

    return {k.split("__")[-1]: plain(v) for k, v in params.items()}


def load_sklearn(
    folder: Path, options: Any, context: ModelContext, fitted: dict[str, Any]
) -> SklearnModel:
    risk = "log" if isinstance(options, RandomSurvivalForestOptions) else "linear"
    return SklearnModel(SklearnModel.load_estimator(folder), {}, context, 0, risk=risk)


# ------------------------------------------------------------------------- logistic regression
@dataclass
class LogRegOptions:
    """L2 logistic regression on standardized genes; C (inverse strength) picked by inner CV."""

    C: list[float] = bounded(
        [0.001, 0.01, 0.1, 1.0],
        low=0,
        open_low=True,
        search=Float(1e-4, 10.0, log=True),
        help="inverse L2 strengths tried by the inner CV (smaller: stronger)",
    )
    class_weight: ClassWeight = bounded("balanced", help=CLASS_WEIGHT_HELP)
    inner_folds: int = bounded(3, low=1, help=INNER_FOLDS_HELP)
    max_iter: int = bounded(5000, low=1, help="solver iterations at most")


def build_logreg(options: LogRegOptions, context: ModelContext) -> SklearnModel:
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
    return SklearnModel(estimator, {"logreg__C": list(options.C)}, context, options.inner_folds)


# ------------------------------------------------------------------------------------- ridge
@dataclass
class RidgeOptions:
    """Ridge regression on standardized genes; alpha (strength) picked by inner CV."""

    alpha: list[float] = bounded(
        [0.1, 1.0, 10.0, 100.0, 1000.0],
        low=0,
        open_low=True,
        search=Float(1e-2, 1e4, log=True),
        help="L2 strengths tried by the inner CV (larger: stronger)",
    )
    inner_folds: int = bounded(3, low=1, help=INNER_FOLDS_HELP)


def build_ridge(options: RidgeOptions, context: ModelContext) -> SklearnModel:
    estimator = Pipeline([("scale", StandardScaler()), ("ridge", Ridge(alpha=options.alpha[0]))])
    return SklearnModel(
        estimator, {"ridge__alpha": list(options.alpha)}, context, options.inner_folds
    )


# ------------------------------------------------------------------------- penalised Cox model
@dataclass
class CoxPHOptions:
    """Elastic-net penalised Cox model (scikit-survival's Coxnet). One regularisation path per
    inner fold scores every penalty of a shared grid by Harrell's C; the best (ties: the larger
    penalty) is refitted on the whole training part.

    The defaults (ridge-like ``l1_ratio``, 10 penalties down to 1/100 of the largest, 3 inner
    folds, every gene) scored the best validation C, or within noise of it at a lower cost, on
    validation parts of the training folds of breast-gse7390, SurvSet's dataOvarian1 and DBCD
    (never their test folds): l1_ratio 0.1 (the earlier default) was 0.005-0.016 lower on each.
    """

    l1_ratio: float = bounded(
        0.001,
        low=0.001,
        high=1,
        search=Float(0.001, 1.0, log=True),
        help="share of the L1 (lasso) penalty in the elastic net; 1: lasso; small values "
        "(0.001-0.01) act like ridge (mostly L2 shrinkage)",
    )
    top_genes: int = bounded(
        0,
        low=0,
        help="0: every gene; K: only the K genes of highest variance on the training rows "
        "(before z-scoring), chosen inside each fit",
    )
    n_alphas: int = bounded(10, low=1, help="penalty strengths of the path tried by the inner CV")
    alpha_min_ratio: float = bounded(
        0.01,
        low=0,
        high=1,
        open_low=True,
        open_high=True,
        search=Float(1e-4, 0.5, log=True),
        help="smallest penalty of the path, as a fraction of the largest (the smallest that "
        "keeps every coefficient at 0)",
    )
    inner_folds: int = bounded(
        3, low=1, help="inner CV folds of the training split (1: no search, the smallest penalty)"
    )
    max_iter: int = bounded(
        100_000, low=1, help="coordinate-descent iterations at most, for a whole path"
    )


def top_variance_genes(x: np.ndarray, k: int, preprocessor: Any = None) -> np.ndarray | None:
    """Positions (sorted) of the ``k`` genes of highest variance over the rows of ``x`` (N, G).

    The variance is taken on the scale before z-scoring: the fitted preprocessor's per-gene
    scale (1 without z-scoring) undoes it, since z-scored genes all have variance 1 on the rows
    the preprocessing was fitted on. Ties keep the gene order. None: every gene (``k`` is 0 or
    not below G).
    """
    if k == 0 or k >= x.shape[1]:
        return None
    variance = x.var(axis=0, dtype=np.float64)  # (G,)
    if preprocessor is not None:
        variance = variance * np.asarray(preprocessor.scale, dtype=np.float64) ** 2
    return np.sort(np.argsort(-variance, kind="stable")[:k])


def coxnet_path(
    estimator: Any, x: np.ndarray, target: np.ndarray, alphas: np.ndarray
) -> tuple[Any, int]:
    """Fit ``estimator`` (Coxnet) along ``alphas`` (descending) in one path.

    The solver gives up a whole path when it fails at one penalty: weights that overflow
    (``ArithmeticError``, at small penalties), or ``max_iter`` reached (a ``ConvergenceWarning``;
    the count is over the whole path). Then the longest prefix of ``alphas`` that fits is found
    by bisection (a prefix is computed exactly as in the longer path), so only the failing
    penalties are skipped. Returns the fitted estimator and how many alphas it holds (0, and
    None, if not even the largest fits). The solver may also stop early, once the deviance no
    longer changes; ``predict`` then gives the last fitted coefficients for smaller penalties.
    """
    from sklearn.exceptions import ConvergenceWarning

    def attempt(n: int) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "all coefficients are zero")
                warnings.filterwarnings("error", category=ConvergenceWarning)
                return clone(estimator).set_params(alphas=alphas[:n]).fit(x, target)
        except (ArithmeticError, ConvergenceWarning):
            return None

    fitted = attempt(len(alphas))
    if fitted is not None:
        return fitted, len(alphas)
    works, fails = 0, len(alphas)  # the longest prefix known to fit, the shortest known to fail
    while fails - works > 1:
        middle = (works + fails) // 2
        candidate = attempt(middle)
        if candidate is None:
            fails = middle
        else:
            works, fitted = middle, candidate
    return fitted, works


class CoxnetModel(SklearnModel):
    """Penalised Cox model: the penalty searched along Coxnet regularisation paths.

    Without ``top_genes`` the fitted estimator is a ``CoxnetSurvivalAnalysis``; with it, a
    ``Pipeline`` of a column selection (``ColumnTransformer`` passing the chosen genes through)
    and the Coxnet, so a saved model predicts from the genes it was fitted on. The refit's path
    ends at the chosen penalty, which is the one ``predict`` uses by default (the path's last).
    """

    def __init__(self, options: CoxPHOptions, context: ModelContext) -> None:
        from sksurv.linear_model import CoxnetSurvivalAnalysis

        # the unfitted estimator every path is cloned from (``estimator`` becomes the fitted one)
        self.coxnet = CoxnetSurvivalAnalysis(l1_ratio=options.l1_ratio, max_iter=options.max_iter)
        super().__init__(self.coxnet, {}, context, options.inner_folds)
        self.options = options

    def _genes(self, x: np.ndarray) -> np.ndarray:
        """The genes (positions) a fit on the rows ``x`` uses."""
        keep = top_variance_genes(x, self.options.top_genes, self.context.preprocessor)
        return np.arange(x.shape[1]) if keep is None else keep

    def alpha_grid(self, x: np.ndarray, target: np.ndarray) -> np.ndarray:
        """``n_alphas`` penalties (descending), log-spaced below the smallest that keeps every
        coefficient of a fit on ``x`` at 0 (Coxnet's own, read from a two-step path that stops
        right below it) down to ``alpha_min_ratio`` times it.

        That penalty itself is left out: refitted on ``x`` it is the null model (one risk for
        everyone), while on inner folds, with fewer rows, it may still keep a few genes by
        chance, so their scores would not stand for what it predicts.
        """
        top = clone(self.coxnet).set_params(alphas=None, n_alphas=2, alpha_min_ratio=0.999)
        with warnings.catch_warnings():  # zero coefficients, and iterations, do not matter here
            warnings.simplefilter("ignore")
            largest = float(top.fit(x, target).alphas_[0])
        n = self.options.n_alphas
        return np.geomspace(largest, largest * self.options.alpha_min_ratio, n + 1)[1:]

    def fit(self, data: FitData, runtime: Runtime | None = None) -> dict[str, Any]:
        """Choose the penalty on inner folds of the training part, refit on all of it.

        The grid comes once from the whole training part. Each inner fold (stratified on the
        event) fits one path on its training rows (its own top genes) and scores Harrell's C
        of every penalty on its validation rows; the penalty of best mean C over the folds wins
        (ties: the larger). A penalty the solver failed at in some fold is skipped.
        """
        from omicsformer.metrics.survival import harrell_c

        x, y = data.x_train, data.y_train
        target = self.task.sklearn_target(y)
        genes = self._genes(x)
        grid = self.alpha_grid(x[:, genes], target)
        record: dict[str, Any] = {"inner_folds": 0}
        cv = inner_cv(self.task, y, self.inner_folds, self.context.seed)
        best = len(grid) - 1
        if cv is not None:
            splits = list(cv.split(x, self.task.inner_strata(y)))
            scores = np.full((len(splits), len(grid)), np.nan)  # (folds, alphas)
            for i, (train, val) in enumerate(splits):
                keep = self._genes(x[train])
                path, n_fitted = coxnet_path(self.coxnet, x[train][:, keep], target[train], grid)
                for j in range(n_fitted):
                    risk = path.predict(x[val][:, keep], alpha=grid[j])
                    scores[i, j] = harrell_c(y[val, 0], y[val, 1] > 0, risk)
            mean = scores.mean(axis=0)  # (alphas,): NaN where a fold failed
            if np.isnan(mean).all():
                raise ConfigError(self._failure("an inner fold"))
            best = int(np.flatnonzero(mean == np.nanmax(mean))[0])  # first: the larger alpha
            record = {
                "inner_folds": len(splits),
                "inner_cv_score": float(mean[best]),
                "alphas_skipped": int(np.isnan(mean).sum()),
                # mean inner C of each alpha of the grid (None: skipped), for the record
                "inner_cv_scores": [None if np.isnan(c) else round(float(c), 6) for c in mean],
            }
        path, n_fitted = coxnet_path(self.coxnet, x[:, genes], target, grid[: best + 1])
        if path is None:
            raise ConfigError(self._failure("the training part"))
        if n_fitted <= best:
            note(
                f"coxph: the refit failed below penalty {grid[n_fitted - 1]:.4g}; that one is "
                f"used instead of the chosen {grid[best]:.4g}"
            )
        self.estimator = path
        if len(genes) < x.shape[1]:
            self.estimator = _select_genes(genes, x.shape[1], path)
        return {
            "chosen": {"alpha": float(grid[n_fitted - 1])},
            **record,
            "alpha_grid": {"largest": float(grid[0]), "smallest": float(grid[-1]), "n": len(grid)},
            "genes_used": len(genes),
        }

    def _failure(self, where: str) -> str:
        o = self.options
        return (
            f"coxph: the Coxnet solver failed at every penalty on {where} (l1_ratio={o.l1_ratio}, "
            f"max_iter={o.max_iter}); try a larger max_iter or l1_ratio"
        )


# ------------------------------------------------------------------------------- random forests
@dataclass
class RandomForestOptions:
    """Random forest (classifier or regressor); the minimum leaf size (its regularisation) is
    picked by inner CV."""

    n_estimators: int = bounded(500, low=1, help="trees")
    min_samples_leaf: list[int] = bounded([1, 3, 5], low=1, search=Int(1, 10), help=MIN_LEAF_HELP)
    max_features: str = bounded("sqrt", search=MAX_FEATURES, help=MAX_FEATURES_HELP)
    class_weight: ClassWeight = bounded("balanced", help=CLASS_WEIGHT_HELP)
    inner_folds: int = bounded(3, low=1, help=INNER_FOLDS_HELP)
    n_jobs: int = bounded(-1, low=-1, help=N_JOBS_HELP)


def _max_features(text: str) -> str | float:
    """``sqrt``, ``log2`` or a fraction of the genes in (0, 1]."""
    if text in ("sqrt", "log2"):
        return text
    try:
        fraction = float(text)
    except ValueError:
        fraction = math.nan
    if not 0 < fraction <= 1:
        raise ConfigError(f"max_features must be sqrt, log2 or a fraction in (0, 1], got {text!r}")
    return fraction


def check_parallel(options: Any, train: Any) -> None:
    """Options every tree ensemble shares, checked before any data is read."""
    if options.n_jobs == 0:
        raise ConfigError("n_jobs must be -1 (every core) or a number of cores, not 0")
    if hasattr(options, "max_features"):
        _max_features(options.max_features)


def _forest_args(options: Any, context: ModelContext) -> dict[str, Any]:
    """Arguments every forest (classifier, regressor, survival) takes from its options."""
    return dict(
        n_estimators=options.n_estimators,
        max_features=_max_features(options.max_features),
        n_jobs=options.n_jobs,
        random_state=context.seed,
    )


def build_rf(options: RandomForestOptions, context: ModelContext) -> SklearnModel:
    common = _forest_args(options, context)
    weight = None if options.class_weight == "none" else "balanced"
    forests = {
        "regression": lambda: RandomForestRegressor(**common),
        "classification": lambda: RandomForestClassifier(class_weight=weight, **common),
    }
    estimator: BaseEstimator = forests[context.target.task]()
    grid = {"min_samples_leaf": list(options.min_samples_leaf)}
    return SklearnModel(estimator, grid, context, options.inner_folds)


@dataclass
class RandomSurvivalForestOptions:
    """Random survival forest (scikit-survival); minimum leaf size picked by inner CV."""

    n_estimators: int = bounded(300, low=1, help="trees")
    min_samples_leaf: list[int] = bounded([3, 10], low=1, search=Int(1, 20), help=MIN_LEAF_HELP)
    max_features: str = bounded("sqrt", search=MAX_FEATURES, help=MAX_FEATURES_HELP)
    inner_folds: int = bounded(3, low=1, help=INNER_FOLDS_HELP)
    n_jobs: int = bounded(-1, low=-1, help=N_JOBS_HELP)


def build_rsf(options: RandomSurvivalForestOptions, context: ModelContext) -> SklearnModel:
    from sksurv.ensemble import RandomSurvivalForest

    estimator = RandomSurvivalForest(**_forest_args(options, context))
    grid = {"min_samples_leaf": list(options.min_samples_leaf)}
    return SklearnModel(estimator, grid, context, options.inner_folds, risk="log")


# ------------------------------------------------------------------------------------- XGBoost
@dataclass
class XGBoostOptions:
    """Gradient-boosted trees (XGBoost); tree depth picked by inner CV. Classification uses
    balanced sample weights; survival the ``survival:cox`` objective."""

    n_estimators: int = bounded(300, low=1, help="boosting rounds (trees)")
    learning_rate: float = bounded(
        0.05,
        low=0,
        open_low=True,
        search=Float(0.01, 0.3, log=True),
        help="shrinkage of each tree's contribution",
    )
    max_depth: list[int] = bounded(
        [2, 4], low=1, search=Int(2, 8), help="tree depths tried by the inner CV"
    )
    subsample: float = bounded(
        0.8,
        low=0,
        high=1,
        open_low=True,
        search=Float(0.5, 1.0),
        help="share of the training samples each tree sees",
    )
    colsample_bytree: float = bounded(
        0.3,
        low=0,
        high=1,
        open_low=True,
        search=Float(0.05, 1.0, log=True),
        help="share of the genes each tree sees",
    )
    class_weight: ClassWeight = bounded("balanced", help=CLASS_WEIGHT_HELP)
    inner_folds: int = bounded(3, low=1, help=INNER_FOLDS_HELP)
    n_jobs: int = bounded(-1, low=-1, help=N_JOBS_HELP)


def _xgboost():
    return optional_import("xgboost", "xgboost", extra="xgboost", feature="model 'xgboost'")


def _cox_label(y: np.ndarray) -> np.ndarray:
    """XGBoost's survival:cox label: the time, negative when censored."""
    return np.where(y[:, 1] > 0, y[:, 0], -y[:, 0])


def _cox_scorer(estimator: Any, x: np.ndarray, label: np.ndarray) -> float:
    from omicsformer.metrics.survival import harrell_c

    risk = estimator.predict(x, output_margin=True)
    return harrell_c(np.abs(label), label > 0, risk)


class XGBoostModel(SklearnModel):
    """XGBoost saved in its own JSON format (no pickle). Survival is XGBoost's own Cox
    objective (signed-time labels, margin output), not scikit-survival's convention, so the
    task's scikit-learn side is replaced for it (``cox``, decided once from the target)."""

    @property
    def cox(self) -> bool:
        return self.context.target.task == "survival"

    def _target(self, y: np.ndarray) -> np.ndarray:
        return _cox_label(y) if self.cox else super()._target(y)

    def _scoring(self) -> Any:
        return _cox_scorer if self.cox else super()._scoring()

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.cox:
            return np.asarray(self.estimator.predict(x, output_margin=True), dtype=np.float64)
        return super().predict(x)

    def save(self, folder: Path) -> None:
        write_with(folder / "xgboost.json", lambda tmp: self.estimator.save_model(str(tmp)))

    def n_parameters(self) -> int:
        return len(self.estimator.get_booster().trees_to_dataframe())


def build_xgboost(options: XGBoostOptions, context: ModelContext) -> XGBoostModel:
    xgb = _xgboost()
    common = dict(
        n_estimators=options.n_estimators,
        learning_rate=options.learning_rate,
        max_depth=options.max_depth[0],
        subsample=options.subsample,
        colsample_bytree=options.colsample_bytree,
        n_jobs=options.n_jobs,
        random_state=context.seed,
        tree_method="hist",
    )
    objective = {"survival": "survival:cox", "regression": "reg:squarederror"}
    task = context.target.task
    estimator = (
        xgb.XGBRegressor(objective=objective[task], **common)
        if task in objective
        else xgb.XGBClassifier(**common)
    )
    return XGBoostModel(
        estimator,
        {"max_depth": list(options.max_depth)},
        context,
        options.inner_folds,
        sample_weighted=options.class_weight == "balanced",
    )


def load_xgboost(
    folder: Path, options: XGBoostOptions, context: ModelContext, fitted: dict[str, Any]
) -> XGBoostModel:
    xgb = _xgboost()
    regression = context.target.task in ("survival", "regression")  # XGBoost's own kinds
    estimator = xgb.XGBRegressor() if regression else xgb.XGBClassifier()
    read_file(folder / "xgboost.json", lambda path: estimator.load_model(str(path)))
    return XGBoostModel(estimator, {}, context, 0)


def _spec(
    name: str, description: str, options: type, build, load, tasks, extra=None, check=None
) -> ModelSpec:
    return ModelSpec(
        name=name,
        description=description,
        options=options,
        build=build,
        load=load,
        tasks=tasks,
        family="baseline",
        extra=extra,
        check=check,
    )


SPECS = (  # registered by omicsformer.models, in this order
    _spec(
        "logreg",
        "L2 logistic regression, balanced class weights, C by inner CV",
        LogRegOptions,
        build_logreg,
        load_sklearn,
        ("classification",),
    ),
    _spec(
        "coxph",
        "Elastic-net penalised Cox model (scikit-survival Coxnet), penalty by inner CV",
        CoxPHOptions,
        CoxnetModel,
        load_sklearn,
        ("survival",),
    ),
    _spec(
        "ridge",
        "Ridge regression on standardized genes, alpha by inner CV",
        RidgeOptions,
        build_ridge,
        load_sklearn,
        ("regression",),
    ),
    _spec(
        "rf",
        "Random forest (balanced class weights) / regressor, leaf size by inner CV",
        RandomForestOptions,
        build_rf,
        load_sklearn,
        ("classification", "regression"),
        check=check_parallel,
    ),
    _spec(
        "rsf",
        "Random survival forest (scikit-survival), leaf size by inner CV",
        RandomSurvivalForestOptions,
        build_rsf,
        load_sklearn,
        ("survival",),
        check=check_parallel,
    ),
    _spec(
        "xgboost",
        "XGBoost gradient-boosted trees (Cox objective for survival), depth by inner CV",
        XGBoostOptions,
        build_xgboost,
        load_xgboost,
        ("classification", "survival", "regression"),
        extra="xgboost",
        check=check_parallel,
    ),
)
