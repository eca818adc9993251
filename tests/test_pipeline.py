"""Training runs of neural models: resume after interruption; splits of TCGA cohorts grouped
by patient or tissue source site."""

import numpy as np
import pandas as pd
import pytest

from omicsformer.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from omicsformer.errors import ConfigError
from omicsformer.pipeline import make_folds, make_split, prepare_data, resume_run, train_run

DATA = "synthetic:n_samples=90,n_genes=40,n_modules=2,module_size=5"


def config(model="mlp", epochs=6, **options):
    return RunConfig(
        data=DataConfig(source=DATA),
        model=ModelConfig(name=model, options=options),
        train=TrainConfig(max_epochs=epochs, batch_size=16, patience=50),
        seed=1,
    )


class Interrupt(KeyboardInterrupt):
    pass


def stop_after(n):
    def hook(epoch):
        if epoch == n:
            raise Interrupt

    return hook


@pytest.mark.slow
@pytest.mark.parametrize(("model", "options"), [("mlp", {}), ("attomics", {"n_groups": 4})])
def test_resume_after_interruption_gives_the_uninterrupted_result(tmp_path, model, options):
    full, _ = train_run(config(model, **options), tmp_path / "full")
    with pytest.raises(Interrupt):
        train_run(config(model, **options), tmp_path / "cut", on_epoch_end=stop_after(3))
    assert not (tmp_path / "cut").exists()
    partial = tmp_path / ".cut.partial"
    assert (partial / "checkpoint" / "train_state.pt").exists()
    folder, _ = resume_run(tmp_path / "cut")
    assert not partial.exists()
    history = pd.read_csv(folder / "history.csv")
    assert history["epoch"].tolist() == list(range(7))  # epoch 0: the untrained network (base)
    pd.testing.assert_frame_equal(
        pd.read_csv(full / "predictions.csv"), pd.read_csv(folder / "predictions.csv")
    )
    expected = pd.read_csv(full / "history.csv").drop(columns="seconds")
    pd.testing.assert_frame_equal(expected, history.drop(columns="seconds"))


@pytest.mark.slow
def test_resume_without_an_interrupted_run_is_an_error(tmp_path):
    from omicsformer.errors import RunError

    with pytest.raises(RunError, match="no interrupted run to resume"):
        resume_run(tmp_path / "nothing")
    train_run(config(epochs=2), tmp_path / "done")
    with pytest.raises(RunError, match="is a finished run"):
        resume_run(tmp_path / "done")


@pytest.fixture
def barcoded(tmp_path):
    """32 TCGA patients from 8 tissue source sites; the first 8 also have a normal sample. A
    plain labels table (no clinical style): patient and tss come from the barcodes alone."""
    rng = np.random.default_rng(0)
    samples, labels = [], []
    for p in range(32):
        patient = f"TCGA-{'ABCDEFGH'[p % 8]}{p % 8}-{p:04d}"
        for code in ("01A", "11A") if p < 8 else ("01A",):
            samples.append(f"{patient}-{code}")
            labels.append("ab"[p // 8 % 2])
    frame = pd.DataFrame(rng.normal(size=(len(samples), 6)), index=samples)
    frame.columns = [f"g{i}" for i in range(6)]
    frame.index.name = "sample"
    frame.to_csv(tmp_path / "expr.csv")
    pd.DataFrame({"sample": samples, "label": labels}).to_csv(tmp_path / "labels.csv", index=False)
    return tmp_path / "expr.csv", tmp_path / "labels.csv"


def data_config(files, **options):
    expr, labels = files
    return RunConfig(
        data=DataConfig(source=str(expr), labels=str(labels), target="label", **options)
    )


def sides(split, groups):
    return [set(groups[split[part]]) for part in ("train", "val", "test") if len(split[part])]


def test_a_patients_samples_are_split_together_without_group_by(barcoded, capsys):
    cfg = data_config(barcoded)
    data = prepare_data(cfg)
    assert data.group_by == "patient"
    assert (
        "splits grouped by patient: 8 of 32 patients have several samples (e.g. TCGA-A0-0000: 2)"
        in capsys.readouterr().err
    )
    patients = data.adata.obs["patient"].to_numpy()
    assert np.array_equal(data.groups(cfg), patients)
    for split in [make_split(cfg, data), *make_folds(cfg, data, 3)]:  # train and compare
        parts = sides(split, patients)
        assert all(not (a & b) for i, a in enumerate(parts) for b in parts[i + 1 :])


def test_group_by_tss_holds_out_whole_centres(barcoded, capsys):
    cfg = data_config(barcoded, group_by="tss")
    data = prepare_data(cfg)
    assert data.group_by == "tss" and "grouped by patient" not in capsys.readouterr().err
    sites = data.adata.obs["tss"].to_numpy()
    assert sorted(set(sites)) == [f"{c}{i}" for i, c in enumerate("ABCDEFGH")]
    parts = sides(make_split(cfg, data), sites)
    assert all(not (a & b) for i, a in enumerate(parts) for b in parts[i + 1 :])


def test_batch_key_patient_is_refused_when_splits_group_by_patient(barcoded):
    with pytest.raises(ConfigError, match="--batch-key patient: 8 patients have several samples"):
        prepare_data(data_config(barcoded, batch_key="patient"))


def test_one_sample_per_patient_is_not_grouped(barcoded):
    cfg = data_config(barcoded, sample_types=["01"])
    assert prepare_data(cfg).group_by is None
