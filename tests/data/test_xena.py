"""UCSC Xena matrices: genes x samples, already logged; a second log transform is refused."""

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omicsformer.data.readers import load_data
from omicsformer.data.scale import check_scale, scales_differ
from omicsformer.data.xena import is_xena_matrix, read_xena
from omicsformer.errors import DataError

SAMPLES = ["TCGA-AB-0001-01A", "TCGA-AB-0002-01A", "TCGA-AB-0002-11A", "TCGA-AB-0003-01A"]
GENES = ["ENSG00000000003.15", "ENSG00000000005.6", "ENSG00000000419.13"]


def write_matrix(path: Path, first_cell: str = "Ensembl_ID", scale: float = 1.0) -> np.ndarray:
    """Genes x samples, log2(tpm + 1) values (Xena GDC hub layout), gzipped if .gz."""
    rng = np.random.default_rng(0)
    values = np.log2(rng.gamma(2.0, 20.0, size=(len(GENES), len(SAMPLES))) + 1) * scale
    frame = pd.DataFrame(values, index=pd.Index(GENES, name=first_cell), columns=SAMPLES)
    text = frame.to_csv(sep="\t", float_format="%.6f")
    if path.suffix == ".gz":
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    return values.T


def test_gdc_hub_star_tpm(tmp_path, capsys):
    path = tmp_path / "TCGA-XX.star_tpm.tsv.gz"
    values = write_matrix(path)
    assert is_xena_matrix(path)
    adata = read_xena(path)
    assert list(adata.obs_names) == SAMPLES
    assert list(adata.var_names) == GENES
    np.testing.assert_allclose(adata.X, values, atol=1e-5)
    assert adata.uns["value_scale"] == "log2(x+1)"
    assert "read TCGA-XX.star_tpm.tsv.gz as a UCSC Xena matrix" in capsys.readouterr().err


def test_tcga_hub_file_without_extension(tmp_path):
    path = tmp_path / "HiSeqV2"
    write_matrix(path, first_cell="sample")
    adata = load_data(str(path))  # no --layout needed: the header says genes x samples
    assert adata.shape == (4, 3)
    assert adata.uns["value_scale"] == "log2(x+1)"


def test_repeated_symbols_of_the_tcga_hub_are_aggregated(tmp_path, capsys):
    # HiSeqV2 names genes by symbol and repeats a few; duplicate barcodes stay an error
    path = tmp_path / "HiSeqV2"
    text = "sample\t" + "\t".join(SAMPLES[:2]) + "\nTP53\t1\t2\nSLC35E2\t4\t5\nSLC35E2\t6\t9\n"
    path.write_text(text)
    adata = load_data(str(path), duplicate_genes="max")
    assert list(adata.var_names) == ["TP53", "SLC35E2"]
    assert adata.X.tolist() == [[1.0, 6.0], [2.0, 9.0]]
    assert "1 duplicates aggregated by max" in capsys.readouterr().err
    path.write_text(text.replace(SAMPLES[1], SAMPLES[0]))
    with pytest.raises(DataError, match="duplicate sample IDs"):
        load_data(str(path))


def test_toil_hub_scale_and_an_unknown_name_judged_by_values(tmp_path):
    toil = tmp_path / "tcga_RSEM_gene_tpm.gz"
    write_matrix(toil, first_cell="sample")
    assert read_xena(toil).uns["value_scale"] == "log2(x+0.001)"
    mine = tmp_path / "cohort.tsv"
    write_matrix(mine, first_cell="sample")
    assert read_xena(mine).uns["value_scale"].startswith("log scale (largest value")
    linear = tmp_path / "linear.tsv"
    write_matrix(linear, first_cell="sample", scale=100.0)
    assert read_xena(linear).uns["value_scale"] == "linear"


def test_phenotype_tables_and_plain_matrices_are_not_xena_matrices(tmp_path):
    survival = tmp_path / "TCGA-XX.survival.tsv"
    survival.write_text("sample\tOS\t_PATIENT\tOS.time\nTCGA-AB-0001-01A\t1\tTCGA-AB-0001\t3\n")
    assert not is_xena_matrix(survival)
    plain = tmp_path / "expr.tsv"
    plain.write_text("gene\ts1\ts2\ng1\t1\t2\n")
    assert not is_xena_matrix(plain)


def test_a_second_log_is_refused_in_one_line(tmp_path):
    path = tmp_path / "TCGA-XX.star_counts.tsv.gz"
    write_matrix(path)
    adata = load_data(str(path))
    check_scale(adata, "none")  # fine
    with pytest.raises(DataError) as info:
        check_scale(adata, "log2p1")
    message = str(info.value)
    assert "already on a log2(x+1) scale; --transform log2p1 would log them twice" in message
    assert "use --transform none" in message and "\n" not in message
    with pytest.raises(DataError, match="the run applies --transform log1p"):
        check_scale(adata, "log1p", trained=True)
    # a scale judged by the values already says "scale" (issue 24: "... 7.17) scale")
    adata.uns["value_scale"] = "log scale (largest value 7.17)"
    with pytest.raises(DataError) as info:
        check_scale(adata, "log2p1")
    assert "already on a log scale (largest value 7.17); --transform log2p1" in str(info.value)
    assert "scale) scale" not in str(info.value)


def test_linear_gdc_values_get_a_hint(capsys):
    import anndata as ad

    adata = ad.AnnData(np.ones((2, 2), dtype=np.float32))
    adata.uns["value_scale"] = "linear"
    adata.uns["source"] = "GDC STAR gene counts, column unstranded"
    check_scale(adata, "none")
    assert "--transform log2p1 is the usual choice" in capsys.readouterr().err
    check_scale(adata, "log2p1")  # no error, no hint
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize(
    ("trained", "given", "differ"),
    [
        ("log2(x+1)", "linear", True),
        ("linear", "log scale (largest value 17.2)", True),
        ("log2(x+1)", "log2(x+0.001)", True),
        ("log2(x+1)", "log2(x+1), centred per gene", True),
        ("log2(x+1)", "log2(x+1)", False),
        ("log2(x+1)", "log scale (largest value 17.2)", False),
        ("log scale (largest value 9)", "log scale (largest value 17.2)", False),
        (None, "linear", False),
        ("linear", None, False),
    ],
)
def test_scales_that_are_known_to_differ(trained, given, differ):
    assert scales_differ(trained, given) is differ


def test_a_run_refuses_data_on_another_scale_than_it_was_trained_on(tmp_path):
    path = tmp_path / "TCGA-XX.star_tpm.tsv.gz"
    write_matrix(path)
    xena = load_data(str(path))
    check_scale(xena, "none", trained=True, trained_scale="log2(x+1)")  # fine
    check_scale(xena, "none", trained=True)  # a run saved before the scale was recorded
    with pytest.raises(DataError) as info:
        check_scale(xena, "none", trained=True, trained_scale="linear")
    message = str(info.value)
    assert message.startswith(
        "UCSC Xena matrix TCGA-XX.star_tpm.tsv.gz holds values on a log2(x+1) scale, but the "
        "run was trained on values on a linear scale"
    )
    assert "\n" not in message


def test_xena_matrix_with_survival_table_and_sample_types(tmp_path, capsys):
    matrix = tmp_path / "TCGA-XX.star_tpm.tsv.gz"
    write_matrix(matrix)
    survival = tmp_path / "TCGA-XX.survival.tsv"
    survival.write_text(
        "sample\tOS\t_PATIENT\tOS.time\n"
        "TCGA-AB-0001-01A\t1\tTCGA-AB-0001\t300\n"
        "TCGA-AB-0002-01A\t0\tTCGA-AB-0002\t800\n"
        "TCGA-AB-0002-11A\t0\tTCGA-AB-0002\t800\n"
    )
    adata = load_data(str(matrix), labels=str(survival), obs_columns=["os_time"], sample_types="01")
    assert list(adata.obs_names) == ["TCGA-AB-0001-01A", "TCGA-AB-0002-01A"]
    assert adata.obs["os_time"].tolist() == [300.0, 800.0]
    assert adata.obs["OS"].tolist() == [1, 0]
    err = capsys.readouterr().err
    assert "UCSC Xena survival table, 3 samples" in err
    assert "dropped 1 of 3 samples without overall survival (1 without a clinical row)" in err
