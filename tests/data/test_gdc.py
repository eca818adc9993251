"""GDC download folders: STAR gene-count files + sample sheet -> one samples x genes matrix."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omicsformer.data import tcga
from omicsformer.data.gdc import find_sample_sheet, is_gdc_folder, read_gdc_folder
from omicsformer.data.readers import load_data
from omicsformer.errors import DataError
from tests.data.tcga_files import star_text, write_gdc_folder

COUNTS = {
    "TCGA-AB-0001-01A": np.arange(10, 20, dtype=float) * 10,
    "TCGA-AB-0001-11A": np.arange(20, 30, dtype=float) * 10,
    "TCGA-AB-0002-01A": np.arange(30, 40, dtype=float) * 10,
}
REPLICATES = (np.full(10, 100.0), np.full(10, 300.0))  # TCGA-AB-0003-01A, two aliquots


@pytest.fixture
def gdc_folder(tmp_path: Path) -> Path:
    files = [*COUNTS.items(), *(("TCGA-AB-0003-01A", r) for r in REPLICATES)]
    write_gdc_folder(tmp_path / "gdc", files)
    return tmp_path / "gdc"


def test_folder_is_found_by_its_sample_sheet(gdc_folder, tmp_path):
    assert find_sample_sheet(gdc_folder).name == "gdc_sample_sheet.2024-05-01.tsv"
    assert is_gdc_folder(gdc_folder)
    assert not is_gdc_folder(tmp_path)
    # a sheet under another name is recognised by its header
    sheet = find_sample_sheet(gdc_folder)
    sheet.rename(gdc_folder / "my_samples.tsv")
    assert find_sample_sheet(gdc_folder).name == "my_samples.tsv"


def test_counts_are_read_per_sample_with_n_rows_dropped(gdc_folder, capsys):
    adata = read_gdc_folder(gdc_folder, column="unstranded")
    assert list(adata.obs_names) == [*COUNTS, "TCGA-AB-0003-01A"]
    assert adata.n_vars == 10
    assert not any(g.startswith("N_") for g in adata.var_names)
    assert adata.var_names[0] == "ENSG00000000003.4"  # versioned Ensembl IDs kept
    assert list(adata.var.columns) == ["gene_name", "gene_type"]
    for sample, counts in COUNTS.items():
        np.testing.assert_array_equal(adata[sample].X.ravel(), counts)
    # the two aliquots of one sample are averaged, and that is said
    np.testing.assert_array_equal(adata["TCGA-AB-0003-01A"].X.ravel(), np.full(10, 200.0))
    assert list(adata.obs["n_files"]) == [1, 1, 1, 2]
    err = capsys.readouterr().err
    assert "1 samples have several files (2 files in all" in err and "averaged" in err
    assert "read 5 GDC STAR files (unstranded): 4 samples of 3 patients x 10 genes" in err
    assert adata.uns["value_scale"] == "linear"


def test_obs_keeps_patient_and_sample_type(gdc_folder):
    adata = read_gdc_folder(gdc_folder)
    obs = adata.obs
    assert list(obs["patient"]) == ["TCGA-AB-0001", "TCGA-AB-0001", "TCGA-AB-0002", "TCGA-AB-0003"]
    assert list(obs["sample_type_code"]) == ["01", "11", "01", "01"]
    assert list(obs["sample_type"])[:2] == ["Primary Tumor", "Solid Tissue Normal"]
    assert set(obs["project"]) == {"TCGA-XX"}


@pytest.mark.parametrize(
    ("column", "divisor"),
    [
        ("unstranded", 1),
        ("tpm_unstranded", 10),
        ("fpkm_unstranded", 20),
        ("fpkm_uq_unstranded", 40),
    ],
)
def test_each_value_column(gdc_folder, column, divisor):
    adata = read_gdc_folder(gdc_folder, column=column)
    expected = COUNTS["TCGA-AB-0002-01A"] / divisor
    np.testing.assert_allclose(adata["TCGA-AB-0002-01A"].X.ravel(), expected, rtol=1e-4)


def test_default_column_is_tpm(gdc_folder):
    adata = read_gdc_folder(gdc_folder)
    np.testing.assert_allclose(adata["TCGA-AB-0001-01A"].X.ravel(), COUNTS["TCGA-AB-0001-01A"] / 10)
    assert "tpm_unstranded" in adata.uns["source"]


@pytest.mark.parametrize("column", ["tpm", "gene_name", "gene_id", "gene_type"])
def test_unknown_column_lists_the_available_ones(gdc_folder, column):
    # the gene columns are not value columns: gene_name once ended in "non-numeric value
    # 'TSPAN6'", gene_id in a column read twice
    with pytest.raises(DataError) as info:
        read_gdc_folder(gdc_folder, column=column)
    message = str(info.value)
    assert f"unknown --gdc-column {column!r}; the value columns of " in message
    for name in ("unstranded", "stranded_first", "tpm_unstranded", "fpkm_uq_unstranded"):
        assert name in message
    assert "gene_" not in message.split("are: ")[1]
    assert "\n" not in message


def test_missing_files_are_counted_and_named(gdc_folder):
    sheet = pd.read_csv(find_sample_sheet(gdc_folder), sep="\t")
    for _, row in sheet.iloc[[0, 2]].iterrows():
        (gdc_folder / row["File ID"] / row["File Name"]).unlink()
    with pytest.raises(DataError) as info:
        read_gdc_folder(gdc_folder)
    message = str(info.value)
    assert "names 2 of 5 files that are missing" in message
    assert sheet["File Name"][0] in message and sheet["File Name"][2] in message
    assert sheet["File Name"][1] not in message


def test_flat_folder_and_other_data_types(tmp_path, capsys):
    sheet = write_gdc_folder(tmp_path / "flat", list(COUNTS.items()), flat=True)
    extra = pd.DataFrame(
        [
            [
                "f-maf",
                "x.wxs.aliquot_ensemble_masked.maf.gz",
                "Simple Nucleotide Variation",
                "Masked Somatic Mutation",
                "TCGA-XX",
                "TCGA-AB-0001",
                "TCGA-AB-0001-01A",
                "Primary Tumor",
            ]
        ],
        columns=sheet.columns,
    )
    pd.concat([sheet, extra]).to_csv(
        tmp_path / "flat" / "gdc_sample_sheet.2024-05-01.tsv", sep="\t", index=False
    )
    adata = read_gdc_folder(tmp_path / "flat")
    assert adata.n_obs == 3
    assert "ignored 1 files of other data types in the sample sheet: Masked Somatic Mutation" in (
        capsys.readouterr().err
    )


def test_sample_types_filter(gdc_folder, capsys):
    tumours = load_data(str(gdc_folder), sample_types="01")
    assert list(tumours.obs_names) == ["TCGA-AB-0001-01A", "TCGA-AB-0002-01A", "TCGA-AB-0003-01A"]
    assert "kept 3 of 4 samples of type 01" in capsys.readouterr().err
    normals = load_data(str(gdc_folder), sample_types=["Solid Tissue Normal"])
    assert list(normals.obs_names) == ["TCGA-AB-0001-11A"]
    with pytest.raises(DataError, match=r"no sample of type 06; the data has: 01 Primary Tumor: 3"):
        load_data(str(gdc_folder), sample_types="06")
    with pytest.raises(DataError, match="unknown sample type 'tumour'"):
        load_data(str(gdc_folder), sample_types="tumour")


def test_load_data_dispatches_a_folder(gdc_folder, tmp_path):
    adata = load_data(str(gdc_folder), gdc_column="unstranded")
    assert adata.shape == (4, 10)
    # the default --gene-id keep strips versions and keeps the genes' names and types
    assert adata.var_names[0] == "ENSG00000000003"
    read = read_gdc_folder(gdc_folder, column="unstranded")
    assert adata.var["gene_name"].tolist() == read.var["gene_name"].tolist()
    assert adata.var["gene_type"].tolist() == read.var["gene_type"].tolist()
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="folder without a GDC sample sheet"):
        load_data(str(tmp_path / "empty"))
    with pytest.raises(DataError, match="--gdc-column applies to a GDC download folder only"):
        csv = tmp_path / "m.csv"
        csv.write_text("id,g1\na,1\nb,2\n")
        load_data(str(csv), gdc_column="unstranded")


def test_a_file_with_other_genes_is_refused(gdc_folder):
    sheet = pd.read_csv(find_sample_sheet(gdc_folder), sep="\t")
    path = gdc_folder / sheet["File ID"][1] / sheet["File Name"][1]
    path.write_text(star_text(np.arange(12.0)))
    with pytest.raises(DataError, match="its genes differ .* 2 extra"):
        read_gdc_folder(gdc_folder)


def test_worker_processes_read_the_same_matrix(gdc_folder):
    """A folder of many files is parsed by worker processes: the matrix, gene names and the
    replicate average are those of a read in this process."""
    alone = read_gdc_folder(gdc_folder, column="unstranded", workers=1)
    shared = read_gdc_folder(gdc_folder, column="unstranded", workers=2)
    assert shared.X.dtype == np.float32
    np.testing.assert_array_equal(shared.X, alone.X)
    pd.testing.assert_frame_equal(shared.obs, alone.obs)
    pd.testing.assert_frame_equal(shared.var, alone.var)


def test_worker_processes_refuse_a_damaged_file_by_name(gdc_folder):
    sheet = pd.read_csv(find_sample_sheet(gdc_folder), sep="\t")
    path = gdc_folder / sheet["File ID"][2] / sheet["File Name"][2]
    path.write_text(path.read_text().replace("\t300\t", "\tthree hundred\t", 1))
    with pytest.raises(DataError, match=r"non-numeric value 'three hundred' .* 'unstranded'"):
        read_gdc_folder(gdc_folder, column="unstranded", workers=2)
    # genes of another model, found by the reader after a worker parsed the file
    other = gdc_folder / sheet["File ID"][1] / sheet["File Name"][1]
    other.write_text(star_text(np.arange(12.0)))
    with pytest.raises(DataError, match="its genes differ .* 2 extra"):
        read_gdc_folder(gdc_folder, column="unstranded", workers=2)


def test_barcodes():
    aliquot = "TCGA-06-2559-01A-01R-1849-01"
    assert tcga.patient_of(aliquot) == "TCGA-06-2559"
    assert tcga.sample_of(aliquot) == tcga.sample_of("TCGA-06-2559-01") == "TCGA-06-2559-01"
    assert tcga.sample_type_code(aliquot) == "01"
    assert tcga.sample_type_code("TCGA-06-2559-11A") == "11"
    assert tcga.sample_type_code("TCGA-06-2559") is None
    assert tcga.is_patient_barcode("TCGA-06-2559")
    assert not tcga.is_barcode("C3L-00001")
    assert tcga.parse_sample_types("1, 11,Metastatic") == ["01", "11", "06"]
