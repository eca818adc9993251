"""Clinical tables in each style: overall survival derived, joined by patient or sample."""

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from omicsformer.data.clinical import detect_style, join_clinical, read_clinical
from omicsformer.data.readers import load_data
from omicsformer.errors import DataError
from tests.data.tcga_files import cohort, write_gdc_folder


def expression(samples: list[str], obs: dict | None = None) -> ad.AnnData:
    x = np.arange(len(samples) * 3, dtype=np.float32).reshape(len(samples), 3)
    return ad.AnnData(
        X=x, obs=pd.DataFrame(obs or {}, index=samples), var=pd.DataFrame(index=["g1", "g2", "g3"])
    )


def clinical(path: Path, style: str | None = None, **kwargs):
    return read_clinical(path, style or detect_style(path, **kwargs))


GDC_TSV = (
    "case_id\tcase_submitter_id\tproject_id\tvital_status\tdays_to_death\t"
    "days_to_last_follow_up\ttreatment_type\n"
    # one row per case x treatment: duplicates to merge
    "u1\tTCGA-AB-0001\tTCGA-XX\tDead\t400\t'--\tRadiation\n"
    "u1\tTCGA-AB-0001\tTCGA-XX\tDead\t400\t'--\tPharmaceutical\n"
    "u2\tTCGA-AB-0002\tTCGA-XX\tAlive\t'--\t1200\tRadiation\n"
    "u2\tTCGA-AB-0002\tTCGA-XX\tAlive\t'--\t1500\tPharmaceutical\n"
    "u3\tTCGA-AB-0003\tTCGA-XX\tDead\t'--\t300\tRadiation\n"  # dead without days_to_death
    "u4\tTCGA-AB-0004\tTCGA-XX\t'--\t'--\t'--\t'--\n"  # vital status unknown
    "u5\tTCGA-AB-0005\tTCGA-XX\tAlive\t'--\t'--\t'--\n"  # alive without follow-up
    "u6\tTCGA-AB-0006\tTCGA-XX\tNot Reported\t'--\t90\t'--\n"
)


def test_gdc_clinical_tsv(tmp_path):
    path = tmp_path / "clinical.tsv"
    path.write_text(GDC_TSV)
    style = detect_style(path)
    assert (style.name, style.id_column, style.level, style.survival) == (
        "GDC clinical",
        "case_submitter_id",
        "patient",
        "gdc",
    )
    table = read_clinical(path, style)
    assert table.n_rows == 8
    frame = table.table
    assert list(frame.index) == [f"TCGA-AB-000{i}" for i in range(1, 7)]
    assert frame.loc["TCGA-AB-0001", ["os_time", "os_event"]].tolist() == [400.0, 1.0]
    # the longest follow-up of a case's rows
    assert frame.loc["TCGA-AB-0002", ["os_time", "os_event"]].tolist() == [1500.0, 0.0]
    assert frame.loc[[f"TCGA-AB-000{i}" for i in (3, 4, 5, 6)], "os_time"].isna().all()
    assert table.no_survival == {
        "dead without days_to_death": 1,
        "vital status unknown": 2,
        "alive without days_to_last_follow_up": 1,
    }
    assert frame.loc["TCGA-AB-0001", "treatment_type"] == "Radiation"  # first non-missing
    assert np.isnan(frame.loc["TCGA-AB-0004", "days_to_death"])  # '-- is missing


def test_gdc_portal_2024_columns(tmp_path):
    path = tmp_path / "clinical.tsv"
    path.write_text(
        "cases.case_id\tcases.submitter_id\tdemographic.vital_status\tdemographic.days_to_death\t"
        "diagnoses.days_to_last_follow_up\n"
        "u1\tTCGA-AB-0001\tAlive\t'--\t700\n"
        "u2\tTCGA-AB-0002\tDead\t50\t'--\n"
    )
    frame = clinical(path).table
    assert frame["os_time"].tolist() == [700.0, 50.0]
    assert frame["os_event"].tolist() == [0.0, 1.0]


def test_tcga_cdr(tmp_path):
    path = tmp_path / "cdr.csv"
    pd.DataFrame(
        {
            "": [0, 1, 2],
            "bcr_patient_barcode": ["TCGA-AB-0001", "TCGA-AB-0002", "TCGA-AB-0003"],
            "type": ["BRCA"] * 3,
            "OS": ["1", "0", "#N/A"],
            "OS.time": ["400", "[Not Available]", "100"],
        }
    ).to_csv(path, index=False)
    table = clinical(path)
    assert table.style.name == "TCGA-CDR"
    assert table.table.loc["TCGA-AB-0001", ["os_time", "os_event"]].tolist() == [400.0, 1.0]
    assert table.table.loc[["TCGA-AB-0002", "TCGA-AB-0003"], "os_time"].isna().all()
    assert table.no_survival == {"OS.time missing": 1, "OS missing": 1}


def test_cbioportal_months_become_days(tmp_path):
    path = tmp_path / "data_clinical_patient.txt"
    path.write_text(
        "#Patient Identifier\tOverall Survival Status\tOverall Survival (Months)\n"
        "#Identifier to uniquely identify a patient.\tStatus\tMonths\n"
        "#STRING\tSTRING\tNUMBER\n"
        "#1\t1\t1\n"
        "PATIENT_ID\tOS_STATUS\tOS_MONTHS\n"
        "TCGA-AB-0001\t1:DECEASED\t10\n"
        "TCGA-AB-0002\t0:LIVING\t24.5\n"
        "TCGA-AB-0003\t[Not Available]\t3\n"
    )
    table = clinical(path)
    assert (table.style.name, table.style.skiprows) == ("cBioPortal clinical", 4)
    frame = table.table
    assert frame.loc["TCGA-AB-0001", "os_time"] == pytest.approx(304.375)
    assert frame.loc["TCGA-AB-0002", "os_time"] == pytest.approx(24.5 * 30.4375)
    assert frame["os_event"].tolist()[:2] == [1.0, 0.0]
    assert table.no_survival == {"OS_STATUS missing": 1}


def test_xena_survival_joins_by_sample_without_vial(tmp_path, capsys):
    path = tmp_path / "TCGA-XX.survival.tsv"
    path.write_text(
        "sample\tOS\t_PATIENT\tOS.time\n"
        "TCGA-AB-0001-01\t1\tTCGA-AB-0001\t400\n"
        "TCGA-AB-0001-11\t1\tTCGA-AB-0001\t400\n"
        "TCGA-AB-0002-01\t0\tTCGA-AB-0002\t900\n"
    )
    table = clinical(path)
    assert (table.style.name, table.level) == ("UCSC Xena survival", "sample")
    adata = expression(["TCGA-AB-0001-01A", "TCGA-AB-0002-01A", "TCGA-AB-0009-01A"])
    joined = join_clinical(adata, table)
    assert joined.obs["os_time"].tolist()[:2] == [400.0, 900.0]
    assert np.isnan(joined.obs["os_time"].iloc[2])
    err = capsys.readouterr().err
    assert "joined 2 of 3 samples to the table by sample barcode (without the vial letter)" in err
    assert "1 samples have no row (e.g. TCGA-AB-0009-01A)" in err
    assert "1 samples of the table have no expression sample" in err


def test_patient_join_counts_and_drops_without_survival(tmp_path, capsys):
    path = tmp_path / "clinical.tsv"
    path.write_text(GDC_TSV)
    samples = [
        "TCGA-AB-0001-01A",
        "TCGA-AB-0001-11A",  # the same patient's normal
        "TCGA-AB-0002-01A",
        "TCGA-AB-0003-01A",  # no usable survival
        "TCGA-AB-0099-01A",  # not in the table
    ]
    adata = expression(samples)
    table = clinical(path)
    joined = join_clinical(adata, table)  # no survival target: every sample kept
    assert joined.n_obs == 5
    assert joined.obs.loc["TCGA-AB-0001-11A", "os_time"] == 400.0
    err = capsys.readouterr().err
    assert "clinical.tsv: GDC clinical table, 6 patients (8 rows;" in err
    assert "overall survival (os_time in days, os_event 1 = death) for 2 of 6 patients" in err
    assert "; none for 4: 2 vital status unknown, 1 dead without days_to_death, " in err
    assert "1 alive without days_to_last_follow_up" in err
    assert "joined 4 of 5 samples (3 patients) to the table by patient barcode" in err
    assert "3 patients of the table have no expression sample" in err
    assert "1 patients have several samples (e.g. TCGA-AB-0001" in err

    survival = join_clinical(adata, table, wanted=["os_time", "os_event"])
    assert list(survival.obs_names) == samples[:3]
    assert (
        "dropped 2 of 5 samples without overall survival (1 without a clinical row, 1 whose "
        "patient has no usable survival)" in capsys.readouterr().err
    )


def test_no_match_is_one_line(tmp_path):
    path = tmp_path / "clinical.tsv"
    path.write_text(GDC_TSV)
    with pytest.raises(DataError) as info:
        join_clinical(expression(["S1", "S2"]), clinical(path))
    assert "none of the 2 expression samples match the 6 patients" in str(info.value)


def test_plain_labels_are_not_clinical(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("sample,label\ns1,a\ns2,b\n")
    assert detect_style(path) is None


def test_gdc_folder_with_clinical_table_through_load_data(tmp_path, capsys):
    files, table = cohort(5, normals=1)
    write_gdc_folder(tmp_path / "gdc", files)
    table.loc[table["case_submitter_id"] == "TCGA-AB-0005", "vital_status"] = "'--"
    table.to_csv(tmp_path / "clinical.tsv", sep="\t", index=False)
    adata = load_data(
        str(tmp_path / "gdc"),
        labels=str(tmp_path / "clinical.tsv"),
        obs_columns=["os_time", "os_event"],
        sample_types="01",
    )
    assert list(adata.obs_names) == [f"TCGA-AB-000{i}-01A" for i in range(1, 5)]
    assert adata.obs["os_event"].tolist() == [1.0, 0.0, 1.0, 0.0]
    err = capsys.readouterr().err
    assert "by the sample sheet's Case ID" in err
    assert "dropped 1 of 5 samples without overall survival" in err


def test_survival_columns_with_an_id_column_of_any_name(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("patient,OS,OS.time,stage\ns1,1,30,I\ns2,0,90,II\n")
    table = clinical(path)
    assert (table.style.id_column, table.level) == ("patient", "sample")  # joined by sample ID
    joined = join_clinical(expression(["s2", "s1"]), table)
    assert joined.obs["os_time"].tolist() == [90.0, 30.0]
    assert joined.obs["stage"].tolist() == ["II", "I"]


def test_gdc_follow_ups_give_living_patients_their_longest_follow_up(tmp_path):
    path = tmp_path / "clinical.tsv"
    path.write_text(  # the 2024 portal's export: one row per case x follow-up visit
        "cases.submitter_id\tdemographic.vital_status\tdemographic.days_to_death\t"
        "diagnoses.days_to_last_follow_up\tfollow_ups.days_to_follow_up\n"
        "TCGA-AB-0001\tAlive\t'--\t'--\t300\n"
        "TCGA-AB-0001\tAlive\t'--\t'--\t1100\n"
        "TCGA-AB-0001\tAlive\t'--\t'--\t'--\n"
        "TCGA-AB-0002\tAlive\t'--\t800\t500\n"  # the older column is larger here
        "TCGA-AB-0003\tDead\t200\t'--\t900\n"  # dead: days_to_death, not the follow-up
        "TCGA-AB-0004\tAlive\t'--\t'--\t'--\n"
    )
    table = clinical(path)
    assert table.style.survival == "gdc"
    frame = table.table
    assert frame["os_time"].tolist()[:3] == [1100.0, 800.0, 200.0]
    assert frame["os_event"].tolist()[:3] == [0.0, 0.0, 1.0]
    assert table.no_survival == {"alive without days_to_last_follow_up or days_to_follow_up": 1}


def test_days_to_follow_up_alone_is_a_gdc_survival_table(tmp_path):
    path = tmp_path / "clinical.tsv"
    path.write_text(
        "case_submitter_id\tvital_status\tdays_to_follow_up\n"
        "TCGA-AB-0001\tAlive\t40\n"
        "TCGA-AB-0001\tAlive\t400\n"
        "TCGA-AB-0002\tDead\t10\n"
    )
    table = clinical(path)
    assert table.style.columns == {
        "vital_status": "vital_status",
        "days_to_follow_up": "days_to_follow_up",
    }
    assert table.table.loc["TCGA-AB-0001", ["os_time", "os_event"]].tolist() == [400.0, 0.0]
    assert table.no_survival == {"dead without days_to_death": 1}


def test_os_time_and_event_come_from_one_row(tmp_path):
    cdr = tmp_path / "cdr.tsv"
    cdr.write_text(
        "bcr_patient_barcode\tOS\tOS.time\n"
        "TCGA-AB-0001\t1\t[Not Available]\n"  # an event without a time
        "TCGA-AB-0001\t0\t900\n"  # the first complete row
        "TCGA-AB-0001\t1\t50\n"
        "TCGA-AB-0002\t#N/A\t70\n"  # no complete row: the first row, counted
    )
    table = clinical(cdr)
    assert table.table.loc["TCGA-AB-0001", ["os_time", "os_event"]].tolist() == [900.0, 0.0]
    assert table.no_survival == {"OS missing": 1}
    # two complete rows that disagree: recorded, refused when the run uses survival
    assert table.conflicts["os_time"] == {"TCGA-AB-0001": "OS 0 at 900 vs OS 1 at 50"}

    portal = tmp_path / "data_clinical_patient.txt"
    portal.write_text(
        "PATIENT_ID\tOS_STATUS\tOS_MONTHS\nTCGA-AB-0001\t1:DECEASED\t\nTCGA-AB-0001\t0:LIVING\t10\n"
    )
    frame = clinical(portal).table
    assert frame.loc["TCGA-AB-0001", "os_event"] == 0.0
    assert frame.loc["TCGA-AB-0001", "os_time"] == pytest.approx(304.375)


def test_xena_clinical_matrix_os_columns(tmp_path, capsys):
    path = tmp_path / "BRCA_clinicalMatrix.tsv"  # the hub's file, saved with an extension
    path.write_text(
        "sampleID\t_OS\t_OS_IND\t_OS_UNIT\t_PATIENT\tvital_status\n"
        "TCGA-AB-0001-01\t400\t1\tdays\tTCGA-AB-0001\tDECEASED\n"
        "TCGA-AB-0002-01\t900\t0\tdays\tTCGA-AB-0002\tLIVING\n"
        "TCGA-AB-0003-01\t\t\tdays\tTCGA-AB-0003\t\n"
    )
    table = clinical(path)
    assert (table.style.name, table.style.survival, table.level) == (
        "UCSC Xena clinicalMatrix",
        "os",
        "sample",
    )
    assert table.no_survival == {"_OS_IND missing": 1}
    joined = join_clinical(expression(["TCGA-AB-0002-01A", "TCGA-AB-0001-01A"]), table)
    assert joined.obs["os_time"].tolist() == [900.0, 400.0]
    assert joined.obs["os_event"].tolist() == [0.0, 1.0]
    assert "UCSC Xena clinicalMatrix table, 3 samples" in capsys.readouterr().err


def test_join_writes_patient_and_tissue_source_site(tmp_path):
    path = tmp_path / "clinical.tsv"
    path.write_text(GDC_TSV)
    joined = join_clinical(
        expression(["TCGA-AB-0001-01A", "TCGA-AB-0001-11A", "TCGA-CD-0002-01A"]), clinical(path)
    )
    assert joined.obs["patient"].tolist() == ["TCGA-AB-0001", "TCGA-AB-0001", "TCGA-CD-0002"]
    assert joined.obs["tss"].tolist() == ["AB", "AB", "CD"]
    other = tmp_path / "other.csv"
    other.write_text("id,OS,OS.time\ns1,1,30\ns2,0,90\n")  # IDs that are not barcodes
    plain = join_clinical(expression(["s1", "s2"]), clinical(other))
    assert "patient" not in plain.obs and "tss" not in plain.obs


VIALS = (
    "sample\tOS\tOS.time\tportion\n"
    "TCGA-AB-0001-01A\t1\t400\t01\n"
    "TCGA-AB-0001-01B\t1\t{time}\t02\n"  # a second vial of the same sample
    "TCGA-AB-0002-01A\t0\t900\t01\n"
)


def test_vial_duplicates_are_counted(tmp_path, capsys):
    path = tmp_path / "survival.tsv"
    path.write_text(VIALS.format(time=400))
    adata = expression(["TCGA-AB-0001-01", "TCGA-AB-0002-01"])  # the Xena hub's: no vial
    joined = join_clinical(adata, clinical(path), wanted=["os_time", "os_event"])
    assert joined.obs["os_time"].tolist() == [400.0, 900.0]
    assert joined.obs["portion"].tolist() == [1.0, 1.0]  # the first row's
    err = capsys.readouterr().err
    assert (
        "1 rows of the table repeat a sample by sample barcode (without the vial letter) "
        "(e.g. TCGA-AB-0001-01A, TCGA-AB-0001-01B); the first row of each is used (their "
        "values differ in 1 columns, e.g. portion)" in err
    )


def test_vial_duplicates_that_disagree_on_the_target_are_an_error(tmp_path):
    path = tmp_path / "survival.tsv"
    path.write_text(VIALS.format(time=500))
    adata = expression(["TCGA-AB-0001-01", "TCGA-AB-0002-01"])
    with pytest.raises(DataError) as info:
        join_clinical(adata, clinical(path), wanted=["os_time", "os_event"])
    assert (
        "rows TCGA-AB-0001-01A, TCGA-AB-0001-01B are one sample by sample barcode (without the "
        "vial letter) but differ in 'os_time' (400.0 vs 500.0)" in str(info.value)
    )
    # not a column the run uses: counted, the first row kept
    assert join_clinical(adata, clinical(path)).obs["os_time"].tolist() == [400.0, 900.0]


def test_rows_of_one_patient_that_disagree_on_survival_are_refused(tmp_path, capsys):
    """Issue 24: dead at 100 days in one row, alive at 9,999 in another was merged silently."""
    gdc = tmp_path / "clinical.tsv"
    gdc.write_text(
        GDC_TSV + "u7\tTCGA-AB-0007\tTCGA-XX\tDead\t100\t'--\tRadiation\n"
        "u7\tTCGA-AB-0007\tTCGA-XX\tAlive\t'--\t9999\tPharmaceutical\n"
    )
    adata = expression(["TCGA-AB-0001-01A", "TCGA-AB-0002-01A", "TCGA-AB-0007-01A"])
    with pytest.raises(DataError) as info:
        join_clinical(adata, clinical(gdc), wanted=["os_time", "os_event"])
    assert str(info.value) == (
        f"{gdc}: 1 patient has rows that disagree on overall survival: TCGA-AB-0007: Dead at "
        "100 vs Alive at 9999; keep one row per patient, or correct the table"
    )
    # a patient without an expression sample does not matter; a run without survival neither
    assert join_clinical(adata[:2], clinical(gdc), wanted=["os_time"]).n_obs == 2
    assert join_clinical(adata, clinical(gdc), wanted=["project_id"]).n_obs == 3

    cdr = tmp_path / "cdr.tsv"
    rows = "".join(f"TCGA-AB-000{i}\t{i % 2}\t{100 * i}\n" for i in range(1, 5))
    cdr.write_text("bcr_patient_barcode\tOS\tOS.time\n" + rows + "TCGA-AB-0002\t0\t9999\n")
    adata = expression([f"TCGA-AB-000{i}-01A" for i in range(1, 5)])
    with pytest.raises(DataError, match="TCGA-AB-0002: OS 0 at 200 vs OS 0 at 9999; keep one"):
        join_clinical(adata, clinical(cdr), wanted=["os_time", "os_event"])


def test_rows_of_one_patient_that_disagree_on_the_target_are_refused(tmp_path):
    path = tmp_path / "clinical.tsv"
    path.write_text(
        "bcr_patient_barcode\tsubtype\tOS\tOS.time\n"
        "TCGA-AB-0001\tLumA\t1\t10\nTCGA-AB-0001\tBasal\t1\t10\nTCGA-AB-0002\tHer2\t0\t20\n"
    )
    adata = expression(["TCGA-AB-0001-01A", "TCGA-AB-0002-01A"])
    with pytest.raises(DataError, match="disagree on 'subtype': TCGA-AB-0001: 'LumA' vs 'Basal'"):
        join_clinical(adata, clinical(path), wanted=["subtype"])


def test_identical_rows_are_merged_and_counted_in_one_note(tmp_path, capsys):
    path = tmp_path / "cdr.tsv"
    rows = "".join(f"TCGA-AB-000{i}\t{i % 2}\t{100 * i}\n" for i in range(1, 4))
    path.write_text("bcr_patient_barcode\tOS\tOS.time\n" + rows + rows.splitlines()[0] + "\n")
    adata = expression([f"TCGA-AB-000{i}-01A" for i in range(1, 4)])
    joined = join_clinical(adata, clinical(path), wanted=["os_time", "os_event"])
    assert joined.obs["os_time"].tolist() == [100.0, 200.0, 300.0]
    err = capsys.readouterr().err
    assert (
        "cdr.tsv: TCGA-CDR table, 3 patients (4 rows; 1 repeats an earlier row exactly and is "
        "merged)\n" in err
    )


@pytest.mark.parametrize(
    ("start", "outcome"),
    [(b"\xef\xbb\xbf", None), (b"\x00", "a NUL byte in line 1: a binary or damaged file")],
)
def test_a_byte_order_mark_is_read_and_a_nul_byte_refused(tmp_path, start, outcome):
    """Found by the property tests (issue 24): a BOM or a NUL byte before the header made the
    style's ID column a KeyError (the header reader and pandas disagreed)."""
    path = tmp_path / "cdr.tsv"
    path.write_bytes(start + b"bcr_patient_barcode\tOS\tOS.time\nTCGA-AB-0001\t1\t100\n")
    adata = expression(["TCGA-AB-0001-01A"])
    if outcome is None:
        joined = join_clinical(adata, clinical(path), wanted=["os_time", "os_event"])
        assert joined.obs["os_time"].tolist() == [100.0]
    else:
        with pytest.raises(DataError, match=outcome):
            clinical(path)
