import numpy as np
import pandas as pd
import pytest

from omicsformer.data.preprocess import Preprocessor, check_values
from omicsformer.errors import DataError

GENES = [f"g{i}" for i in range(6)]


@pytest.fixture
def matrix() -> np.ndarray:
    rng = np.random.default_rng(0)
    return (rng.gamma(2.0, 50.0, size=(30, 6))).astype(np.float32)


def test_statistics_come_from_the_training_rows_only(matrix):
    train, test = matrix[:20], matrix[20:] * 10  # test rows on another scale must not matter
    pre = Preprocessor.fit(train, GENES)
    np.testing.assert_allclose(pre.mean, train.mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(pre.scale, train.std(axis=0), rtol=1e-5)
    out = pre.apply(np.vstack([train, test]), GENES)
    np.testing.assert_allclose(out[:20].mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(out[:20].std(axis=0), 1, atol=1e-4)
    assert not np.allclose(out[20:].mean(axis=0), 0, atol=0.5)


@pytest.mark.parametrize(
    ("transform", "fn"), [("log1p", np.log1p), ("log2p1", lambda x: np.log2(1 + x))]
)
def test_log_transforms(matrix, transform, fn):
    pre = Preprocessor.fit(matrix, GENES, transform=transform, zscore=False)
    np.testing.assert_allclose(pre.apply(matrix, GENES), fn(matrix), rtol=1e-5)


def test_top_genes_keeps_the_most_variable_training_genes(matrix):
    x = matrix.copy()
    x[:, 2] *= 100
    x[:, 4] *= 50
    pre = Preprocessor.fit(x, GENES, top_genes=2)
    assert pre.genes == ["g2", "g4"]
    assert pre.apply(x, GENES).shape == (30, 2)


def test_a_selection_needs_only_its_own_genes(matrix):
    """Issue 24: a run fitted with --top-genes asked for every training gene at predict."""
    x = matrix.copy()
    x[:, 2] *= 100
    x[:, 4] *= 50
    pre = Preprocessor.fit(x, GENES, impute="median", top_genes=2)
    assert pre.genes == ["g2", "g4"]
    whole = pre.apply(x, GENES)
    only = x[:, [4, 2]].copy()  # the two genes, another order, the others absent
    np.testing.assert_array_equal(pre.apply(only, ["g4", "g2"]), whole)
    junk = x.copy()
    junk[:, 0] = np.nan  # a gene the model does not use may hold anything
    junk[:, 1] = -5.0
    np.testing.assert_array_equal(pre.apply(junk, GENES), whole)
    logged = Preprocessor.fit(x, GENES, transform="log1p", top_genes=2)
    kept = [GENES.index(g) for g in logged.genes]
    np.testing.assert_array_equal(logged.apply(x[:, kept], logged.genes), logged.apply(x, GENES))
    with pytest.raises(DataError) as info:
        pre.apply(x[:, [0, 1, 2]], GENES[:3])
    assert str(info.value) == "1 of the 2 genes the model uses are missing from the data (e.g. g4)"


def test_constant_gene_gets_scale_one(matrix):
    x = matrix.copy()
    x[:, 1] = 7.0
    pre = Preprocessor.fit(x, GENES)
    assert pre.scale[1] == 1.0
    assert np.all(pre.apply(x, GENES)[:, 1] == 0)


def test_genes_are_realigned_by_name(matrix):
    pre = Preprocessor.fit(matrix, GENES)
    order = [3, 0, 5, 1, 4, 2]
    shuffled = matrix[:, order]
    names = [GENES[i] for i in order]
    np.testing.assert_array_equal(pre.apply(shuffled, names), pre.apply(matrix, GENES))
    extra = np.hstack([matrix, matrix[:, :1]])
    np.testing.assert_array_equal(pre.apply(extra, [*GENES, "unused"]), pre.apply(matrix, GENES))


def test_missing_genes_are_listed(matrix):
    pre = Preprocessor.fit(matrix, GENES)
    with pytest.raises(DataError, match="2 of the 6 genes .* missing .*g4, g5"):
        pre.apply(matrix[:, :4], GENES[:4])


def test_nan_is_an_error_unless_imputed_with_training_medians(matrix):
    x = matrix.copy()
    x[3, 2] = np.nan
    x[5, 1] = np.inf
    with pytest.raises(DataError, match="2 missing or infinite .*--impute median"):
        Preprocessor.fit(x, GENES)
    with pytest.raises(DataError, match="missing or infinite"):
        check_values(x, GENES, "none", "none")
    pre = Preprocessor.fit(x[:20], GENES, impute="median", zscore=False)
    expected = np.median(np.delete(x[:20, 2], 3))
    assert pre.apply(x, GENES)[3, 2] == pytest.approx(expected)
    assert np.isfinite(pre.apply(x, GENES)).all()


def test_negative_values_with_a_log_transform(matrix):
    x = matrix - 100
    with pytest.raises(DataError, match="negative expression value .* --transform none"):
        Preprocessor.fit(x, GENES, transform="log1p")
    with pytest.raises(DataError, match="negative"):
        check_values(x, GENES, "log2p1", "none")
    Preprocessor.fit(x, GENES, transform="none")  # fine without a log


def test_save_and_load_round_trip(tmp_path, matrix):
    pre = Preprocessor.fit(
        matrix[:20], GENES, transform="log1p", top_genes=4, impute="median", value_scale="linear"
    )
    path = tmp_path / "pre.safetensors"
    pre.save(path)
    loaded = Preprocessor.load(path)
    assert loaded.genes == pre.genes and loaded.input_genes == GENES
    assert loaded.value_scale == "linear"
    np.testing.assert_array_equal(loaded.apply(matrix, GENES), pre.apply(matrix, GENES))


def test_a_file_saved_before_the_scale_was_recorded_still_loads(tmp_path, matrix):
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    path = tmp_path / "pre.safetensors"
    Preprocessor.fit(matrix, GENES, value_scale="log2(x+1)").save(path)
    with safe_open(str(path), framework="numpy") as handle:
        meta = handle.metadata()
    assert meta.pop("value_scale") == "log2(x+1)"
    save_file(load_file(str(path)), str(path), metadata=meta)  # as an older version wrote it
    loaded = Preprocessor.load(path)
    assert loaded.value_scale is None
    assert loaded.apply_to(_adata(matrix, "linear")).shape == (30, 6)  # unknown: not refused


def _adata(values, scale):
    import anndata as ad

    adata = ad.AnnData(values.copy(), var=pd.DataFrame(index=GENES))
    adata.uns.update(value_scale=scale, source=f"data on {scale}")
    return adata


def test_new_data_on_another_scale_than_the_training_data_is_refused(matrix):
    # trained on logged Xena values with --transform none; new data as linear GDC TPM
    pre = Preprocessor.fit(np.log2(matrix + 1), GENES, value_scale="log2(x+1)")
    with pytest.raises(DataError) as info:
        pre.apply_to(_adata(matrix, "linear"))
    message = str(info.value)
    assert message == (
        "data on linear holds values on a linear scale, but the run was trained on values on a "
        "log2(x+1) scale; give the data on the scale the run was trained on"
    )
    with pytest.raises(DataError, match="on a log2\\(x\\+0.001\\) scale, but the run was"):
        pre.apply_to(_adata(matrix, "log2(x+0.001)"))
    linear = Preprocessor.fit(matrix, GENES, value_scale="linear")
    with pytest.raises(DataError) as info:
        linear.apply_to(_adata(np.log2(matrix + 1), "log scale (largest value 7.17)"))
    assert str(info.value) == (
        "data on log scale (largest value 7.17) holds values on a log scale (largest value "
        "7.17), but the run was trained on values on a linear scale; give the data on the scale "
        "the run was trained on"
    )
    for scale in ("log2(x+1)", "log scale (largest value 17.2)", None):
        assert pre.apply_to(_adata(np.log2(matrix + 1), scale)).shape == (30, 6)
