"""Every pass over data without a weight update runs in batches of the evaluation batch size
(``--eval-batch-size`` / ``eval_batch_size``), through the command line and the Python API, and
an out of memory in any pass ends as one line naming the batch size to try (exit 2)."""

import numpy as np
import pandas as pd
import pytest
import torch

import omicsformer
from omicsformer.models.mlp import MLP
from omicsformer.train import engine


@pytest.fixture
def recorded(monkeypatch):
    """The rows of every batch the MLP sees, as (with gradients, rows)."""
    shapes: list[tuple[bool, int]] = []
    original = MLP.patient_embedding

    def record(self, x):
        shapes.append((torch.is_grad_enabled(), x.shape[0]))
        return original(self, x)

    monkeypatch.setattr(MLP, "patient_embedding", record)
    return shapes


def eval_batches(shapes):
    return [rows for grad, rows in shapes if not grad]


def consecutive(batches, size, total):
    """Batches of ``size`` rows, the last one smaller, covering ``total`` rows."""
    return sum(batches) == total and all(b == size for b in batches[:-1]) and batches[-1] <= size


MLP_RUN = ["--model", "mlp", "-o", "hidden=8", "--max-epochs", "2", "--batch-size", "8"]


def train_mlp(cli, files, out, *extra):
    return cli(
        "train", "--data", files["csv"], "--labels", files["labels"], "--target", "label",
        *MLP_RUN, "--out", out, *extra,
    )  # fmt: skip


@pytest.mark.slow
def test_validation_and_prediction_run_in_eval_batches(cli, tiny_files, tmp_path, recorded):
    result = train_mlp(cli, tiny_files, tmp_path / "run", "--eval-batch-size", "5")
    assert result.code == 0, result.err
    assert max(rows for grad, rows in recorded if grad) <= 8  # training batches
    batches = eval_batches(recorded)
    # 2 validation passes, then predictions of every sample (60), all in batches of 5
    assert max(batches) == 5 and batches.count(5) >= 12
    saved = pd.read_csv(tmp_path / "run" / "predictions.csv")
    assert consecutive(batches[-12:], 5, len(saved))

    recorded.clear()  # predict: the run's own evaluation batch, unless the flag overrides it
    out = tmp_path / "p.csv"
    assert cli("predict", tmp_path / "run", "--data", tiny_files["csv"], "--out", out).code == 0
    assert consecutive(eval_batches(recorded), 5, 60)
    recorded.clear()
    argv = ["predict", tmp_path / "run", "--data", tiny_files["csv"], "--eval-batch-size", "7"]
    assert cli(*argv, "--out", tmp_path / "p7.csv").code == 0
    assert consecutive(eval_batches(recorded), 7, 60)
    recorded.clear()
    argv = ["evaluate", tmp_path / "run", "--data", tiny_files["csv"], "--labels"]
    assert cli(*argv, tiny_files["labels"], "--eval-batch-size", "4").code == 0
    assert consecutive(eval_batches(recorded), 4, 60)
    recorded.clear()
    argv = ["embed", tmp_path / "run", "--data", tiny_files["csv"], "--eval-batch-size", "6"]
    assert cli(*argv, "--out", tmp_path / "e.h5ad").code == 0
    assert set(eval_batches(recorded)) == {6}  # predictions and embedding: 2 x 10 batches

    # the same predictions whatever the evaluation batch (eval mode: no dropout, batch norm's
    # running statistics)
    exact = {"float_precision": "round_trip"}
    one = pd.read_csv(out, **exact).filter(like="prob_").to_numpy()
    seven = pd.read_csv(tmp_path / "p7.csv", **exact).filter(like="prob_").to_numpy()
    np.testing.assert_allclose(one, seven, rtol=0, atol=1e-6)


@pytest.mark.slow
def test_default_eval_batch_is_the_training_batch(cli, tiny_files, tmp_path, recorded):
    assert train_mlp(cli, tiny_files, tmp_path / "run").code == 0
    batches = eval_batches(recorded)
    assert max(batches) == 8 and consecutive(batches[-8:], 8, 60)


@pytest.mark.slow
def test_api_predict_and_embed_in_eval_batches(tiny, recorded):
    model = omicsformer.OmicsClassifier(
        "mlp", {"hidden": [8]}, max_epochs=2, batch_size=8, eval_batch_size=3
    )
    model.fit(tiny.frame, tiny.labels)
    assert max(eval_batches(recorded)) == 3
    recorded.clear()
    small = model.predict_proba(tiny.frame)
    assert consecutive(eval_batches(recorded), 3, 60)
    recorded.clear()
    model.set_params(eval_batch_size=11)
    model.embed(tiny.frame)
    assert consecutive(eval_batches(recorded), 11, 60)
    np.testing.assert_allclose(model.predict_proba(tiny.frame), small, rtol=0, atol=1e-6)


CPU_OOM = RuntimeError(
    "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: "
    "you tried to allocate 49152000000 bytes. Error code 12 (Cannot allocate memory)"
)


def out_of_memory_when(monkeypatch, failing, error):
    """Make the MLP raise ``error`` in passes where ``failing(with_gradients)`` holds."""
    original = MLP.patient_embedding

    def forward(self, x):
        if failing(torch.is_grad_enabled()):
            raise error
        return original(self, x)

    monkeypatch.setattr(MLP, "patient_embedding", forward)


def one_error_line(err: str) -> str:
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("omicsformer: error:")]
    assert len(errors) == 1, err
    return errors[0]


@pytest.mark.slow
@pytest.mark.parametrize(
    "error", [CPU_OOM, torch.OutOfMemoryError("CUDA out of memory."), MemoryError()]
)
def test_out_of_memory_in_prediction_is_one_line(cli, tiny_files, tmp_path, monkeypatch, error):
    assert train_mlp(cli, tiny_files, tmp_path / "run", "--eval-batch-size", "6").code == 0
    out_of_memory_when(monkeypatch, lambda grad: not grad, error)
    result = cli("predict", tmp_path / "run", "--data", tiny_files["csv"], "--out", tmp_path / "p")
    assert result.code == 2
    line = one_error_line(result.err)
    assert "out of memory in prediction with batch size 6; try --eval-batch-size 3" in line
    assert "--precision bf16-mixed" in line and not (tmp_path / "p").exists()


@pytest.mark.slow
def test_out_of_memory_in_a_training_epoch_names_the_batch_size(
    cli, tiny_files, tmp_path, monkeypatch
):
    out_of_memory_when(monkeypatch, lambda grad: grad, CPU_OOM)
    result = train_mlp(cli, tiny_files, tmp_path / "run")
    assert result.code == 2
    line = one_error_line(result.err)
    assert "out of memory in a training epoch with batch size 8; try --batch-size 4" in line
    # no epoch finished: nothing to resume, the staging folder is gone
    assert not (tmp_path / "run").exists() and not (tmp_path / ".run.partial").exists()


@pytest.mark.slow
def test_out_of_memory_after_training_keeps_the_epochs_to_resume(
    cli, tiny_files, tmp_path, monkeypatch, recorded
):
    """The user's case: the epochs finish, prediction runs out of memory; the run continues
    with a smaller evaluation batch and trains nothing again."""
    trained = []
    fit = engine.fit
    monkeypatch.setattr(engine, "fit", lambda *a, **k: trained.append(fit(*a, **k)) or trained[0])
    failing = lambda grad: bool(trained)  # noqa: E731 (every pass after the training loop)
    out_of_memory_when(monkeypatch, failing, CPU_OOM)
    result = train_mlp(cli, tiny_files, tmp_path / "run")
    assert result.code == 2
    line = one_error_line(result.err)
    assert "out of memory in prediction with batch size 8; try --eval-batch-size 4" in line
    assert f"omicsformer train --resume {tmp_path / 'run'} --eval-batch-size N" in line
    assert (tmp_path / ".run.partial" / "checkpoint").is_dir() and not (tmp_path / "run").exists()

    monkeypatch.undo()
    resumed = cli("train", "--resume", tmp_path / "run", "--eval-batch-size", "4")
    assert resumed.code == 0, resumed.err
    assert (tmp_path / "run" / "predictions.csv").exists()
    assert "eval_batch_size: 4" in (tmp_path / "run" / "config.yaml").read_text()


@pytest.mark.slow
def test_out_of_memory_in_interpretation(cli, tiny_files, tmp_path, monkeypatch):
    assert train_mlp(cli, tiny_files, tmp_path / "run").code == 0
    out_of_memory_when(monkeypatch, lambda grad: True, CPU_OOM)
    argv = ["interpret", tmp_path / "run", "--data", tiny_files["csv"], "--eval-batch-size", "2"]
    result = cli(*argv, "--methods", "gradient_x_input", "--out", tmp_path / "i")
    assert result.code == 2
    line = one_error_line(result.err)
    assert "out of memory in interpretation with batch size 2; try --eval-batch-size 1" in line
    assert not list(tmp_path.glob("*i.partial")) and not (tmp_path / "i").exists()


@pytest.mark.slow
def test_other_runtime_errors_keep_their_traceback(cli, tiny_files, tmp_path, monkeypatch):
    assert train_mlp(cli, tiny_files, tmp_path / "run").code == 0
    out_of_memory_when(monkeypatch, lambda grad: True, RuntimeError("shape mismatch"))
    with pytest.raises(RuntimeError, match="shape mismatch"):  # a bug, not a memory limit
        cli("predict", tmp_path / "run", "--data", tiny_files["csv"], "--out", tmp_path / "p")


def test_out_of_memory_outside_a_pass_is_one_line(cli, tiny_files, tmp_path, monkeypatch):
    """Reading or preprocessing a cohort too large for memory: one line too."""
    import omicsformer.pipeline

    def prepare(*args, **kwargs):
        raise MemoryError("Unable to allocate 49.2 GiB for an array with shape (271, 47192)")

    monkeypatch.setattr(omicsformer.pipeline, "prepare_data", prepare)
    result = train_mlp(cli, tiny_files, tmp_path / "run")
    assert result.code == 2
    assert "out of memory (Unable to allocate 49.2 GiB" in one_error_line(result.err)
