"""The pages of the benchmark folders. The attention and model benchmarks run with a stand-in
for the measuring process (fresh Python processes take seconds each; tests/test_bench.py runs
them for real), so that a failed and a timed-out configuration can be planted; augmentation and
interactions run for real on tiny data."""

import json

import pandas as pd
import pytest

from tests.report.page_tables import figures, self_contained, tables, titles

DATA = "synthetic:n_samples=60,n_genes=20,n_modules=1,module_size=5"


def fake_worker(kind, payload, timeout):
    """What a measuring process returns: a matmul peak, or time and memory growing with size;
    performer at 256 tokens times out and the 100-gene mlp step fails."""
    if kind == "matmul":
        return {"status": "ok", "gflops": 100.0}
    n = payload.get("n", payload.get("genes"))
    if payload.get("backend") == "performer" and n == 256:
        return {"status": "failed", "note": f"timed out after {timeout:.0f} s"}
    if payload.get("model") == "mlp" and n == 100:
        return {"status": "failed", "note": "RuntimeError: out of memory"}
    row = {"status": "ok", "seconds": 1e-6 * n**1.5, "peak_memory_mb": 0.5 * n}
    if kind == "model":
        row["n_parameters"] = 10 * n
    return row


def _page(folder):
    manifest = json.loads((folder / "omicsformer.json").read_text())
    assert "report.html" in manifest["files"]  # written before the folder was published
    page = (folder / "report.html").read_text()
    assert self_contained(page)
    return page


@pytest.mark.slow
def test_attention_page_keeps_failed_and_skipped_rows(cli, tmp_path, monkeypatch):
    monkeypatch.setattr("omicsformer.bench.attention.run_worker", fake_worker)
    out = tmp_path / "att"
    args = ["bench", "attention", "--genes", "64,256", "--backends", "eager,sdpa,performer"]
    args += ["--dim", "32", "--heads", "2", "--memory-budget-gb", "0.0012", "--out", out]
    result = cli(*args)
    assert result.code == 0, result.err
    assert (out / "attention.png").read_bytes().startswith(b"\x89PNG")  # the same figure
    page = _page(out)
    assert titles(page) == ["Setup", "Time and memory vs tokens", "Every configuration"]
    assert len(figures(page)) == 1
    setup, rows = tables(page)
    assert dict(zip(setup.setting, setup.value, strict=True))["matmul peak (GFLOP/s)"] == "100.0"
    assert len(rows) == 6  # every configuration, the unmeasured ones included
    status = dict(zip(zip(rows.backend, rows.n, strict=True), rows.status, strict=True))
    assert status[("eager", "256")] == "skipped" and status[("performer", "256")] == "failed"
    failed = rows[rows.status == "failed"].iloc[0]
    assert "timed out" in failed.note and failed.seconds == ""
    assert "Not measured: 1 " in page and "1 skipped" in page and "1 failed" in page


def test_model_page_plots_every_model_and_lists_the_failure(cli, tmp_path, monkeypatch):
    monkeypatch.setattr("omicsformer.bench.model.run_worker", fake_worker)
    out = tmp_path / "model"
    args = ["bench", "model", "--models", "mlp,gene-transformer", "--genes", "50,100"]
    result = cli(*args, "--out", out)
    assert result.code == 0, result.err
    page = _page(out)
    assert titles(page) == ["Time and memory vs genes", "Every configuration"]
    assert len(figures(page)) == 1
    (rows,) = tables(page)
    assert sorted(zip(rows.model, rows.genes, strict=True)) == [
        ("gene-transformer", "100"),
        ("gene-transformer", "50"),
        ("mlp", "100"),
        ("mlp", "50"),
    ]
    failed = rows[rows.status == "failed"]
    assert list(failed.model) == ["mlp"] and "out of memory" in failed.note.iloc[0]
    assert rows[rows.status == "ok"].n_parameters.tolist() == ["500", "500", "1,000"]


def test_no_report_leaves_the_benchmark_without_a_page(cli, tmp_path, monkeypatch):
    monkeypatch.setattr("omicsformer.bench.model.run_worker", fake_worker)
    out = tmp_path / "model"
    args = ["bench", "model", "--models", "mlp", "--genes", "50", "--no-report", "--out", out]
    result = cli(*args)
    assert result.code == 0, result.err
    assert (out / "model.csv").is_file() and not (out / "report.html").exists()


@pytest.mark.slow
def test_augmentation_page_pairs_every_fold(cli, tmp_path):
    out = tmp_path / "aug"
    args = ["bench", "augmentation", "--data", DATA, "--model", "mlp", "--max-epochs", "2"]
    args += ["--augment", "none,noise", "--train-fractions", "0.5,1.0", "--folds", "2"]
    result = cli(*args, "--out", out)
    assert result.code == 0, result.err
    page = _page(out)
    assert titles(page) == ["balanced_accuracy per augmentation", "Learning curves"]
    assert len(figures(page)) == 2  # every fold joined across augmentations; learning curves
    (table,) = tables(page)
    assert list(table.augment) == ["none", "noise"]
    assert [c.split(" (")[0] for c in table.columns[1:]] == ["fraction 0.5", "fraction 1"]
    frame = pd.read_csv(out / "augmentation.csv")
    full = frame[frame.fraction == 1.0].set_index("fold")
    gain = (
        full[full.augment == "noise"].balanced_accuracy
        - full[full.augment == "none"].balanced_accuracy
    )
    assert f"gain {gain.mean():+.3f}" in table.iloc[1, 2]
    assert f"{(gain > 0).sum()} up / {(gain < 0).sum()} down" in table.iloc[1, 2]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_interactions_page_shows_recovery_per_model_and_method(cli, tmp_path):
    out = tmp_path / "inter"
    args = ["bench", "interactions", "--models", "mlp", "--methods", "hessian,occlusion"]
    args += ["--data", "synthetic:n_samples=200,n_genes=12"]
    result = cli(*args, "--max-epochs", "2", "--test-patients", "20", "--out", out)
    assert result.code == 0, result.err
    page = _page(out)
    assert titles(page) == ["Setup", "Recovery of the planted pairs"]
    assert len(figures(page)) == 1
    setup, recovery = tables(page)
    values = dict(zip(setup.setting, setup.value, strict=True))
    assert values["planted pairs"] == "3" and values["pairs scored"] == "66"
    assert list(zip(recovery.model, recovery.method, strict=True)) == [
        ("(control)", "random (mean of 2000)"),
        ("(control)", "pair_product_correlation"),
        ("mlp", "hessian"),
        ("mlp", "occlusion"),
    ]
    assert {"auroc", "precision_at_3", "precision_at_10", "p_value"} <= set(recovery.columns)


@pytest.mark.slow
def test_pages_show_dense_and_expressed_rows_side_by_side(cli, tmp_path, monkeypatch):
    monkeypatch.setattr("omicsformer.bench.attention.run_worker", fake_worker)
    out = tmp_path / "att"
    args = ["bench", "attention", "--genes", "64,1000", "--backends", "sdpa", "--dim", "32"]
    result = cli(*args, "--heads", "2", "--tokens", "all,expressed", "--out", out)
    assert result.code == 0, result.err
    page = _page(out)
    assert "Rows with tokens = expressed keep each patient" in page
    _, rows = tables(page)
    assert list(rows.tokens) == ["all", "expressed", "all", "expressed"]
    kept = dict(zip(zip(rows.tokens, rows.n, strict=True), rows.tokens_mean, strict=True))
    assert kept[("all", "1000")] == "1,000.0" and 60 < float(kept[("expressed", "1000")]) < 140

    def model_worker(kind, payload, timeout):
        row = fake_worker(kind, payload, timeout)
        kept = 20 if payload["tokens"] == "expressed" else payload["genes"]
        return {**row, "tokens_mean": kept, "tokens_min": kept, "tokens_max": kept}

    monkeypatch.setattr("omicsformer.bench.model.run_worker", model_worker)
    monkeypatch.setattr("omicsformer.bench.model.has_token_modes", lambda name: True)
    out = tmp_path / "model"
    args = ["bench", "model", "--models", "gene-transformer", "--genes", "200"]
    result = cli(*args, "--tokens", "all,expressed", "--out", out)
    assert result.code == 0, result.err
    (rows,) = tables(_page(out))
    assert list(zip(rows.tokens, rows.tokens_mean, strict=True)) == [
        ("all", "200.0"),
        ("expressed", "20.0"),
    ]
