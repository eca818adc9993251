"""The GPU table's pieces, on a CPU: peak lookup, FLOP count, the largest-batch search (the
worker's) against a fake out-of-memory, the table and plot writing, the refusal without CUDA,
and one tiny configuration end to end (``--device cpu --smoke``)."""

import math

import pandas as pd
import pytest
import torch

from omicsformer.bench import worker
from omicsformer.bench.gpu import (
    cell,
    device_peak,
    layer_flops,
    markdown_table,
    peak_tflops,
    plot_gpu,
)
from omicsformer.bench.worker import largest_batch


@pytest.mark.parametrize(
    ("name", "device", "bf16"),
    [
        ("NVIDIA H100 80GB HBM3", "H100 SXM", 989.0),
        ("NVIDIA H100 PCIe", "H100 PCIe", 756.0),
        ("NVIDIA H200", "H200", 989.0),
        ("NVIDIA A100-SXM4-80GB", "A100", 312.0),
        ("NVIDIA L40S", "L40S", 362.0),
        ("NVIDIA L4", "L4", 121.0),
    ],
)
def test_device_peaks_are_found_by_name(name, device, bf16):
    peak = device_peak(name)
    assert peak.device == device and peak_tflops(peak, "bf16") == bf16
    assert 0 < peak_tflops(peak, "32") < bf16


def test_an_unknown_device_has_no_peak():
    assert device_peak("Tesla T4") is None and math.isnan(peak_tflops(None, "bf16"))


def test_layer_flops_count_the_kernel_and_the_projections():
    heads, head_dim, width = 8, 64, 512
    forward = layer_flops([1000, 1000], heads, head_dim, mode="fwd")
    kernel = 4 * 2 * 1000**2 * heads * head_dim
    projections = 2 * 2000 * width * 4 * width
    assert forward == kernel + projections
    assert layer_flops([1000, 1000], heads, head_dim) == 3.5 * kernel + 3 * projections
    dense = layer_flops([1000, 1000], heads, head_dim)
    assert layer_flops([100, 100], heads, head_dim) < dense / 10  # expressed: kept tokens only


@pytest.mark.parametrize("limit", [0, 1, 2, 3, 7, 100, 1000, 1024, 5000])
def test_largest_batch_finds_the_limit_of_a_fake_out_of_memory(limit):
    calls = []

    def fits(batch):
        calls.append(batch)
        return batch <= limit

    assert largest_batch(fits, cap=1024) == min(limit, 1024)
    assert len(calls) <= 2 * math.log2(1024) + 2 and max(calls) <= 1024


@pytest.mark.slow
def test_the_worker_search_catches_out_of_memory_only(monkeypatch):
    def attention(case):
        if case["batch"] > 5:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB")
        return {"status": "ok", "seconds": 0.1 * case["batch"], "peak_memory_mb": 1.0, "note": ""}

    monkeypatch.setattr(worker, "attention", attention)
    payload = {"what": "attention", "case": {"device": "cpu"}, "max_batch": 64}
    assert worker.largest(payload) == {**attention({"batch": 5}), "batch": 5}
    monkeypatch.setattr(worker, "attention", lambda case: attention({"batch": 6}))
    assert worker.largest(payload)["status"] == "oom"

    def broken(case):
        raise ValueError("a bug, not a full device")

    monkeypatch.setattr(worker, "attention", broken)
    with pytest.raises(ValueError, match="a bug"):
        worker.largest(payload)


def _rows():
    base = {"device_name": "NVIDIA H100 80GB HBM3", "dim": 512, "heads": 8, "what": "attention"}
    rows = []
    for precision, peak in (("bf16", 989.0), ("32", 67.0)):
        for n in (1000, 4000):
            for name, tokens, kept in (("sdpa", "all", n), ("sdpa", "expressed", n / 10)):
                tflops = 100.0 if precision == "bf16" else 20.0
                rows.append(
                    {
                        **base,
                        "name": name,
                        "tokens": tokens,
                        "precision": precision,
                        "n": n,
                        "tokens_mean": kept,
                        "batch": 64,
                        "status": "ok",
                        "seconds": 0.064,
                        "seconds_per_patient": 0.001,
                        "peak_memory_mb": 100.0,
                        "tflops": tflops,
                        "peak_tflops": peak,
                        "fraction_of_peak": tflops / peak,
                    }
                )
    rows.append({**rows[0], "name": "eager", "status": "oom", "tflops": math.nan})
    return pd.DataFrame(rows)


@pytest.mark.slow
def test_markdown_table_has_a_cell_per_configuration(tmp_path):
    table = markdown_table(_rows())
    assert "H100 80GB HBM3 (dense peak 989 TFLOP/s bf16" in table
    assert "| | 1,000 genes | 4,000 genes |" in table
    assert "| sdpa | B 64, 1.00 ms/patient, 100 TFLOP/s (10%) |" in table
    assert "| sdpa, expressed | B 64, 1.00 ms/patient, 100 TFLOP/s (10%), 100 tokens |" in table
    assert "20 TFLOP/s (30%)" in table and "OOM at batch 1" in table
    assert cell(_rows().iloc[-1]) == "OOM at batch 1"
    plot_gpu(_rows(), tmp_path / "gpu.png")
    assert (tmp_path / "gpu.png").stat().st_size > 0


@pytest.mark.skipif(
    torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA"
)
def test_bench_gpu_refuses_without_cuda(cli, tmp_path):
    result = cli("bench", "gpu", "--out", tmp_path)
    assert result.code == 2 and "needs a CUDA GPU" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert cli("bench", "gpu", "--device", "cpu", "--out", tmp_path).code == 2  # cpu: --smoke only


@pytest.mark.slow
def test_bench_gpu_cpu_smoke_end_to_end(cli, tmp_path):
    result = cli("bench", "gpu", "--device", "cpu", "--smoke", "--out", tmp_path)
    assert result.code == 0, result.err
    frame = pd.read_csv(tmp_path / "attention-gpu.csv")
    attention = frame[frame.what == "attention"].set_index("tokens")
    assert (attention.status == "ok").all() and (attention.batch == 2).all()
    assert (
        attention.loc["all", "tokens_mean"] == 64 and attention.loc["expressed", "tokens_mean"] < 20
    )
    assert (attention.tflops > 0).all() and attention.fraction_of_peak.isna().all()  # cpu: no peak
    model = frame[frame.what == "model"].set_index("tokens")
    assert model.loc["all", "status"] == "ok" and model.loc["all", "name"] == "gene-transformer"
    expressed = model.loc["expressed"].set_index("varlen")  # masked buckets, then varlen
    assert list(expressed.status) == ["ok", "ok"] and expressed.index.tolist() == [False, True]
    assert "| gene-transformer, expressed, varlen |" in result.out
    assert "| sdpa, expressed |" in result.out and "not in the peak table" in result.out
    assert (tmp_path / "attention-gpu.png").stat().st_size > 0
    again = cli("bench", "gpu", "--device", "cpu", "--smoke", "--out", tmp_path)
    assert again.code == 2 and "--force" in again.err
