"""The CLI on TCGA-style inputs: a GDC folder with a clinical table, end to end; bad input is
one line and exit 2, with nothing written."""

import json

import numpy as np
import pandas as pd
import pytest

from tests.data.tcga_files import cohort, write_gdc_folder

COXPH = ["--model", "coxph", "-o", "n_alphas=3", "-o", "inner_folds=2"]


@pytest.fixture
def tcga_cohort(tmp_path):
    files, clinical = cohort(40, normals=4, seed=1)
    write_gdc_folder(tmp_path / "gdc", files)
    clinical.to_csv(tmp_path / "clinical.tsv", sep="\t", index=False)
    return tmp_path / "gdc", tmp_path / "clinical.tsv"


@pytest.mark.slow
def test_train_survival_on_a_gdc_folder_and_clinical_table(cli, tcga_cohort, tmp_path):
    gdc, clinical = tcga_cohort
    result = cli(
        "train",
        "--data",
        gdc,
        "--labels",
        clinical,
        "--task",
        "survival",  # os_time / os_event derived from the clinical table
        "--sample-types",
        "01",
        "--transform",
        "log2p1",
        *COXPH,
        "--out",
        tmp_path / "run",
    )
    assert result.code == 0, result.err
    assert "read 44 GDC STAR files (tpm_unstranded): 44 samples of 40 patients" in result.err
    assert "kept 40 of 44 samples of type 01" in result.err
    assert "GDC clinical table, 40 patients (80 rows;" in result.err
    assert "joined 40 of 40 samples (40 patients)" in result.err
    assert "task: survival (overall survival: time 'os_time', event 'os_event')" in result.err
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["test"]["c_index"] > 0.5  # the risk follows gene 0 by construction
    config = (tmp_path / "run" / "config.yaml").read_text()
    assert "sample_types:\n  - '01'" in config

    predicted = cli(
        "predict", tmp_path / "run", "--data", gdc, "--out", tmp_path / "predictions.csv"
    )
    assert predicted.code == 0, predicted.err
    frame = pd.read_csv(tmp_path / "predictions.csv")
    assert len(frame) == 44 and frame["risk"].notna().all()


def test_train_classification_on_sample_type(cli, tmp_path):
    rng = np.random.default_rng(0)
    files = []
    for p in range(24):
        for code, shift in (("01", 300.0), ("11", 0.0)):
            counts = rng.poisson(100, size=10).astype(float)
            counts[:3] += shift  # tumours express genes 0-2 more
            files.append((f"TCGA-AB-{p + 1:04d}-{code}A", counts))
    write_gdc_folder(tmp_path / "gdc", files)
    result = cli(
        "train",
        "--data",
        tmp_path / "gdc",
        "--gdc-column",
        "unstranded",
        "--target",
        "sample_type",
        "--transform",
        "log2p1",
        "--model",
        "logreg",
        "-o",
        "C=1",
        "-o",
        "inner_folds=2",
        "--out",
        tmp_path / "run",
    )
    assert result.code == 0, result.err
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["test"]["balanced_accuracy"] == 1.0


def one_line_exit_2(result) -> str:
    assert result.code == 2, result.err
    lines = result.err.strip().splitlines()
    assert lines[-1].startswith("omicsformer: error: ")
    assert not any("Traceback" in line for line in lines)
    return lines[-1]


def test_bad_tcga_inputs_are_one_line_and_write_nothing(cli, tcga_cohort, tmp_path):
    gdc, clinical = tcga_cohort
    out = tmp_path / "run"
    base = ["train", "--labels", clinical, "--task", "survival", *COXPH, "--out", out]

    line = one_line_exit_2(cli(*base, "--data", gdc, "--gdc-column", "tpm"))
    assert "unknown --gdc-column 'tpm'" in line and "fpkm_uq_unstranded" in line

    sheet = pd.read_csv(next(gdc.glob("gdc_sample_sheet*")), sep="\t")
    for _, row in sheet.iloc[:3].iterrows():
        (gdc / row["File ID"] / row["File Name"]).unlink()
    line = one_line_exit_2(cli(*base, "--data", gdc))
    assert "names 3 of 44 files that are missing" in line
    assert sheet["File Name"][0] in line

    xena = tmp_path / "TCGA-XX.star_tpm.tsv"
    frame = pd.DataFrame(
        np.log2(np.arange(1.0, 41.0).reshape(4, 10) + 1),
        index=pd.Index([f"ENSG0000000000{i}.1" for i in range(4)], name="Ensembl_ID"),
        columns=[f"TCGA-AB-{p + 1:04d}-01A" for p in range(10)],
    )
    frame.to_csv(xena, sep="\t")
    line = one_line_exit_2(cli(*base, "--data", xena, "--transform", "log2p1"))
    assert "already on a log2(x+1) scale; --transform log2p1 would log them twice" in line

    line = one_line_exit_2(cli(*base, "--data", xena, "--sample-types", "tumour"))
    assert "unknown sample type 'tumour'" in line
    assert not out.exists() and not list(tmp_path.glob(".run*partial"))


@pytest.mark.slow
def test_train_and_compare_group_a_patients_samples_and_record_it(cli, tcga_cohort, tmp_path):
    gdc, clinical = tcga_cohort  # 40 patients, 4 with a tumour and a normal sample

    def patient(sample: str) -> str:
        return sample[:12]

    base = ["--data", gdc, "--labels", clinical, "--task", "survival", *COXPH[2:]]
    result = cli("train", *base, "--model", "coxph", "--out", tmp_path / "run")
    assert result.code == 0, result.err
    assert "splits grouped by patient: 4 of 40 patients have several samples" in result.err
    splits = json.loads((tmp_path / "run" / "splits.json").read_text())
    assert splits["grouped_by"] == "patient"
    parts = [{patient(s) for s in splits[part]} for part in ("train", "val", "test")]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])

    # a validation part of 0.15 holds 2 of the 22 events: too few for a survival split
    folds = ["--folds", "3", "--val-fraction", "0.3"]
    compared = cli("compare", *base, "--models", "coxph", *folds, "--out", tmp_path / "c")
    assert compared.code == 0, compared.err
    record = json.loads((tmp_path / "c" / "splits.json").read_text())
    assert record["grouped_by"] == "patient"
    for fold in record["repeats"][0]["folds"]:
        train = {patient(s) for s in fold["train"] + fold["val"]}
        assert not train & {patient(s) for s in fold["test"]}


def test_batch_key_tss_is_found_again_at_predict(cli, tmp_path):
    pytest.importorskip("combatlearn")
    files, clinical = cohort(40, seed=2)
    rename = {f"TCGA-AB-{p + 1:04d}": f"TCGA-{'ABCD'[p % 4]}{p % 4}-{p + 1:04d}" for p in range(40)}
    files = [(rename[s[:12]] + s[12:], counts) for s, counts in files]
    clinical["case_submitter_id"] = clinical["case_submitter_id"].map(rename)
    write_gdc_folder(tmp_path / "gdc", files)
    clinical.to_csv(tmp_path / "clinical.tsv", sep="\t", index=False)
    args = ["--data", tmp_path / "gdc", "--labels", tmp_path / "clinical.tsv"]
    result = cli(
        "train", *args, "--task", "survival", "--batch-key", "tss", "--transform", "log2p1",
        *COXPH, "--out", tmp_path / "run",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "ComBat fitted on" in result.err
    # the new data has no clinical table: each sample's centre comes from its barcode
    out = tmp_path / "p.csv"
    predicted = cli("predict", tmp_path / "run", "--data", tmp_path / "gdc", "--out", out)
    assert predicted.code == 0, predicted.err
    assert len(pd.read_csv(out)) == 40


def test_predict_refuses_data_on_another_scale_than_training(cli, tcga_cohort, tmp_path):
    """A run trained on a GDC folder's linear TPM, given a Xena matrix of log2(x+1) values of
    the same samples: one line, exit 2, nothing written (the scale is saved with the run)."""
    gdc, clinical = tcga_cohort
    run = tmp_path / "run"
    done = cli("train", "--data", gdc, "--labels", clinical, "--task", "survival", *COXPH,
               "--out", run)  # fmt: skip
    assert done.code == 0, done.err
    from omicsformer.data.readers import load_data

    adata = load_data(str(gdc))
    xena = pd.DataFrame(np.log2(np.asarray(adata.X) + 1).T, index=adata.var_names,
                        columns=adata.obs_names)  # fmt: skip
    xena.rename_axis("sample").to_csv(tmp_path / "xena.tsv", sep="\t")
    out = tmp_path / "predictions.csv"
    line = one_line_exit_2(cli("predict", run, "--data", tmp_path / "xena.tsv", "--out", out))
    assert "scale" in line and not out.exists()
