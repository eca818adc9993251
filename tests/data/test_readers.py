from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from omicsformer.data.readers import join_labels, load_data, read_expression, read_table
from omicsformer.errors import DataError


@pytest.mark.parametrize("kind", ["csv", "tsv_gz", "parquet"])
def test_samples_by_genes_readers_give_the_same_matrix(tiny_files, tiny, kind):
    adata = read_expression(tiny_files[kind])
    assert adata.shape == tiny.shape
    assert list(adata.obs_names) == list(tiny.frame.index)
    assert list(adata.var_names) == list(tiny.frame.columns)
    np.testing.assert_allclose(adata.X, tiny.frame.to_numpy(), rtol=1e-6)
    assert adata.X.dtype == np.float32


def test_genes_by_samples_layout_is_transposed(tiny_files, tiny):
    adata = read_expression(tiny_files["genes_by_samples"], layout="genes-by-samples")
    assert adata.shape == tiny.shape
    assert list(adata.obs_names) == list(tiny.frame.index)
    np.testing.assert_allclose(adata.X, tiny.frame.to_numpy(), rtol=1e-6)


def test_h5ad_reads_x_or_a_layer(tmp_path, tiny):
    obs = pd.DataFrame({"label": tiny.labels.to_numpy()}, index=tiny.frame.index.astype(str))
    adata = ad.AnnData(X=tiny.frame.to_numpy(), obs=obs, var=pd.DataFrame(index=tiny.frame.columns))
    adata.layers["counts"] = np.round(np.exp2(tiny.frame.to_numpy()))
    path = tmp_path / "cohort.h5ad"
    adata.write_h5ad(path)
    loaded = read_expression(path)
    np.testing.assert_allclose(loaded.X, tiny.frame.to_numpy(), rtol=1e-6)
    assert list(loaded.obs["label"]) == list(obs["label"])
    counts = read_expression(path, layer="counts")
    np.testing.assert_allclose(counts.X, adata.layers["counts"], rtol=1e-6)
    with pytest.raises(DataError, match="no layer 'raw'; available layers: counts"):
        read_expression(path, layer="raw")


def test_sample_ids_keep_leading_zeros(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("id,g1,g2\n01005,1,2\n01010,3,4\n")
    assert list(read_expression(path).obs_names) == ["01005", "01010"]
    labels = tmp_path / "l.csv"
    labels.write_text("id,y\n01005,a\n01010,b\n")
    assert list(read_table(labels).index) == ["01005", "01010"]


def test_labels_are_joined_by_sample_id_in_any_order(tiny_files, tiny):
    adata = load_data(str(tiny_files["csv"]), labels=str(tiny_files["labels"]))
    assert list(adata.obs["label"]) == list(tiny.labels)


def test_labels_with_a_named_id_column(tmp_path, tiny_files, tiny):
    table = pd.read_csv(tiny_files["labels"])
    table.insert(0, "other", range(len(table)))
    table = table.rename(columns={"sample": "patient"}).iloc[::-1]
    path = tmp_path / "clinical.tsv"
    table.to_csv(path, sep="\t", index=False)
    adata = load_data(str(tiny_files["csv"]), labels=str(path), sample_id="patient")
    assert list(adata.obs["label"]) == list(tiny.labels)
    with pytest.raises(DataError, match="no sample-ID column 'nope'"):
        read_table(path, sample_id="nope")


def test_labels_rows_of_one_sample_merge_when_equal_and_are_refused_when_not(tmp_path, capsys):
    path = tmp_path / "labels.csv"
    path.write_text("sample,time,event\ns1,100,1\ns2,50,0\ns1,100,1\ns3,70,1\ns2,50,0\n")
    table = read_table(path)
    assert list(table.index) == ["s1", "s2", "s3"] and table["time"].tolist() == [100, 50, 70]
    err = capsys.readouterr().err
    assert "labels.csv: 2 rows repeat an earlier row of the same sample exactly; merged (3 " in err
    path.write_text("sample,time,event\ns1,100,1\ns2,50,0\ns1,9999,0\ns2,50,1\n")
    with pytest.raises(DataError) as info:
        read_table(path)
    assert str(info.value) == (
        f"{path}: 2 samples have rows that disagree: s1 on 'time' (100 vs 9999), 'event' "
        "(1 vs 0) (also s2); keep one row per sample"
    )


def test_target_column_inside_the_matrix_moves_to_obs(tmp_path, tiny):
    frame = tiny.frame.copy()
    frame.insert(0, "diagnosis", tiny.labels.to_numpy())
    path = tmp_path / "with_label.csv"
    frame.to_csv(path)
    adata = read_expression(path, obs_columns=["diagnosis"])
    assert adata.n_vars == tiny.frame.shape[1]
    assert list(adata.obs["diagnosis"]) == list(tiny.labels)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("id,g1,g2\ns1,1,2\ns1,3,4\n", "duplicate sample IDs .*s1"),
        ("id,g1,g1\ns1,1,2\ns2,3,x\n", "non-numeric value 'x' at sample 's2', gene 'g1'"),
        ("id,g1,g2\ns1,1,abc\ns2,3,4\n", "non-numeric value 'abc' at sample 's1', gene 'g2'"),
        ("id,g1,g2\n", "no data rows"),
        # found by the property tests (issue 24): a sample "NA" became "nan", an empty header
        # cell a gene "nan", a short header pandas' "Length mismatch: Expected axis has ..."
        ("id,g1,g2\nNA,1,2\ns2,3,4\n", "1 row has no ID in the first column \\(empty or NA; "),
        ("id,g1,,g3\ns1,1,2,3\n", "1 header cell is empty \\(column 3\\); every column needs"),
        ("id,g1\ns1,1,2\ns2,3,4\n", "the header has 2 cells but the rows have 3 \\(a header"),
        # pandas ended a cell at a NUL byte: sample "s\x002" was read as "s"
        ("id,g1,g2\ns1,1,2\ns\x002,3,4\n", "a NUL byte at byte 17: a binary or damaged file"),
    ],
)
def test_bad_matrices_raise_one_clear_error(tmp_path, content, message):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=message):
        read_expression(path)


@pytest.mark.parametrize(
    ("name", "layout", "content"),
    [
        ("expr.csv", "samples-by-genes", "id,TP53,BRCA1,TP53\ns1,1,5,3\ns2,2,6,\n"),
        ("expr.tsv", "genes-by-samples", "gene\ts1\ts2\nTP53\t1\t2\nBRCA1\t5\t6\nTP53\t3\t\n"),
        ("expr.h5ad", "samples-by-genes", None),
    ],
)
@pytest.mark.parametrize(
    ("rule", "tp53"), [("mean", [2.0, 2.0]), ("sum", [4.0, 2.0]), ("first", [1.0, 2.0])]
)
def test_repeated_genes_are_aggregated_by_the_rule_and_counted(
    tmp_path, capsys, recwarn, name, layout, content, rule, tp53
):
    # symbol-named matrices repeat a few symbols; duplicate samples stay an error
    path = tmp_path / name
    if content is None:
        x = np.array([[1, 5, 3], [2, 6, np.nan]], dtype=np.float32)
        var = pd.DataFrame(index=["TP53", "BRCA1", "TP53"])
        with pytest.warns(UserWarning, match="Variable names are not unique"):
            ad.AnnData(X=x, obs=pd.DataFrame(index=["s1", "s2"]), var=var).write_h5ad(path)
    else:
        path.write_text(content)
    adata = load_data(str(path), layout=layout, duplicate_genes=rule)
    assert list(adata.var_names) == ["TP53", "BRCA1"]
    np.testing.assert_array_equal(adata.X[:, 0], tp53)  # the missing value skipped
    np.testing.assert_array_equal(adata.X[:, 1], [5.0, 6.0])
    assert f"1 duplicates aggregated by {rule}" in capsys.readouterr().err
    assert not [w for w in recwarn if "not unique" in str(w.message)]  # expected, not warned
    with pytest.raises(DataError, match="duplicate gene IDs \\(1 in all\\): TP53; they are"):
        load_data(str(path), layout=layout, gene_id=None)  # read as written: nothing aggregates


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (np.ones((2, 2), dtype=complex), "the expression values \\(X\\) are complex numbers"),
        (np.eye(2, dtype=bool), "the expression values \\(X\\) are true/false values"),
    ],
)
def test_an_h5ad_of_values_that_are_not_real_numbers_is_refused(tmp_path, values, message):
    """Complex values lost their imaginary part without a word; booleans became 0 and 1."""
    path = tmp_path / "x.h5ad"
    ad.AnnData(X=values, var=pd.DataFrame(index=["g1", "g2"])).write_h5ad(path)
    with pytest.raises(DataError, match=message):
        read_expression(path)


def test_missing_empty_and_unsupported_files(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_expression(tmp_path / "absent.csv")
    empty = tmp_path / "empty.csv"
    empty.touch()
    with pytest.raises(DataError, match="file is empty"):
        read_expression(empty)
    odd = tmp_path / "matrix.xlsx"
    odd.write_text("x")
    with pytest.raises(DataError, match="unsupported file type .xlsx"):
        read_expression(odd)


def test_no_matching_ids_says_how_many_match(tiny_files, tmp_path):
    labels = tmp_path / "other.csv"
    labels.write_text("sample,label\nX1,a\nX2,b\n")
    with pytest.raises(DataError, match="none of the 60 matrix sample IDs match the 2 IDs"):
        load_data(str(tiny_files["csv"]), labels=str(labels))


def test_partial_label_match_keeps_unmatched_samples_without_target(tiny_files, tmp_path):
    table = pd.read_csv(tiny_files["labels"]).iloc[:45]
    path = tmp_path / "part.csv"
    table.to_csv(path, index=False)
    adata = join_labels(read_expression(tiny_files["csv"]), read_table(path), path)
    assert adata.n_obs == 60
    assert adata.obs["label"].notna().sum() == 45


def test_unknown_source_lists_builtin_datasets():
    with pytest.raises(
        DataError, match="built-in datasets: all-leukemia, breast-gse7390, survset, synthetic"
    ):
        load_data("no-such-dataset")


def test_builtin_parameters_are_typed_and_checked():
    adata = load_data("synthetic:n_samples=30,n_genes=25,n_modules=1,module_size=5")
    assert adata.shape == (30, 25)
    with pytest.raises(DataError, match="has no parameter"):
        load_data("synthetic:n_cells=3")


def test_paths_are_accepted_as_path_objects(tiny_files):
    assert read_expression(Path(tiny_files["csv"])).n_obs == 60
