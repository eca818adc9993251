"""Run folders: a saved run reloads and predicts exactly what it saved."""

import json

import numpy as np
import pandas as pd
import pytest

from omicsformer.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from omicsformer.pipeline import train_run
from omicsformer.runs import load_run, predictions_for

DATA = "synthetic:n_samples=90,n_genes=40,n_modules=2,module_size=5"


def config(model, epochs):
    return RunConfig(
        data=DataConfig(source=DATA),
        model=ModelConfig(name=model),
        train=TrainConfig(max_epochs=epochs, batch_size=16, patience=50),
        seed=1,
    )


@pytest.mark.slow
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
