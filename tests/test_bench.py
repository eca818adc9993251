"""The benchmark commands run end to end on tiny sizes (figures are checked by running them,
not here: these tests only check that rows, files and skip / failure notes are produced)."""

import numpy as np
import pandas as pd

from omicsformer.bench.attention import AttentionCase, synthetic_gene_sets
from omicsformer.bench.augmentation import cvae_quality


def test_flop_convention():
    case = AttentionCase("sdpa", n=1000, batch=2, dim=128, heads=4, mode="fwd")
    assert case.flops() == 4 * 2 * 1000**2 * 4 * 32
    assert AttentionCase("sdpa", n=1000, batch=2, mode="fwd+bwd").flops() == 3.5 * case.flops()


def test_bench_attention_writes_rows_plot_and_skips_over_budget(cli, tmp_path):
    out = tmp_path / "bench"
    result = cli(
        "bench",
        "attention",
        "--genes",
        "64,256",
        "--backends",
        "eager,sdpa,performer",
        "--dim",
        "32",
        "--heads",
        "2",
        "--repeats",
        "1",
        "--memory-budget-gb",
        "0.0012",
        "--out",
        out,
    )
    assert result.code == 0, result.err
    frame = pd.read_csv(out / "attention.csv")
    assert len(frame) == 6
    assert set(frame.columns) >= {
        "backend",
        "n",
        "seconds",
        "peak_memory_mb",
        "gflops",
        "fraction_of_matmul",
        "note",
    }
    eager_big = frame[(frame.backend == "eager") & (frame.n == 256)].iloc[0]
    assert eager_big.status == "skipped" and "budget" in eager_big.note
    ok = frame[frame.status == "ok"]
    assert len(ok) >= 4 and (ok.seconds > 0).all() and (ok.gflops > 0).all()
    assert (out / "attention.png").stat().st_size > 0


def test_bench_model_measures_a_training_step(cli, tmp_path):
    out = tmp_path / "model"
    result = cli(
        "bench",
        "model",
        "--models",
        "mlp,gene-transformer",
        "--genes",
        "50",
        "--batch",
        "4",
        "--repeats",
        "1",
        "-o",
        "gene-transformer.dim=16",
        "--out",
        out,
    )
    assert result.code == 0, result.err
    frame = pd.read_csv(out / "model.csv")
    assert list(frame.model) == ["mlp", "gene-transformer"]
    assert (frame.status == "ok").all() and (frame.n_parameters > 0).all()


def test_bench_bad_arguments_exit_2(cli, tmp_path):
    assert cli("bench", "attention", "--genes", "abc", "--out", tmp_path / "x").code == 2
    result = cli("bench", "attention", "--backends", "nope", "--out", tmp_path / "x")
    assert result.code == 2 and "unknown attention backend 'nope'" in result.err
    assert cli("bench", "model", "--models", "logreg", "--out", tmp_path / "y").code == 2


def test_bench_attention_times_gene_set_masks(cli, tmp_path):
    out = tmp_path / "masked"
    args = ["bench", "attention", "--genes", "128", "--dim", "32", "--heads", "2"]
    result = cli(*args, "--backends", "sdpa", "--mask-density", "0.1,0.5", "--out", out)
    assert result.code == 0, result.err
    frame = pd.read_csv(out / "attention.csv")
    assert list(frame.mask_density) == [0.0, 0.1, 0.5] and (frame.status == "ok").all()
    assert (frame.peak_memory_mb >= 0).all() and (frame.seconds > 0).all()
    refused = cli(*args, "--backends", "sdpa,linformer", "--mask-density", "0.1", "--out", out)
    assert refused.code == 2 and "'linformer' does not" in refused.err
    assert cli(*args, "--mask-density", "0", "--out", tmp_path / "z").code == 2


def test_synthetic_gene_sets_have_the_asked_density():
    gene_sets = synthetic_gene_sets(1000, 0.05)
    sets = np.array([s[0] for s in gene_sets])
    assert np.bincount(sets).max() == 50 and len(np.unique(sets)) == 20
    density = (sets[:, None] == sets[None, :]).mean()
    assert abs(density - 0.05) < 1e-9


class _Generator:
    """Stands in for a fitted cVAE: samples real-like or collapsed (class-mean) patients."""

    def __init__(self, means, spread, rng):
        self.means, self.spread, self.rng = means, spread, rng

    def class_counts(self):
        return {c: 60 for c in range(len(self.means))}

    def sample(self, counts, seed):
        labels = np.repeat(list(counts), list(counts.values()))
        x = self.means[labels] + self.spread * self.rng.normal(size=(len(labels), 300))
        return x.astype(np.float32), labels


def test_cvae_quality_tells_a_collapsed_generator_from_a_faithful_one():
    rng = np.random.default_rng(0)
    means = rng.normal(size=(2, 300))

    def real(n):
        labels = np.arange(n) % 2
        return means[labels] + rng.normal(size=(n, 300)), labels

    x_train, _ = real(120)
    x_test, y_test = real(80)
    faithful = cvae_quality(_Generator(means, 1.0, rng), x_train, x_test, y_test, seed=0)
    collapsed = cvae_quality(_Generator(means, 0.3, rng), x_train, x_test, y_test, seed=0)
    assert faithful["tstr_balanced_accuracy"] > 0.9
    assert abs(faithful["sd_ratio"] - 1) < 0.1 and collapsed["sd_ratio"] < 0.7
    assert faithful["discriminator_auroc"] < 0.7
    assert collapsed["discriminator_auroc"] > 0.9
