"""``--data survset:NAME``: SurvSet's gene-expression cohorts, read through the installed package
(the ``survset`` extra, part of ``dev``)."""

import sys

import numpy as np
import pytest

from omicsformer.config import DataConfig, RunConfig
from omicsformer.data.datasets import DATASETS, load_builtin, parse_source
from omicsformer.data.datasets import survset as survset_module
from omicsformer.data.datasets.survset import COHORTS, SurvSetOptions
from omicsformer.data.scale import SCALE_KEY, check_scale
from omicsformer.errors import ConfigError, DataError, MissingDependencyError
from omicsformer.pipeline import make_folds, prepare_data

pytest.importorskip("SurvSet", reason="the survset extra (in dev) is not installed")

CLINICAL_NAMES = {"age", "size", "grade", "erlev", "sex", "group", "debulk"}


@pytest.fixture(scope="module")
def ovarian():
    return load_builtin("survset:dataOvarian1")


def test_data_ovarian1_genes_targets_and_studies(ovarian):
    assert ovarian.shape == (912, 158)
    assert ovarian.X.dtype == np.float32
    assert ovarian.var_names[0] == "ABI3BP" and not ovarian.var_names.str.startswith("num_").any()
    assert {"KRTAP5-8", "TP73-AS1"} <= set(ovarian.var_names)  # SurvSet's '_' back to '-'
    assert list(ovarian.obs.columns) == ["time", "event", "study", "debulking"]
    assert ovarian.obs["event"].sum() == 544 and set(ovarian.obs["event"]) == {0, 1}
    assert ovarian.obs["time"].dtype == float and ovarian.obs["time"].min() >= 0
    assert ovarian.obs["study"].value_counts().to_dict() == {"16": 510, "13": 260, "4": 84, "9": 58}
    assert ovarian.obs_names[0] == "dataOvarian1-0" and ovarian.obs_names.is_unique
    assert ovarian.uns["time_unit"] == "days" and ovarian.uns["dataset"] == "survset"
    # values as shipped: standardized within each study
    x = np.asarray(ovarian.X)[(ovarian.obs["study"] == "9").to_numpy()]
    np.testing.assert_allclose(x.mean(0), 0, atol=1e-4)
    assert DATASETS.get("survset").default_targets == {"survival": ("time", "event")}


def test_the_scale_checks_take_the_values_as_they_are(ovarian):
    assert ovarian.uns[SCALE_KEY] == survset_module.STANDARDIZED
    check_scale(ovarian, "none")  # the default --transform: accepted, no note needed
    with pytest.raises(DataError, match="would log them twice: use --transform none"):
        check_scale(ovarian, "log2p1")


def test_positional_and_key_value_forms_are_the_same():
    a, b = parse_source("survset:dataOvarian1"), parse_source("survset:name=dataOvarian1")
    assert a == b == (DATASETS.get("survset"), SurvSetOptions("dataOvarian1"))


@pytest.mark.parametrize("name", list(COHORTS))
def test_every_cohort_loads_as_declared(name):
    cohort = COHORTS[name]
    adata = load_builtin(f"survset:{name}")
    assert adata.shape == cohort.shape
    assert adata.var_names.is_unique and adata.obs_names.is_unique
    assert not np.isnan(np.asarray(adata.X)).any()
    assert not CLINICAL_NAMES & {g.lower() for g in adata.var_names}  # clinical columns left X
    assert list(adata.obs.columns) == ["time", "event", *cohort.columns]
    assert set(adata.obs["event"]) <= {0, 1} and (adata.obs["time"] >= 0).all()
    assert adata.uns[SCALE_KEY] == cohort.scale
    check_scale(adata, "none")


def test_clinical_codes_become_readable_and_missing():
    gse4335 = load_builtin("survset:gse4335")
    assert gse4335.obs["er"].value_counts().to_dict() == {"positive": 82, "negative": 31}
    assert gse4335.obs["er"].isna().sum() == 2
    assert gse4335.obs["node_status"].isna().sum() == 2  # 'na' and 'x'
    assert {"HLA-A", "HLA-DRB1"} <= set(gse4335.var_names)
    chop = load_builtin("survset:chop")
    assert chop.obs["treatment"].value_counts().to_dict() == {"R-CHOP": 233, "CHOP": 181}
    dlbcl = load_builtin("survset:DLBCL")
    assert dlbcl.var_names[0] == "DLBCL_gene_1"  # numbered genes are the cohort's own


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("survset:GBSG2", "survset data set 'GBSG2' has no gene expression; the expression"),
        ("survset:nope", "unknown survset cohort 'nope'; choose from: dataOvarian1, gse1992"),
        ("survset:dataovarian1", "(did you mean 'dataOvarian1'?)"),
        ("survset", "survset needs a cohort: --data survset:NAME; choose from: dataOvarian1"),
        ("survset:name=gse1992,x=1", "survset takes one parameter, the cohort"),
    ],
)
def test_other_names_are_one_line_listing_the_cohorts(source, message):
    with pytest.raises(ConfigError) as error:
        parse_source(source)
    assert message in str(error.value) and "\n" not in str(error.value)
    assert "phpl04K8a" in str(error.value)


def test_a_missing_package_is_one_line_naming_the_extra(cli, tmp_path, monkeypatch):
    survset_module._loader.cache_clear()
    monkeypatch.setitem(sys.modules, "SurvSet.data", None)  # import fails
    try:
        with pytest.raises(MissingDependencyError, match=r"omicsformer\[survset\]"):
            load_builtin("survset:dataOvarian1")
        result = cli("train", "--data", "survset:dataOvarian1", "--model", "coxph",
                     "--out", tmp_path / "run")  # fmt: skip
    finally:
        survset_module._loader.cache_clear()
    assert result.code == 2
    assert "pip install 'omicsformer[survset]'" in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_leave_one_study_out_keeps_each_study_on_one_side():
    config = RunConfig(data=DataConfig(source="survset:dataOvarian1", group_by="study"))
    data = prepare_data(config)
    study = data.adata.obs["study"].to_numpy()
    for seed in (0, 1):
        folds = make_folds(config, data, 4, seed=seed)
        tested = [set(study[f["test"]]) for f in folds]
        assert sorted(map(sorted, tested)) == [["13"], ["16"], ["4"], ["9"]]  # one study each
        for fold in folds:
            sides = [set(study[fold[part]]) for part in ("train", "val", "test")]
            assert len(sides[1]) == 1  # the validation part: one whole other study
            assert not (sides[0] & sides[1]) and not (sides[0] & sides[2])
            assert not (sides[1] & sides[2])


def test_the_listing_shows_each_cohort(cli):
    result = cli("datasets")
    assert result.code == 0
    assert "78-912" in result.out and "survset:dataOvarian1: 912 x 158" in result.out
    assert all(f"survset:{name}:" in result.out for name in COHORTS)
