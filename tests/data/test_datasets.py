import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score

from omicsformer.data.datasets import DATASETS, load_builtin, parse_source
from omicsformer.data.datasets.synthetic import SyntheticOptions, make_synthetic
from omicsformer.errors import ConfigError, DataError


def test_all_leukemia_shape_and_label_counts():
    adata = load_builtin("all-leukemia")
    assert adata.shape == (128, 12625)
    assert adata.var_names[0] == "1000_at"
    assert adata.obs_names[0] == "01005"
    subtype = adata.obs["subtype"].value_counts().to_dict()
    assert subtype == {"NEG": 74, "BCR/ABL": 37, "ALL1/AF4": 10, "E2A/PBX1": 5}
    assert adata.obs["subtype"].isna().sum() == 2
    assert adata.obs["lineage"].value_counts().to_dict() == {"B": 95, "T": 33}
    assert {"BT", "mol.biol", "relapse", "sex", "age"} <= set(adata.obs.columns)
    x = np.asarray(adata.X)
    assert 1.5 < x.min() and x.max() < 15.0  # RMA log2 scale


def test_dataset_registry_describes_each_dataset():
    for name, spec in DATASETS.items():
        assert spec.source and spec.licence and spec.targets
        for default in spec.default_targets.values():
            key = default if isinstance(default, str) else ", ".join(default)
            assert key in spec.targets, (name, key)


def test_synthetic_is_seeded_and_sized():
    a = make_synthetic(n_samples=50, n_genes=200, seed=7)
    b = make_synthetic(n_samples=50, n_genes=200, seed=7)
    c = make_synthetic(n_samples=50, n_genes=200, seed=8)
    np.testing.assert_array_equal(a.adata.X, b.adata.X)
    assert a.pairs == b.pairs
    assert not np.array_equal(a.adata.X, c.adata.X)
    assert a.adata.shape == (50, 200)
    assert len(a.pairs) == 4
    genes = {g for p in a.pairs for g in (p.a, p.b)}
    assert len(genes) == 8 and genes <= set(a.adata.var_names)
    assert a.adata.uns["planted_pairs"].shape == (4, 2)


def test_synthetic_reaches_60k_genes_and_rejects_more():
    big = make_synthetic(n_samples=8, n_genes=60_000, seed=0)
    assert big.adata.shape == (8, 60_000)
    with pytest.raises(ConfigError, match=r"n_genes: must be in \[1, 60000\], got 60001"):
        make_synthetic(n_genes=60_001)


def test_planted_pairs_drive_the_label_beyond_single_genes():
    data = make_synthetic(n_samples=600, n_genes=300, n_classes=2, n_marginal=0, seed=1)
    x = np.asarray(data.adata.X)
    x = (x - x.mean(0)) / x.std(0)
    y = (data.adata.obs["label"] == "class_1").to_numpy()
    col = {g: i for i, g in enumerate(data.adata.var_names)}
    pair_cols = [(col[p.a], col[p.b]) for p in data.pairs]
    singles = x[:, [i for pair in pair_cols for i in pair]]
    products = np.column_stack([x[:, a] * x[:, b] for a, b in pair_cols])
    model = LogisticRegression(max_iter=2000)
    single_acc = cross_val_score(model, singles, y, cv=5).mean()
    pair_acc = cross_val_score(model, products, y, cv=5).mean()
    assert single_acc < 0.62  # the genes alone carry (almost) nothing
    assert pair_acc > 0.8
    assert pair_acc - single_acc > 0.2


def test_synthetic_options_are_typed_checked_once_and_written_back_as_the_same_text():
    spec, options = parse_source("synthetic:n_samples=60,n_genes=20,noise=0.3,seed=4")
    assert spec.name == "synthetic"
    assert options == SyntheticOptions(n_samples=60, n_genes=20, noise=0.3, seed=4)
    assert options.source == "synthetic:n_samples=60,n_genes=20,noise=0.3,seed=4"
    assert parse_source(options.source)[1] == options
    assert SyntheticOptions().source == "synthetic"
    direct = SyntheticOptions.parse({"n_samples": 60, "n_genes": 20, "noise": 0.3, "seed": 4})
    np.testing.assert_array_equal(direct.generate().adata.X, load_builtin(options.source).X)
    with pytest.raises(DataError, match="has no parameter.*n_cells; valid: n_samples"):
        SyntheticOptions.parse({"n_cells": 3})
    with pytest.raises(ConfigError, match="module_correlation: must be in \\[0, 1\\)"):
        SyntheticOptions.parse({"module_correlation": "1"})
    with pytest.raises(ConfigError, match="n_genes: expected an integer, got 'many'"):
        parse_source("synthetic:n_genes=many")
    with pytest.raises(DataError, match="n_samples must be at least 20"):
        make_synthetic(n_samples=10, n_classes=10)


def test_datasets_without_parameters_refuse_them():
    with pytest.raises(DataError, match="'all-leukemia' has no parameter.*; valid: \\(none\\)"):
        parse_source("all-leukemia:n=3")
