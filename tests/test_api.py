"""The Python API: scikit-learn's estimator contract, AnnData in and out, run folders both ways."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sksurv.util import Surv

import omicsformer
from omicsformer import OmicsClassifier, OmicsformerError, OmicsRegressor, OmicsSurvival
from omicsformer.api import CONFIG_FIELDS, ESTIMATORS
from omicsformer.config import RunConfig

DOCS = Path(__file__).parents[1] / "docs" / "python-api.md"
FAST_LOGREG = {"C": [1.0]}  # no inner search: the contract, not the model, is under test


def cohort(n: int = 60, genes: int = 12, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Samples x genes and a class that depends on two genes."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, genes)).astype(np.float32)
    return x, np.where(x[:, 0] + x[:, 1] > 0, "tumour", "normal")


@pytest.mark.slow
def test_docs_example_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (code,) = re.findall(r"```python\n(.*?)```", DOCS.read_text(), flags=re.S)
    exec(compile(code, str(DOCS), "exec"), {"run_dir": tmp_path})
    out = capsys.readouterr().out
    assert "balanced accuracy:" in out and "embedding: (32," in out
    assert "'omicsformer_prediction'" in out
    assert (tmp_path / "attomics-run" / "omicsformer.json").is_file()


@pytest.mark.parametrize("cls", ESTIMATORS.values(), ids=lambda c: c.__name__)
def test_parameters_are_run_settings_with_the_same_defaults(cls: type) -> None:
    defaults = RunConfig()
    for name, parameter in inspect.signature(cls.__init__).parameters.items():
        if name in ("self", "verbose"):
            continue
        assert name in CONFIG_FIELDS, f"{cls.__name__}({name}) is not a run setting"
        node = defaults
        for part in CONFIG_FIELDS[name].split("."):
            node = getattr(node, part)
        expected = {"model": "attomics"}.get(name, node)  # the estimators' default model
        given = parameter.default
        if given is None and isinstance(expected, list | dict):
            given = type(expected)()  # None stands for an empty list / mapping
        assert given == expected, f"{cls.__name__}({name}={given!r}) but the run has {expected!r}"
    estimator = cls(top_genes=5, max_epochs=3)
    config = estimator.run_config(["a", "b"] if cls is OmicsSurvival else ["a"])
    assert config.preprocess.top_genes == 5 and config.train.max_epochs == 3


def test_a_parameter_carries_its_flags_name() -> None:
    """A parameter with a flag is named like it, or takes the flag's name too: ``transform=``
    is ``log_transform`` (scikit-learn reserves a ``transform`` attribute for transformers)."""
    from omicsformer.api import OTHER_NAMES
    from omicsformer.config import settings

    takes = {name: other for other, (name, _) in OTHER_NAMES.items()}
    named_otherwise = {"options": "-o", "zscore": "--no-zscore"}
    for name, path in CONFIG_FIELDS.items():
        *sections, leaf = path.split(".")
        node = RunConfig()
        for section in sections:
            node = getattr(node, section)
        (declared,) = settings(type(node), [leaf])
        if declared.flag is None or name in named_otherwise:
            continue
        spelled = declared.flag.removeprefix("--").replace("-", "_")
        assert spelled in (name, takes.get(name)), (name, declared.flag)


def test_the_flags_name_and_an_old_name_are_taken_too() -> None:
    estimator = OmicsRegressor("ridge", transform="log1p")
    assert estimator.get_params()["log_transform"] == "log1p"
    assert OmicsClassifier(**{"transform": "log2p1"}).run_config(["a"]).preprocess.transform == (
        "log2p1"
    )
    with pytest.warns(DeprecationWarning, match="loss= is deprecated; use regression_loss="):
        assert OmicsRegressor(loss="huber").regression_loss == "huber"
    with pytest.raises(TypeError, match="are one parameter"):
        OmicsClassifier(transform="none", log_transform="log1p")
    with pytest.raises(TypeError):
        OmicsClassifier(tansform="none")


@pytest.mark.slow
@pytest.mark.parametrize(
    "estimator",
    [OmicsClassifier("logreg", FAST_LOGREG), OmicsRegressor("ridge", {"alpha": [1.0]})],
    ids=["classifier", "regressor"],
)
def test_scikit_learn_estimator_checks(estimator) -> None:
    from sklearn.utils.estimator_checks import check_estimator

    not_applicable = {
        "check_class_weight_classifiers": "class_weight is 'balanced' or 'none', not a dict",
    }
    results = check_estimator(estimator, expected_failed_checks=not_applicable, on_fail=None)
    failed = [
        (r["check_name"], str(r["exception"])[:200]) for r in results if r["status"] == "failed"
    ]
    assert not failed
    assert sum(r["status"] == "passed" for r in results) > 40


@pytest.mark.slow
def test_classifier_in_scikit_learn_tools() -> None:
    x, y = cohort()
    folds = KFold(3, shuffle=True, random_state=0)
    scores = cross_val_score(OmicsClassifier("logreg", FAST_LOGREG), x, y, cv=folds)
    assert scores.shape == (3,) and scores.mean() > 0.7  # two informative genes of twelve
    search = GridSearchCV(
        OmicsClassifier("mlp", max_epochs=2), {"options": [{"hidden": [8]}, {"hidden": [16]}]}, cv=2
    ).fit(x, y)
    assert search.best_params_["options"]["hidden"] in ([8], [16])
    pipe = Pipeline([("scale", StandardScaler()), ("clf", OmicsClassifier("mlp", max_epochs=2))])
    assert pipe.fit(x, y).predict(x).shape == (60,)


def test_labels_come_back_as_given_and_probabilities_follow_classes() -> None:
    x, _ = cohort()
    y = (x[:, 0] > 0).astype(int) * 10 + 2  # 2 and 12: text order would swap them
    clf = OmicsClassifier("logreg", FAST_LOGREG).fit(x, y)
    assert list(clf.classes_) == [2, 12] and clf.classes_.dtype.kind == "i"
    proba = clf.predict_proba(x)
    assert np.array_equal(clf.predict(x), clf.classes_[proba.argmax(axis=1)])
    assert np.mean(proba[:, 1][y == 12]) > np.mean(proba[:, 1][y == 2])


def test_anndata_in_and_out(tmp_path: Path) -> None:
    x, y = cohort()
    genes = [f"g{i}" for i in range(x.shape[1])]
    adata = ad.AnnData(
        x,
        obs=pd.DataFrame({"dx": y}, index=[f"p{i}" for i in range(60)]),
        var=pd.DataFrame(index=genes),
    )
    clf = OmicsClassifier("mlp", {"hidden": [8]}, max_epochs=2).fit(adata, target="dx")
    assert list(clf.feature_names_in_) == genes
    labels = clf.predict(adata)
    assert (adata.obs["omicsformer_prediction"].to_numpy() == labels).all()
    assert {"omicsformer_prob_normal", "omicsformer_prob_tumour"} <= set(adata.obs.columns)
    assert adata.obsm["X_omicsformer"].shape == (60, 8)
    # genes are realigned by name: a shuffled DataFrame predicts the same
    shuffled = adata.to_df()[genes[::-1]]
    assert np.array_equal(clf.predict(shuffled), labels)
    with pytest.raises(OmicsformerError, match="missing from the data"):
        clf.predict(shuffled.drop(columns="g3"))
    twice = ad.AnnData(x, var=pd.DataFrame(index=[*genes[:-1], "g0"]))  # anndata warns only
    with pytest.raises(ValueError, match="duplicate gene names"):
        clf.predict(twice)


def test_survival_estimator() -> None:
    x, _ = cohort(n=80)
    rng = np.random.default_rng(1)
    time = rng.exponential(np.exp(-x[:, 0]))  # gene 0 raises the hazard
    event = rng.random(80) < 0.8
    y = Surv.from_arrays(event, time)
    model = OmicsSurvival("coxph", {"l1_ratio": 0.5}, seed=0)
    scores = cross_val_score(model, x, y, cv=KFold(3, shuffle=True, random_state=0))
    assert scores.mean() > 0.6  # Harrell's C of a model that finds gene 0
    search = GridSearchCV(model, {"top_genes": [4, 12]}, cv=2).fit(x, y)
    assert search.best_params_["top_genes"] in (4, 12)
    fitted = model.fit(x, y)
    curves = fitted.predict_survival(x[:3], times=[0.5, 1.0])
    assert curves.shape == (3, 2) and (np.diff(curves.to_numpy(), axis=1) <= 0).all()
    adata = ad.AnnData(
        x, obs=pd.DataFrame({"t": time, "e": event.astype(int)}, index=map(str, range(80)))
    )
    OmicsSurvival("coxph", {"l1_ratio": 0.5}).fit(adata, target=("t", "e")).predict(adata)
    assert "omicsformer_risk" in adata.obs


def test_regressor_and_bad_input() -> None:
    x, _ = cohort()
    y = 2 * x[:, 0] + 1
    reg = OmicsRegressor("ridge", {"alpha": [1.0]}).fit(x, y)
    assert reg.score(x, y) > 0.8
    with pytest.raises(ValueError, match="expecting 12 features"):
        reg.predict(x[:, :5])
    with pytest.raises(OmicsformerError, match="requires y"):
        OmicsRegressor("ridge").fit(x)
    with pytest.raises(OmicsformerError, match="does not support the regression task"):
        OmicsRegressor("logreg").fit(x, y)
    with pytest.raises(ValueError, match="not one of"):
        OmicsRegressor("ridge", log_transform="log10").fit(x, y)


@pytest.mark.slow
def test_save_and_load_both_ways(tmp_path: Path, cli, tiny_files) -> None:
    x, y = cohort()
    y = (x[:, 0] > 0).astype(int)
    clf = OmicsClassifier("mlp", {"hidden": [8]}, max_epochs=2, seed=3).fit(x, y)
    folder = clf.save(tmp_path / "api-run")
    for name in ("config.yaml", "splits.json", "preprocess.safetensors", "model", "metrics.json"):
        assert (folder / name).exists(), name
    again = omicsformer.load(folder)
    assert again.get_params() == clf.get_params()
    assert np.array_equal(again.predict(x), clf.predict(x)) and again.classes_.dtype.kind == "i"
    with pytest.raises(OmicsformerError, match="only a folder omicsformer made|already exists"):
        clf.save(tmp_path / "api-run")
    # a folder the command line wrote: predictions equal its own predictions.csv
    run = tmp_path / "cli-run"
    data = ["--data", tiny_files["csv"], "--labels", tiny_files["labels"], "--target", "label"]
    done = cli("train", *data, "--model", "mlp", "--max-epochs", "2", "--out", run)
    assert done.code == 0, done.err
    loaded = omicsformer.load(run)
    assert isinstance(loaded, OmicsClassifier) and loaded.get_params()["model"] == "mlp"
    saved = pd.read_csv(run / "predictions.csv", dtype={"predicted": str})
    frame = pd.read_csv(tiny_files["csv"], index_col=0)
    assert (loaded.predict(frame.loc[saved["sample_id"]]) == saved["predicted"]).all()


@pytest.mark.slow
def test_embed_command(tmp_path: Path, cli, tiny_files) -> None:
    run = tmp_path / "run"
    common = ["--data", tiny_files["csv"], "--labels", tiny_files["labels"]]
    assert cli("train", *common, "--target", "label", "--model", "mlp", "-o", "hidden=16",
               "--max-epochs", "2", "--out", run).code == 0  # fmt: skip
    out = tmp_path / "embedded.h5ad"
    done = cli("embed", run, *common, "--out", out)
    assert done.code == 0, done.err
    embedded = ad.read_h5ad(out)
    assert embedded.obsm["X_omicsformer"].shape == (60, 16)
    assert "omicsformer_prediction" in embedded.obs and embedded.n_vars == 40
    again = cli("embed", run, *common, "--out", out)
    assert again.code == 2 and "already exists" in again.err
    assert cli("embed", run, *common, "--out", tmp_path / "x.csv").code == 2
    lr = tmp_path / "lr"
    assert cli("train", *common, "--target", "label", "--model", "logreg", "-o", "C=1",
               "--out", lr).code == 0  # fmt: skip
    refused = cli("embed", lr, *common, "--out", tmp_path / "lr.h5ad")
    assert refused.code == 2 and "gives no patient embedding" in refused.err
    assert not (tmp_path / "lr.h5ad").exists()


def test_baseline_with_smote_and_a_refused_batch_augmentation() -> None:
    x, y = cohort(n=60)
    y = np.where(np.arange(60) < 8, "rare", y)  # a small third class for SMOTE to fill up
    model = OmicsClassifier(model="logreg", options=FAST_LOGREG, augment=["smote:k=2"]).fit(x, y)
    assert model.predict_proba(x).shape == (60, 3)
    with pytest.raises(OmicsformerError, match="noise augment.*'logreg' is not trained in batches"):
        OmicsClassifier(model="logreg", options=FAST_LOGREG, augment=["noise"]).fit(x, y)


def test_messages_speak_python_not_flags(tmp_path: Path) -> None:
    """Issue 24: the API told a Python user to "use --impute median"; load() on an .h5ad said
    "run folder not found"."""
    from omicsformer.api import python_terms

    x, y = cohort()
    x[3, 2] = np.nan
    with pytest.raises(ValueError) as caught:
        OmicsClassifier("logreg", FAST_LOGREG).fit(x, y)
    assert 'use impute="median" to fill them' in str(caught.value)
    assert "--" not in str(caught.value)
    with pytest.raises(ValueError, match="^top_genes: must be at least 1, got 0$"):
        OmicsClassifier("logreg", FAST_LOGREG, top_genes=0).fit(cohort()[0], y)
    with pytest.raises(ValueError, match="^monitor='xx' is not a classification metric"):
        OmicsClassifier("mlp", monitor="xx").fit(cohort()[0], y)
    assert python_terms(
        "try --batch-size 4 (or lower memory: --precision bf16-mixed, -o checkpointing=true, "
        "an approximate --attention); --transform log2p1 would log them twice: use --transform "
        "none; --grouping go-bp; use --force to replace it; --gene-id keep"
    ) == (
        'try batch_size=4 (or lower memory: precision="bf16-mixed", options={"checkpointing": '
        'True}, an approximate options["attention"]); log_transform="log2p1" would log them '
        'twice: use log_transform="none"; options={"grouping": "go-bp"}; use overwrite=True to '
        "replace it; --gene-id keep"
    )

    data = tmp_path / "cohort.h5ad"
    ad.AnnData(cohort()[0]).write_h5ad(data)
    with pytest.raises(OmicsformerError) as caught:
        omicsformer.load(data)
    assert str(caught.value) == (
        f"{data}: an AnnData file (.h5ad), not a run folder; load() takes the folder that "
        "`omicsformer train` or estimator.save(path) wrote (to read data: "
        "omicsformer.read_data(path), then estimator.predict(data))"
    )
    with pytest.raises(OmicsformerError, match="nowhere: run folder not found"):
        omicsformer.load(tmp_path / "nowhere")


def test_a_survival_fit_with_too_few_events_is_refused_in_python_terms() -> None:
    x, _ = cohort(n=40)
    time = np.arange(1.0, 41.0)
    event = np.arange(40) % 10 == 0  # 4 events: 1 in the validation part
    with pytest.raises(ValueError) as caught:
        OmicsSurvival("mlp", max_epochs=1).fit(x, Surv.from_arrays(event, time))
    assert str(caught.value).startswith("too few events to score survival: val part 1 event")
    assert str(caught.value).endswith(
        "(4 events in 40 patients: fit on more samples, or raise val_fraction)"
    )
