"""The Python API: omicsformer models as scikit-learn estimators.

:class:`OmicsClassifier`, :class:`OmicsSurvival` and :class:`OmicsRegressor` follow
scikit-learn's estimator contract (``get_params`` / ``set_params``, ``fit`` / ``predict`` /
``score``), so ``cross_val_score``, ``GridSearchCV`` and ``Pipeline`` work with them. Each fit
runs the same steps as ``omicsformer train``: preprocessing fitted on the training samples only,
a validation part carved from them for early stopping (neural models), the model, and the task's
fitted state. Only the held-out test part of the command line is missing: scikit-learn's
cross-validation makes it.

``X`` is a samples-by-genes matrix: a pandas DataFrame (gene names as columns, sample IDs as
index), a NumPy array (genes named ``gene_0`` ... ``gene_{G-1}``) or an AnnData (``.X``, gene
names ``var_names``). Genes of new data are realigned to the training genes by name.

With an AnnData, ``fit(adata, target="column")`` reads the target from ``.obs`` (survival:
``target=("time column", "event column")``), and ``predict(adata)`` also writes the predictions
into ``.obs`` (``omicsformer_prediction``, class probabilities ``omicsformer_prob_<class>``,
survival risk ``omicsformer_risk``) and, for neural models, the patient embedding into
``.obsm["X_omicsformer"]``.

``estimator.save(path)`` writes the run folder ``omicsformer train`` writes; :func:`load`
returns the fitted estimator of a run folder written either way.

Example
-------
>>> from omicsformer import OmicsClassifier
>>> clf = OmicsClassifier("mlp", max_epochs=20).fit(X_train, y_train)  # doctest: +SKIP
>>> clf.predict_proba(X_test)  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import functools
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from omicsformer.config import RunConfig
from omicsformer.errors import (
    ConfigError,
    DataError,
    InvalidConfig,
    InvalidData,
    OutOfMemory,
    RunError,
)

# Estimator parameter -> the RunConfig field it sets (a test checks names, types and defaults).
CONFIG_FIELDS = {
    "model": "model.name",
    "options": "model.options",
    "log_transform": "preprocess.transform",
    "impute": "preprocess.impute",
    "top_genes": "preprocess.top_genes",
    "zscore": "preprocess.zscore",
    "val_fraction": "split.val_fraction",
    "max_epochs": "train.max_epochs",
    "batch_size": "train.batch_size",
    "eval_batch_size": "train.eval_batch_size",
    "lr": "train.lr",
    "weight_decay": "train.weight_decay",
    "patience": "train.patience",
    "monitor": "train.monitor",
    "class_weight": "train.class_weight",
    "device": "train.device",
    "precision": "train.precision",
    "augment": "augment.methods",
    "seed": "seed",
    "ties": "task.ties",
    "horizons": "task.horizons",
    "regression_loss": "task.regression_loss",
}
TARGET = "target"  # the obs column a target given as ``y`` is stored in
SURVIVAL_TARGET = ("time", "event")


# model options that the command line also sets with a flag of their own
OPTION_FLAGS = {"--attention": "attention", "--grouping": "grouping"}
# flags whose counterpart in the API is not a run setting
API_WORDS = {"--force": "overwrite=True"}
_FLAG = re.compile(
    r"(?<![\w-])(--[a-z][a-z0-9-]*|-o)(?:(?:\s+|=)('[^']*'|\"[^\"]*\"|[^\s,;:()]+))?"
)


@functools.lru_cache(maxsize=1)
def _flag_parameters() -> dict[str, tuple[str, Any]]:
    """Command-line flag -> (estimator parameter, its declared setting) for every parameter
    that stands for a run setting with a flag."""
    from omicsformer.config import settings

    found: dict[str, tuple[str, Any]] = {}
    for name, path in CONFIG_FIELDS.items():
        *sections, leaf = path.split(".")
        node: Any = RunConfig
        for section in sections:
            node = type(getattr(node(), section))
        setting = next(s for s in settings(node) if s.name == leaf)
        if setting.flag:
            found[setting.flag] = (name, setting)
    return found


def python_terms(message: str) -> str:
    """A command-line message in the Python API's terms: ``--impute median`` becomes
    ``impute="median"``, ``--transform`` ``log_transform``, ``-o key=value``
    ``options={"key": value}``, and ``estimator parameters.preprocess.top_genes`` the
    parameter ``top_genes``. Flags with no parameter (``--gene-id``, ``--force``) stay."""
    parameters = _flag_parameters()
    for name, path in CONFIG_FIELDS.items():
        message = message.replace(f"estimator parameters.{path}", name)

    def value_text(value: str, setting: Any) -> str | None:
        """The value as Python source, or None when the word after the flag is not its value."""
        if value[:1] in "'\"":
            return value
        if value.isupper() and value.isalpha():  # a placeholder: --batch-size N
            return value
        if setting is not None and setting.choices is not None:
            return f'"{value}"' if value in setting.choices else None
        try:
            float(value)
        except ValueError:
            return None
        return value

    def literal(text: str) -> str:
        """An option value as Python source: numbers and quoted text as they are,
        true / false as booleans, a placeholder (N, K) as is, other words quoted."""
        if text.lower() in ("true", "false"):
            return text.capitalize()
        if value_text(text, None) is not None:
            return text
        return f'"{text}"'

    def one(match: re.Match) -> str:
        flag, value = match.group(1), match.group(2)
        if flag == "-o":
            if value and "=" in value:
                key, _, option = value.partition("=")
                return f'options={{"{key}": {literal(option)}}}'
            return "options" + match.group(0)[len(flag) :]
        if flag in OPTION_FLAGS:
            if not value:
                return f'options["{OPTION_FLAGS[flag]}"]'
            return f'options={{"{OPTION_FLAGS[flag]}": {literal(value.strip(chr(39) + chr(34)))}}}'
        if flag in API_WORDS:
            return API_WORDS[flag] + match.group(0)[len(flag) :]
        if flag not in parameters:
            return match.group(0)
        name, setting = parameters[flag]
        if value is None:
            return name
        text = value_text(value, setting)
        if text is None:  # the word after the flag is the sentence's, not the flag's
            return f"{name}{match.group(0)[len(flag) :]}"
        return f"{name}={text}"

    return _FLAG.sub(one, message)


def value_errors(method: Callable) -> Callable:
    """Raise the user errors of ``method`` in the API's terms (:func:`python_terms`) and as
    ``ValueError`` subclasses too (scikit-learn's tools tell bad input from bugs by that
    type); their class stays."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return method(*args, **kwargs)
        except (DataError, ConfigError) as exc:
            text = python_terms(str(exc))
            if isinstance(exc, ValueError) and text == str(exc):
                raise
            kind = InvalidData if isinstance(exc, DataError) else InvalidConfig
            raise kind(text) from None
        except OutOfMemory as exc:
            raise PythonOutOfMemory(python_terms(str(exc))) from None
        except RunError as exc:
            text = python_terms(str(exc))
            if text == str(exc):
                raise
            raise RunError(text) from None

    return wrapper


# Other names an estimator takes for a parameter: name -> (parameter, deprecated). ``loss``
# was renamed to its flag's name; ``transform`` is the flag's name of ``log_transform``, which
# cannot be the parameter itself: scikit-learn takes an estimator with a ``transform``
# attribute for a transformer (Pipeline, check_estimator).
OTHER_NAMES = {"loss": ("regression_loss", True), "transform": ("log_transform", False)}


def other_names(init: Callable) -> Callable:
    """``__init__`` that also takes the names of :data:`OTHER_NAMES` (a deprecated one with a
    DeprecationWarning); its signature, which scikit-learn reads, is unchanged."""

    @functools.wraps(init)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> None:
        for other, (name, deprecated) in OTHER_NAMES.items():
            if other not in kwargs:
                continue
            if name in kwargs:
                raise TypeError(f"{other}= and {name}= are one parameter; give one of them")
            if deprecated:
                warnings.warn(
                    f"{other}= is deprecated; use {name}= (the name of its flag, "
                    f"--{name.replace('_', '-')})",
                    DeprecationWarning,
                    stacklevel=2,
                )
            kwargs[name] = kwargs.pop(other)
        init(self, *args, **kwargs)

    return wrapper


class PythonOutOfMemory(OutOfMemory):
    """An :class:`~omicsformer.errors.OutOfMemory` whose line is in the API's terms."""

    def __init__(self, text: str) -> None:
        Exception.__init__(self, text)
        self.text = text

    def __str__(self) -> str:
        return self.text


class OmicsEstimator(BaseEstimator):
    """What the three estimators share: parameters, fitting, saving. Not used directly.

    Parameters
    ----------
    model
        A registered model (``omicsformer models`` lists them): ``logreg``, ``rf``, ``mlp``,
        ``attomics``, ``gene-transformer``, ``hybrid``, ...
    options
        The model's options (``-o key=value`` on the command line), e.g. ``{"n_groups": 20}``.
    log_transform (or transform), impute, top_genes, zscore
        Preprocessing, fitted on the training samples (``--transform``, ``--impute``,
        ``--top-genes``, ``--zscore``): ``none``, ``log1p`` or ``log2p1``; ``none`` or
        ``median``; the most variable genes kept; z-score each gene.
    val_fraction
        Share of the training samples held out for early stopping and model selection of
        neural models (baselines are fitted on every sample given).
    max_epochs, batch_size, lr, weight_decay, patience, monitor, class_weight, device, precision
        The training loop of neural models (``omicsformer train --help``).
    eval_batch_size
        Samples per batch of every pass without a weight update (validation, ``predict``,
        ``predict_proba``, ``embed``); default: the training batch size. Set it on a fitted or
        loaded estimator (``set_params(eval_batch_size=4)``) to predict in smaller batches; an
        out-of-memory error names the size to try.
    augment
        Augmentations of the training data, e.g. ``["noise:sigma=0.2"]``.
    seed
        Seed of the validation split, weight initialisation and batches.
    verbose
        Show per-epoch progress.
    """

    _task: ClassVar[str] = ""
    _target_names: ClassVar[tuple[str, ...]] = ("target",)  # what target= names

    @other_names
    def __init__(
        self,
        model: str = "attomics",
        options: dict[str, Any] | None = None,
        *,
        log_transform: str = "none",
        impute: str = "none",
        top_genes: int | None = None,
        zscore: bool = True,
        val_fraction: float = 0.15,
        max_epochs: int = 100,
        batch_size: int | None = None,
        eval_batch_size: int | None = None,
        lr: float | None = None,
        weight_decay: float = 1e-2,
        patience: int = 8,
        monitor: str = "auto",
        class_weight: str = "balanced",
        device: str = "auto",
        precision: str = "32",
        augment: list[str] | None = None,
        seed: int = 0,
        verbose: bool = False,
    ) -> None:
        self.model = model
        self.options = options
        self.log_transform = log_transform
        self.impute = impute
        self.top_genes = top_genes
        self.zscore = zscore
        self.val_fraction = val_fraction
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.monitor = monitor
        self.class_weight = class_weight
        self.device = device
        self.precision = precision
        self.augment = augment
        self.seed = seed
        self.verbose = verbose

    # ------------------------------------------------------------------------------ config
    def run_config(self, target: list[str] | None = None) -> RunConfig:
        """The :class:`~omicsformer.config.RunConfig` these parameters stand for (validated)."""
        from omicsformer.config import from_dict

        tree: dict[str, Any] = {"task": {"name": self._task}}
        for name, value in self.get_params(deep=False).items():
            path = CONFIG_FIELDS.get(name)
            if path is None or (value is None and name in ("options", "augment", "horizons")):
                continue  # not a run setting, or the run's default
            *parents, leaf = path.split(".")
            node = tree
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
        if target is not None:
            self._set_target(tree, target)
        tree.setdefault("data", {})["source"] = "in-memory data (Python API)"
        return from_dict(RunConfig, tree, "estimator parameters").validate()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True  # made dense, as omicsformer reads .h5ad files
        tags.target_tags.required = True
        tags.non_deterministic = self._family() != "baseline"  # GPU kernels may not be
        return tags

    def _family(self) -> str | None:
        """The model's family (``baseline`` or ``neural``), None for an unknown name (an error
        at fit, not while scikit-learn reads the tags)."""
        from omicsformer.models import MODELS

        return MODELS.get(self.model).family if self.model in MODELS.names() else None

    def _set_target(self, tree: dict[str, Any], columns: list[str]) -> None:
        """Put the target column(s) into a run-configuration mapping."""
        tree.setdefault("data", {})["target"] = columns[0]

    # ------------------------------------------------------------------------------ fit
    @value_errors
    def fit(self, X: Any, y: Any = None, *, target: str | tuple[str, str] | None = None):
        """Fit on samples ``X`` and targets ``y`` (or the ``.obs`` column(s) ``target`` of an
        AnnData); returns self."""
        from omicsformer.models import MODELS
        from omicsformer.models.base import require_task
        from omicsformer.pipeline import fit_split, prepare_cohort, resolve_init, runtime_for

        adata, columns = self._training_data(X, y, target)
        config, pretrained = resolve_init(self.run_config(columns))
        spec = MODELS.get(config.model.name)
        options = spec.validate(config.model.options, config.train)  # parsed once
        require_task(spec, self._task)
        data = prepare_cohort(config, adata)
        split = self._holdout(config, data, spec.family)
        runtime = runtime_for(config, pretrained, progress=self.verbose)
        result = fit_split(config, data, split, runtime, options)
        self._set_fitted(config, result.preprocessor, result.model, result.task_state)
        self.metrics_ = result.metrics
        self.history_ = pd.DataFrame(getattr(result.model, "history", []) or [])
        self._fit_record = (data.without_values(), split, result)
        self._fitted_target(adata.obs[columns])
        if isinstance(X, pd.DataFrame | ad.AnnData):
            self.feature_names_in_ = np.asarray(adata.var_names, dtype=object)
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_  # from an earlier fit on named genes
        return self

    def _training_data(
        self, X: Any, y: Any, target: str | tuple[str, str] | None
    ) -> tuple[ad.AnnData, list[str]]:
        """The AnnData a fit reads, and its target column(s)."""
        adata = as_anndata(X)
        if adata.n_obs < 2:
            raise DataError(f"X has {adata.n_obs} sample: fitting needs at least 2 samples")
        if y is None and target is None:
            raise DataError(
                f"{type(self).__name__} requires y to be passed, but the target y is None (or "
                "give target= naming the .obs column(s) of an AnnData)"
            )
        if y is not None and target is not None:
            raise ConfigError("give the targets either as y or as target=, not both")
        if target is not None:
            if not isinstance(X, ad.AnnData):
                raise ConfigError("target= names .obs columns: X must be an AnnData")
            columns = [target] if isinstance(target, str) else list(target)
            if len(columns) != len(self._target_names):
                raise ConfigError(
                    f"target= must name the column(s) {', '.join(self._target_names)}, "
                    f"got {len(columns)}"
                )
            missing = [c for c in columns if c not in adata.obs.columns]
            if missing:
                raise DataError(f"no .obs column {', '.join(map(repr, missing))} in the AnnData")
            obs = adata.obs[columns]
        else:
            obs = self._target_frame(y, adata.n_obs)
            columns = list(obs.columns)
        data = ad.AnnData(  # the target columns only, and the value scale a reader recorded
            X=adata.X,
            obs=obs.set_axis(adata.obs_names),
            var=pd.DataFrame(index=adata.var_names),
            uns=adata.uns,
        )
        return data, columns

    def _target_frame(self, y: Any, n: int) -> pd.DataFrame:
        """``y`` as the obs column(s) a fit reads: one finite value per sample (a missing
        target is an error here, as in scikit-learn; the command line drops such samples)."""
        from sklearn.utils.validation import check_array, column_or_1d

        values = column_or_1d(np.asarray(y), warn=True)
        if values.dtype.kind in "fiu":
            values = check_array(values, ensure_2d=False, dtype=None, input_name="y")
        if len(values) != n:
            raise DataError(f"y must hold one target per sample ({n}), got {len(values)}")
        return pd.DataFrame({TARGET: values})

    def _holdout(self, config: RunConfig, data: Any, family: str) -> dict[str, np.ndarray]:
        """Train and validation parts of the samples given (no test part: the caller's
        cross-validation makes one). Baselines use every sample."""
        from omicsformer.data.splits import train_val_test_split

        share = config.split.val_fraction if family == "neural" else 0.0
        strata = data.task.strata(data.y, data.target)
        split = train_val_test_split(
            strata,
            val_fraction=share,
            test_fraction=0.0,
            seed=config.seed,
            groups=data.groups(config),
        )
        data.task.check_parts(
            data.y, split, remedy="fit on more samples" + (", or raise val_fraction" * (share > 0))
        )
        return split

    def _set_fitted(self, config: RunConfig, preprocessor, model, task_state) -> None:
        self.config_ = config
        self.preprocessor_ = preprocessor
        self.model_ = model
        self.target_ = model.context.target
        self.task_state_ = task_state
        self.n_features_in_ = len(preprocessor.input_genes)

    def _fitted_target(self, target: pd.DataFrame) -> None:
        """Attributes learnt from the targets themselves (``classes_``)."""

    def _saved_extra(self) -> dict[str, Any]:
        """What ``save`` keeps beside the parameters to give the same estimator back."""
        return {}

    # ------------------------------------------------------------------------------ use
    def _check_fitted(self) -> None:
        from sklearn.utils.validation import check_is_fitted

        msg = "this %(name)s is not fitted yet; call fit (or omicsformer.load)"
        check_is_fitted(self, "model_", msg=msg)

    def _inputs(self, X: Any) -> ad.AnnData:
        """New samples as an AnnData named like the training genes (arrays by position)."""
        self._check_fitted()
        adata = as_anndata(X)
        if not isinstance(X, pd.DataFrame | ad.AnnData):
            from sklearn.utils.validation import validate_data

            try:  # scikit-learn's check of n_features_in_ and its words, as a DataError
                validate_data(self, adata.X, reset=False, skip_check_array=True)
            except ValueError as exc:
                raise DataError(str(exc)) from None
            adata.var_names = self.preprocessor_.input_genes
        return adata

    def _outputs(self, X: Any) -> np.ndarray:
        """The task output for ``X`` (probabilities, risk, values); AnnData gets them in obs."""
        from omicsformer.runs import model_outputs
        from omicsformer.tasks import TASKS

        adata = self._inputs(X)
        self._use_eval_batch()
        into_anndata = isinstance(X, ad.AnnData)
        output, embedding = model_outputs(
            self.preprocessor_, self.model_, adata, embed=into_anndata
        )
        if into_anndata:
            task = TASKS.get(self._task)
            columns = task.prediction_columns(None, output, self.target_, self.task_state_)
            for name, values in columns.items():
                X.obs[_obs_name(name)] = np.asarray(values)
            if embedding is not None:
                X.obsm["X_omicsformer"] = embedding
        return output

    def _use_eval_batch(self) -> None:
        """A network predicts in batches of ``eval_batch_size`` when it is set (also after
        fit or load), else of the size it was fitted with."""
        if self.eval_batch_size is not None and hasattr(self.model_, "eval_batch_size"):
            if self.eval_batch_size < 1:
                raise ConfigError(f"eval_batch_size must be at least 1, got {self.eval_batch_size}")
            self.model_.eval_batch_size = self.eval_batch_size

    def check_embeddable(self) -> None:
        """Raise a ConfigError unless the fitted model gives a patient embedding."""
        self._check_fitted()
        if not hasattr(self.model_, "embed"):
            raise ConfigError(
                f"model {self.config_.model.name!r} gives no patient embedding (neural models do)"
            )

    @value_errors
    def embed(self, X: Any) -> np.ndarray:
        """(N, E) float32: each sample as the network's output layer sees it (neural models);
        an AnnData also gets it in ``.obsm["X_omicsformer"]``."""
        adata = self._inputs(X)
        self.check_embeddable()
        self._use_eval_batch()
        from omicsformer.runs import model_inputs

        embedding = self.model_.embed(model_inputs(self.preprocessor_, self.model_, adata))
        if isinstance(X, ad.AnnData):
            X.obsm["X_omicsformer"] = embedding
        return embedding

    # ------------------------------------------------------------------------------ save
    @value_errors
    def save(self, path: str | Path, *, overwrite: bool = False) -> Path:
        """Write the run folder ``omicsformer train`` writes (config, splits, preprocessing,
        model, predictions and metrics of the training and validation parts); returns it.

        ``overwrite`` replaces a run folder omicsformer made, never another folder."""
        from omicsformer.fileio import write_json
        from omicsformer.runs import run_folder, write_run

        self._check_fitted()
        if not hasattr(self, "_fit_record"):
            raise RunError(f"this estimator was loaded from {self.folder_}; it is saved there")
        labels, split, result = self._fit_record
        output = run_folder(path, overwrite=overwrite)
        output.check()
        with output:
            folder = output.create()
            write_run(folder, self.config_, labels, split, result)
            params = {k: v for k, v in self.get_params(deep=False).items()}
            record: dict[str, Any] = {"estimator": type(self).__name__, "params": params}
            record.update(self._saved_extra())
            write_json(folder / "estimator.json", record)
            return output.publish()


class OmicsClassifier(ClassifierMixin, OmicsEstimator):
    """Predict a class (diagnosis, subtype, response) from an expression profile.

    ``predict`` gives labels as they were given in ``y``, ``predict_proba`` the class
    probabilities in the order of ``classes_``, ``score`` the accuracy (scikit-learn's
    convention; pass ``scoring="balanced_accuracy"`` to its model-selection tools for
    imbalanced cohorts). Parameters: see :class:`OmicsEstimator`.
    """

    _task = "classification"

    def _fitted_target(self, target: pd.DataFrame) -> None:
        """``classes_``: the labels as given (``y`` or the obs column), sorted, so that
        ``predict`` returns the same kind of value."""
        from omicsformer.data.targets import is_missing

        labels = target.iloc[:, 0]
        self.classes_ = np.unique(labels[~is_missing(labels)].to_numpy())

    def _saved_extra(self) -> dict[str, Any]:
        return {"classes": [_plain(c) for c in self.classes_]}

    def _target_frame(self, y: Any, n: int) -> pd.DataFrame:
        from sklearn.utils.multiclass import check_classification_targets

        frame = super()._target_frame(y, n)
        check_classification_targets(frame[TARGET].to_numpy())  # no continuous "classes"
        return frame

    @value_errors
    def predict_proba(self, X: Any) -> np.ndarray:
        """(N, C) class probabilities, columns in the order of ``classes_``."""
        from omicsformer.tasks.classification import class_text

        output = self._outputs(X)
        order = [self.target_.classes.index(t) for t in class_text(pd.Series(self.classes_))]
        return output[:, order]

    @value_errors
    def predict(self, X: Any) -> np.ndarray:
        """(N,) the most probable class of each sample."""
        probabilities = self.predict_proba(X)
        return self.classes_[np.argmax(probabilities, axis=1)]


class OmicsRegressor(RegressorMixin, OmicsEstimator):
    """Predict a quantity (a score, a drug response) from an expression profile.

    ``score`` is R². ``regression_loss``: ``mse`` or ``huber`` for neural models. Other
    parameters: see :class:`OmicsEstimator`.
    """

    _task = "regression"

    @other_names
    def __init__(
        self,
        model: str = "attomics",
        options: dict[str, Any] | None = None,
        *,
        log_transform: str = "none",
        impute: str = "none",
        top_genes: int | None = None,
        zscore: bool = True,
        val_fraction: float = 0.15,
        max_epochs: int = 100,
        batch_size: int | None = None,
        eval_batch_size: int | None = None,
        lr: float | None = None,
        weight_decay: float = 1e-2,
        patience: int = 8,
        monitor: str = "auto",
        class_weight: str = "balanced",
        device: str = "auto",
        precision: str = "32",
        augment: list[str] | None = None,
        seed: int = 0,
        verbose: bool = False,
        regression_loss: str = "mse",
    ) -> None:
        super().__init__(
            model, options, log_transform=log_transform, impute=impute, top_genes=top_genes,
            zscore=zscore, val_fraction=val_fraction, max_epochs=max_epochs,
            batch_size=batch_size, eval_batch_size=eval_batch_size, lr=lr,
            weight_decay=weight_decay, patience=patience,
            monitor=monitor, class_weight=class_weight, device=device, precision=precision,
            augment=augment, seed=seed, verbose=verbose,
        )  # fmt: skip
        self.regression_loss = regression_loss

    @value_errors
    def predict(self, X: Any) -> np.ndarray:
        """(N,) the predicted value of each sample."""
        return np.asarray(self._outputs(X), dtype=float).reshape(-1)


class OmicsSurvival(OmicsEstimator):
    """Predict a risk of an event (death, relapse) over time from an expression profile.

    ``y`` is scikit-survival's structured array (``sksurv.util.Surv.from_arrays(event, time)``:
    a boolean event field and a float time field). ``predict`` gives risk scores (higher: earlier
    event), ``predict_survival`` survival probabilities at given times (Breslow baseline), and
    ``score`` Harrell's concordance index, as scikit-survival does. ``ties``: the Cox
    likelihood's handling of tied times; ``horizons``: times at which survival probabilities are
    reported (default: quartiles of the training event times). Other parameters: see
    :class:`OmicsEstimator`.
    """

    _task = "survival"
    _target_names = ("time", "event")

    def _set_target(self, tree: dict[str, Any], columns: list[str]) -> None:
        tree["task"].update(time=columns[0], event=columns[1])

    @other_names
    def __init__(
        self,
        model: str = "attomics",
        options: dict[str, Any] | None = None,
        *,
        log_transform: str = "none",
        impute: str = "none",
        top_genes: int | None = None,
        zscore: bool = True,
        val_fraction: float = 0.15,
        max_epochs: int = 100,
        batch_size: int | None = None,
        eval_batch_size: int | None = None,
        lr: float | None = None,
        weight_decay: float = 1e-2,
        patience: int = 8,
        monitor: str = "auto",
        class_weight: str = "balanced",
        device: str = "auto",
        precision: str = "32",
        augment: list[str] | None = None,
        seed: int = 0,
        verbose: bool = False,
        ties: str = "breslow",
        horizons: list[float] | None = None,
    ) -> None:
        super().__init__(
            model, options, log_transform=log_transform, impute=impute, top_genes=top_genes,
            zscore=zscore, val_fraction=val_fraction, max_epochs=max_epochs,
            batch_size=batch_size, eval_batch_size=eval_batch_size, lr=lr,
            weight_decay=weight_decay, patience=patience,
            monitor=monitor, class_weight=class_weight, device=device, precision=precision,
            augment=augment, seed=seed, verbose=verbose,
        )  # fmt: skip
        self.ties = ties
        self.horizons = horizons

    def _target_frame(self, y: Any, n: int) -> pd.DataFrame:
        event, time = survival_arrays(y)
        if len(time) != n:
            raise DataError(f"y must hold one (event, time) per sample ({n}), got {len(time)}")
        return pd.DataFrame({SURVIVAL_TARGET[0]: time, SURVIVAL_TARGET[1]: event.astype(int)})

    @value_errors
    def predict(self, X: Any) -> np.ndarray:
        """(N,) risk scores: higher means an earlier event."""
        return np.asarray(self._outputs(X), dtype=float).reshape(-1)

    @value_errors
    def predict_survival(self, X: Any, times: Any = None) -> pd.DataFrame:
        """Survival probabilities, samples x ``times`` (default: the fitted horizons)."""
        from omicsformer.tasks import TASKS

        risk = self.predict(X)
        times = list(self.task_state_["horizons"] if times is None else np.atleast_1d(times))
        probabilities = TASKS.get("survival").survival(risk, self.task_state_, times)
        return pd.DataFrame(probabilities, columns=[float(t) for t in times])

    @value_errors
    def score(self, X: Any, y: Any, sample_weight: Any = None) -> float:
        """Harrell's concordance index of the predicted risk."""
        from sksurv.metrics import concordance_index_censored

        event, time = survival_arrays(y)
        return float(concordance_index_censored(event, time, self.predict(X))[0])


# ---------------------------------------------------------------------------------- helpers
def as_anndata(X: Any) -> ad.AnnData:
    """``X`` (DataFrame, array, AnnData) as a dense float32 AnnData, samples x genes."""
    from sklearn.utils.validation import check_array

    uns: dict[str, Any] = {}
    if isinstance(X, ad.AnnData):
        if X.X is None:
            raise DataError("the AnnData has no .X matrix")
        obs, var, uns, X = X.obs.copy(), pd.DataFrame(index=X.var_names), dict(X.uns), X.X
    elif isinstance(X, pd.DataFrame):
        bad = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
        if bad:
            raise DataError(f"X has non-numeric column(s) {', '.join(map(str, bad[:3]))}")
        obs, var = pd.DataFrame(index=X.index), pd.DataFrame(index=X.columns)
    else:  # an array: samples and genes named by position
        obs = var = None
    # scikit-learn's checks and messages (empty, 1-D, complex, text); NaN is the
    # preprocessing's to judge (an error unless imputing); sparse is made dense
    values = check_array(
        X, accept_sparse=True, dtype=np.float32, ensure_all_finite=False, input_name="X"
    )
    if scipy.sparse.issparse(values):
        values = values.toarray()
    if obs is None:
        obs = pd.DataFrame(index=[str(i) for i in range(values.shape[0])])
        var = pd.DataFrame(index=[f"gene_{j}" for j in range(values.shape[1])])
    obs.index, var.index = obs.index.astype(str), var.index.astype(str)
    if not obs.index.is_unique:
        raise DataError("X has duplicate sample IDs")
    if not var.index.is_unique:
        raise DataError("X has duplicate gene names")
    return ad.AnnData(X=values, obs=obs, var=var, uns=uns)


def survival_arrays(y: Any) -> tuple[np.ndarray, np.ndarray]:
    """(event bool, time float) from scikit-survival's structured array (a boolean field and a
    numeric field, in either order)."""
    values = np.asarray(y)
    names = values.dtype.names
    if names is None or len(names) != 2:
        raise DataError(
            "survival y must be a structured array of (event, time), e.g. "
            "sksurv.util.Surv.from_arrays(event, time)"
        )
    kinds = [values.dtype[n].kind for n in names]
    if "b" not in kinds:
        raise DataError("survival y needs a boolean event field (Surv.from_arrays(event, time))")
    event_field = names[kinds.index("b")]
    time_field = names[1 - kinds.index("b")]
    return values[event_field].astype(bool), values[time_field].astype(float)


def _obs_name(column: str) -> str:
    """The obs column a prediction column is written to."""
    if column == "predicted":
        return "omicsformer_prediction"
    return f"omicsformer_{column}"


def _plain(value: Any) -> Any:
    """A NumPy scalar as the Python value JSON can hold."""
    return value.item() if isinstance(value, np.generic) else value


ESTIMATORS: dict[str, type[OmicsEstimator]] = {
    "classification": OmicsClassifier,
    "regression": OmicsRegressor,
    "survival": OmicsSurvival,
}


def load(run_dir: str | Path) -> OmicsEstimator:
    """The fitted estimator of a run folder (written by ``omicsformer train`` or ``save``)."""
    from omicsformer.runs import describe_file, load_run

    path = Path(run_dir)
    if path.is_file():  # data given where a run was expected: say so in Python's terms
        raise RunError(
            f"{path}: {describe_file(path)}, not a run folder; load() takes the folder that "
            "`omicsformer train` or estimator.save(path) wrote (to read data: "
            "omicsformer.read_data(path), then estimator.predict(data))"
        )
    return from_run(load_run(run_dir))


def from_run(run: Any) -> OmicsEstimator:
    """The fitted estimator of a loaded run (:func:`omicsformer.runs.load_run`)."""
    import inspect

    from omicsformer.fileio import read_json

    cls = ESTIMATORS[run.target.task]
    record_path = run.folder / "estimator.json"
    record = {}
    if record_path.exists():
        record = read_json(record_path)
    allowed = set(inspect.signature(cls.__init__).parameters) - {"self"}
    params = record.get("params") or _params_of(run.config)
    renamed = {old: new for old, (new, deprecated) in OTHER_NAMES.items() if deprecated}
    params = {renamed.get(k, k): v for k, v in params.items()}  # a record saved before a rename
    estimator = cls(**{k: v for k, v in params.items() if k in allowed})
    if estimator.eval_batch_size is not None:  # the run's, unless load_run was given another
        estimator.eval_batch_size = getattr(run.model, "eval_batch_size", None)
    estimator._set_fitted(run.config, run.preprocessor, run.model, run.task_state)
    estimator.folder_ = run.folder
    if cls is OmicsClassifier:
        estimator.classes_ = np.asarray(record.get("classes") or run.target.classes)
    return estimator


def _params_of(config: RunConfig) -> dict[str, Any]:
    """Estimator parameters that stand for ``config`` (a run made by the command line)."""
    params = {}
    for name, path in CONFIG_FIELDS.items():
        node: Any = config
        for part in path.split("."):
            node = getattr(node, part)
        params[name] = copy.deepcopy(node)
    return params
