"""Training runs of neural models: bit-identical reload, resume after interruption."""

import json

import numpy as np
import pandas as pd
import pytest

from omicsformer.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from omicsformer.pipeline import load_run, predictions_for, resume_run, train_run

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
    assert history["epoch"].tolist() == list(range(1, 7))
    pd.testing.assert_frame_equal(
        pd.read_csv(full / "predictions.csv"), pd.read_csv(folder / "predictions.csv")
    )
    expected = pd.read_csv(full / "history.csv").drop(columns="seconds")
    pd.testing.assert_frame_equal(expected, history.drop(columns="seconds"))


def test_resume_without_an_interrupted_run_is_an_error(tmp_path):
    from omicsformer.errors import RunError

    with pytest.raises(RunError, match="no interrupted run to resume"):
        resume_run(tmp_path / "nothing")
    train_run(config(epochs=2), tmp_path / "done")
    with pytest.raises(RunError, match="is a finished run"):
        resume_run(tmp_path / "done")


@pytest.mark.parametrize("model", ["mlp", "attomics"])
def test_predict_from_the_saved_run_is_bit_identical(tmp_path, model):
    from omicsformer.data.readers import load_data

    folder, _ = train_run(config(model, epochs=4), tmp_path / "run")
    saved = pd.read_csv(folder / "predictions.csv", float_precision="round_trip").set_index(
        "sample_id"
    )
    fresh = predictions_for(load_run(folder), load_data(DATA)).set_index("sample_id")
    probabilities = [c for c in saved.columns if c.startswith("prob_")]
    np.testing.assert_array_equal(
        saved[probabilities].to_numpy(), fresh.loc[saved.index, probabilities].to_numpy()
    )
    run = json.loads((folder / "run.json").read_text())
    assert run["fitted"]["epochs_run"] == 4 and "architecture" not in run["fitted"]
    for name in ("history.csv", "learning_curve.png", "model/weights.safetensors"):
        assert (folder / name).stat().st_size > 0
    assert not (folder / "checkpoint").exists()
