"""The benchmark commands run end to end on tiny sizes (figures are checked by running them,
not here: these tests only check that rows, files and skip / failure notes are produced)."""

import numpy as np
import pandas as pd
import pytest

from omicsformer.bench import attention
from omicsformer.bench.attention import AttentionCase, synthetic_gene_sets
from omicsformer.bench.augmentation import (
    correlation_similarity,
    discriminator_auroc,
    generator_quality,
    nn_distance_ratio,
    tstr,
    variance_ratio,
)
from omicsformer.bench.model import has_token_modes
from omicsformer.bench.worker import MATMUL_SIZE_ENV, counts_like, kept_tokens
from omicsformer.nn.packing import length_buckets


def test_flop_convention():
    case = AttentionCase("sdpa", n=1000, batch=2, dim=128, heads=4, mode="fwd")
    assert case.flops() == 4 * 2 * 1000**2 * 4 * 32
    assert AttentionCase("sdpa", n=1000, batch=2, mode="fwd+bwd").flops() == 3.5 * case.flops()


@pytest.fixture
def measured_matmul_peak(monkeypatch):
    """The matmul peak as the measuring process reports it, without its 4096 x 4096 matmuls
    (about 10 s of a core): test_bench_attention_writes_rows_plot_and_skips_over_budget measures
    it for real; the tests of the other options take this stand-in (every other configuration
    still runs in its own process)."""
    run_worker = attention.run_worker

    def worker(kind, payload, timeout):
        if kind == "matmul":
            return {"status": "ok", "gflops": 100.0, "size": 4096}
        return run_worker(kind, payload, timeout)

    monkeypatch.setattr(attention, "run_worker", worker)


@pytest.mark.slow
def test_bench_attention_writes_rows_plot_and_skips_over_budget(cli, tmp_path, monkeypatch):
    # the matmul peak measured for real, in its own process, at 512² (the CLI's 4096² is about
    # 10 s of a core; the size is the only difference)
    monkeypatch.setenv(MATMUL_SIZE_ENV, "512")
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
    assert (ok.matmul_gflops > 0).all()  # the peak was measured (at 512²)
    assert (out / "attention.png").stat().st_size > 0


@pytest.mark.slow
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


@pytest.mark.slow
def test_bench_attention_times_gene_set_masks(cli, tmp_path, measured_matmul_peak):
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


def test_expressed_mode_keeps_a_seeded_share_of_tokens_and_counts_their_flops():
    dense = AttentionCase("sdpa", n=1000, batch=4, mode="fwd")
    case = AttentionCase("sdpa", n=1000, batch=4, mode="fwd", tokens="expressed", zero_fraction=0.9)
    lengths = case.lengths()
    assert dense.lengths() == [1000] * 4 and lengths == case.lengths()  # seeded: same each call
    assert all(60 < n_b < 140 for n_b in lengths)  # ~100 of 1,000 kept
    assert case.flops() == 4 * sum(n_b**2 for n_b in lengths) * 4 * 32
    assert case.flops() < dense.flops() / 50


def test_length_buckets_bound_the_padding_as_the_model_does():
    lengths = [100, 10, 12, 125, 11, 200]
    assert length_buckets(lengths, 0.25) == [[1, 4, 2], [0, 3], [5]]
    assert length_buckets(lengths, 0.0) == [[1], [4], [2], [0], [3], [5]]
    assert length_buckets([5, 5, 5], 0.0) == [[0, 1, 2]]


def test_counts_like_data_and_the_tokens_a_model_keeps():
    """The bench reports the tokens the network itself selects, from the values it trains on."""
    import torch

    from omicsformer.data.preprocess import Preprocessor
    from omicsformer.models import MODELS, ModelContext
    from omicsformer.tasks import TargetInfo

    raw = counts_like(20, 500, 0.9)
    assert abs((raw == 0).mean() - 0.9) < 0.02 and raw.min() == 0 and (raw[raw > 0] >= 1).all()
    genes = [f"g{i}" for i in range(500)]
    pre = Preprocessor.fit(raw, genes, transform="log1p")
    x = torch.from_numpy(pre.apply(raw, genes))
    target = TargetInfo("classification", ["y"], ["a", "b"])
    context = ModelContext(genes, target, seed=0, preprocessor=pre)

    def network(name: str, **options):
        spec = MODELS.get(name)
        typed = spec.parse_options({"dim": 8, "heads": 2, **options})
        model = spec.build(typed, context)
        return model.network(typed, context, model.architecture(typed, context, x.numpy()))

    assert list(kept_tokens(network("gene-transformer"), x)) == [500] * 20  # tokens=all
    expressed = network("gene-transformer", tokens="expressed")
    assert (kept_tokens(expressed, x) == (raw > 0).sum(axis=1)).all()
    capped = network("hybrid", tokens="expressed", max_tokens=10)
    assert kept_tokens(capped, x).max() == 10


@pytest.mark.slow
def test_bench_attention_expressed_mode_beside_dense(cli, tmp_path, measured_matmul_peak):
    out = tmp_path / "expressed"
    args = ["bench", "attention", "--genes", "200", "--dim", "32", "--heads", "2"]
    args += ["--backends", "sdpa,linformer", "--repeats", "1", "--no-report"]
    result = cli(*args, "--tokens", "all,expressed", "--zero-fraction", "0.8", "--out", out)
    assert result.code == 0, result.err
    frame = pd.read_csv(out / "attention.csv").set_index(["backend", "tokens"])
    assert frame.loc[("sdpa", "all"), "tokens_mean"] == 200
    assert 20 < frame.loc[("sdpa", "expressed"), "tokens_mean"] < 60
    assert frame.loc[("sdpa", "expressed"), "status"] == "ok"
    assert frame.loc[("linformer", "expressed"), "status"] == "skipped"
    bad = cli(*args, "--tokens", "sparse", "--out", tmp_path / "bad")
    assert bad.code == 2 and "--tokens takes all and/or expressed" in bad.err


@pytest.mark.slow
def test_bench_model_on_a_real_matrix_uses_every_gene(cli, tmp_path):
    out = tmp_path / "data"
    data = "synthetic:n_samples=30,n_genes=120"
    args = ["bench", "model", "--models", "mlp", "--batch", "4", "--repeats", "1", "--no-report"]
    result = cli(*args, "--data", data, "--out", out)
    assert result.code == 0, result.err
    frame = pd.read_csv(out / "model.csv")
    assert list(frame.genes) == [120] and list(frame.tokens_mean) == [120]
    assert (frame.status == "ok").all() and list(frame.data) == [data]
    top = cli(*args, "--data", data, "--top-genes", "50", "--out", tmp_path / "top")
    assert top.code == 0 and list(pd.read_csv(tmp_path / "top/model.csv").genes) == [50]
    missing = cli(*args, "--data", tmp_path / "nope.csv", "--out", tmp_path / "missing")
    assert missing.code == 2


@pytest.mark.slow
def test_bench_model_expressed_mode(cli, tmp_path):
    """The gene-transformer's expressed mode beside dense: tokens kept, time, memory."""
    assert has_token_modes("gene-transformer")
    out = tmp_path / "expressed"
    result = cli(
        "bench",
        "model",
        *("--models", "mlp,gene-transformer", "--genes", "300", "--batch", "4"),
        *("--repeats", "1", "-o", "gene-transformer.dim=16", "--no-report"),
        *("--tokens", "all,expressed", "--zero-fraction", "0.9", "--out", out),
    )
    assert result.code == 0, result.err
    frame = pd.read_csv(out / "model.csv").set_index(["model", "tokens"])
    dense, expressed = (
        frame.loc[("gene-transformer", "all")],
        frame.loc[("gene-transformer", "expressed")],
    )
    assert dense.status == "ok" and expressed.status == "ok", expressed.note
    assert dense.tokens_mean == 300 and 10 < expressed.tokens_mean < 60
    assert expressed.tokens_min <= expressed.tokens_mean <= expressed.tokens_max
    assert frame.loc[("mlp", "expressed"), "status"] == "skipped"


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


@pytest.mark.slow
def test_generator_quality_tells_a_collapsed_generator_from_a_faithful_one():
    rng = np.random.default_rng(0)
    means = rng.normal(size=(2, 300))

    def real(n):
        labels = np.arange(n) % 2
        return means[labels] + rng.normal(size=(n, 300)), labels

    x_train, _ = real(120)
    x_test, y_test = real(80)
    faithful = generator_quality(_Generator(means, 1.0, rng), x_train, x_test, y_test, seed=0)
    collapsed = generator_quality(_Generator(means, 0.3, rng), x_train, x_test, y_test, seed=0)
    assert faithful["tstr"] > 0.9
    assert abs(faithful["variance_ratio"] - 1) < 0.1 and collapsed["variance_ratio"] < 0.5
    assert abs(faithful["nn_distance_ratio"] - 1) < 0.1 and collapsed["nn_distance_ratio"] < 0.8
    assert faithful["discriminator_auroc"] < 0.7
    assert collapsed["discriminator_auroc"] > 0.9


def test_generator_quality_does_not_read_copies_of_the_training_patients_as_more_real():
    """Against the generator's own training patients, near-copies read far below 0.5 (each one's
    twin is in the other cross-validation part); against unseen patients they read about 0.5,
    and the nearest-neighbour ratio is what says they are copies."""
    rng = np.random.default_rng(0)
    x_train, x_test = rng.normal(size=(22, 2000)), rng.normal(size=(26, 2000))

    class Copier:
        def class_counts(self):
            return {0: 22}

        def sample(self, counts, seed):
            return (x_train + 0.1 * rng.normal(size=x_train.shape)) / 1.005, np.zeros(22, int)

    quality = generator_quality(Copier(), x_train, x_test, np.zeros(26, int), seed=0)
    copies = Copier().sample(None, 0)[0]
    assert discriminator_auroc(x_train, copies, seed=0) < 0.2  # the artefact avoided
    assert 0.3 < quality["discriminator_auroc"] < 0.7
    assert quality["nn_distance_ratio"] < 0.2


def test_variance_ratio_sums_over_genes_and_is_the_scale_squared_for_a_scaled_copy():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(200, 50)) * np.linspace(0.01, 3, 50)  # near-constant genes too
    assert variance_ratio(3 * real, real) == pytest.approx(9)
    same = rng.normal(size=(4000, 50)) * np.linspace(0.01, 3, 50)
    assert variance_ratio(same, real) == pytest.approx(1, abs=0.1)
    near_constant = real.copy()
    near_constant[:, 0] = 1e-9 * rng.normal(size=200)  # the old per-gene SD ratio exploded here
    assert variance_ratio(real, near_constant) == pytest.approx(1, abs=0.01)


def test_correlation_similarity_is_high_for_the_same_gaussian_and_low_for_independent_genes():
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(30, 30))
    real = rng.normal(size=(300, 30)) @ mixing
    same = rng.normal(size=(300, 30)) @ mixing
    independent = rng.normal(size=(300, 30)) * real.std(0)
    assert correlation_similarity(same, real) > 0.9
    assert abs(correlation_similarity(independent, real)) < 0.3
    assert correlation_similarity(real, real) == pytest.approx(1)


def test_nn_distance_ratio_is_zero_for_copies_and_about_one_for_new_patients():
    rng = np.random.default_rng(0)
    train, test, new = (rng.normal(size=(100, 20)) for _ in range(3))
    assert nn_distance_ratio(train[rng.integers(0, 100, 60)], train, test) == pytest.approx(0)
    assert nn_distance_ratio(new, train, test) == pytest.approx(1, abs=0.1)


def test_tstr_scores_survival_with_a_cox_model_trained_on_synthetic_patients():
    rng = np.random.default_rng(0)

    def cohort(n):
        x = rng.normal(size=(n, 10))
        time = rng.exponential(np.exp(-1.5 * x[:, 0]))
        return x, np.column_stack([time, rng.random(n) < 0.8]).astype(float)

    (x_syn, y_syn), (x_test, y_test) = cohort(200), cohort(100)
    assert tstr(x_syn, y_syn, x_test, y_test) > 0.7
    shuffled = y_syn[rng.permutation(200)]
    assert tstr(x_syn, shuffled, x_test, y_test) < 0.65


@pytest.mark.slow
@pytest.mark.parametrize(
    ("task", "model", "augments", "generators"),
    [
        ("classification", "logreg", "none,cvae:epochs=3,wgan:steps=2", 2),
        ("survival", "coxph", "none,wgan:steps=2,n=40", 1),
    ],
)
def test_bench_augmentation_shows_every_generator_s_quality(
    cli, tmp_path, task, model, augments, generators
):
    out = tmp_path / "aug"
    flags = f"--task {task} --model {model} --train-fractions 1 --augment {augments} --folds 2"
    data = "synthetic:n_samples=90,n_genes=20"
    result = cli("bench", "augmentation", "--data", data, *flags.split(), "--out", out)
    assert result.code == 0, result.err
    frame = pd.read_csv(out / "augmentation.csv")
    made = frame[frame.augment != "none"]
    assert len(made) == 2 * generators and "sd_ratio" not in frame
    quality = ["tstr", "discriminator_auroc", "variance_ratio", "correlation_similarity"]
    assert made[[*quality, "nn_distance_ratio"]].notna().all().all()
    assert made.discriminator_auroc.between(0, 1).all() and (made.variance_ratio > 0).all()
    summary = (out / "summary.md").read_text()
    assert "Synthetic patients' quality" in summary
    rows = [line for line in summary.splitlines() if line.startswith("| wgan")]
    assert len(rows) == 2  # its row of the metric table, its row of the quality table
    page = (out / "report.html").read_text()
    assert "Synthetic patients&#x27; quality" in page or "Synthetic patients' quality" in page
    assert all(name in page for name in quality)
