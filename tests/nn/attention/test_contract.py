"""Every backend against the eager reference: outputs, gradients, masks, weights, build checks."""

import pytest
import torch

from omicsformer.errors import ConfigError, MissingDependencyError
from omicsformer.nn.attention import BACKENDS, check_backend, make_backend
from omicsformer.nn.attention.eager import EagerAttention

EXACT_CPU = [n for n, cls in BACKENDS.items() if cls.info.exact and "cpu" in cls.info.devices]
APPROXIMATE = [n for n, cls in BACKENDS.items() if not cls.info.exact]
TOLERANCE = {torch.float32: dict(atol=1e-5, rtol=1e-4), torch.bfloat16: dict(atol=2e-2, rtol=2e-2)}
SHAPES = [(1, 1, 7, 8), (2, 4, 33, 16), (3, 2, 128, 32)]


def qkv(shape, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*shape, generator=g).to(dtype).requires_grad_() for _ in range(3)]


def build(name, n_tokens, head_dim, **options):
    return make_backend(name, n_tokens=n_tokens, head_dim=head_dim, **options)


def run(backend, q, k, v, mask=None):
    out, _ = backend(q, k, v, mask=mask)
    out.backward(torch.ones_like(out) * 0.1)
    grads = [t.grad.clone() for t in (q, k, v)]
    for t in (q, k, v):
        t.grad = None
    return out.detach(), grads


def test_every_backend_declares_what_it_supports():
    for name, cls in BACKENDS.items():
        info = cls.info
        assert info.name == name and info.paper and info.devices and info.dtypes


@pytest.mark.parametrize("name", EXACT_CPU)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("masked", [False, True])
def test_exact_backends_match_eager_outputs_and_gradients(name, shape, dtype, masked):
    q, k, v = qkv(shape, dtype)
    mask = None
    if masked:
        mask = (
            torch.rand(shape[0], 1, shape[2], shape[2], generator=torch.Generator().manual_seed(1))
            > 0.3
        )
        mask[..., 0] = True  # every query keeps at least one key
    expected, expected_grads = run(EagerAttention(), q, k, v, mask)
    got, grads = run(build(name, shape[2], shape[3]), q, k, v, mask)
    torch.testing.assert_close(got, expected, **TOLERANCE[dtype])
    for g, e in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(g, e, **TOLERANCE[dtype])


@pytest.mark.parametrize("name", ["sdpa", "eager", *APPROXIMATE])
def test_weight_rows_equal_the_full_weight_matrix_rows(name):
    torch.manual_seed(0)
    q, k, v = (t.detach() for t in qkv((2, 2, 40, 8)))
    backend = build(name, 40, 8).eval()
    out, full = backend(q, k, v, need_weights=True)
    assert full.shape == (2, 2, 40, 40)
    rows = torch.tensor([0, 7, 39])
    torch.testing.assert_close(
        backend.weight_rows(q, k, rows), full[:, :, rows], atol=1e-5, rtol=1e-4
    )
    if BACKENDS.get(name).info.exact:
        torch.testing.assert_close(full.sum(-1), torch.ones(2, 2, 40))
        torch.testing.assert_close(full @ v, out, atol=1e-5, rtol=1e-4)


def test_exact_weight_rows_equal_eager_rows():
    q, k, _ = (t.detach() for t in qkv((1, 2, 50, 8)))
    rows = torch.tensor([3, 10])
    _, eager_weights = EagerAttention()(q, k, k, need_weights=True)
    torch.testing.assert_close(
        build("sdpa", 50, 8).weight_rows(q, k, rows), eager_weights[:, :, rows]
    )


def mean_error(name, n=256, d=16, seeds=3, **options):
    errors = []
    for seed in range(seeds):
        q, k, v = (t.detach() * 0.5 for t in qkv((1, 2, n, d), seed=seed))
        reference, _ = EagerAttention()(q, k, v)
        torch.manual_seed(seed)
        out, _ = build(name, n, d, **options).eval()(q, k, v)
        errors.append((out - reference).abs().mean().item())
    return sum(errors) / len(errors)


def test_performer_error_falls_with_more_features():
    errors = [mean_error("performer", features=m) for m in (16, 128, 1024)]
    assert errors[0] > errors[1] > errors[2]


def test_nystrom_error_falls_with_more_landmarks_and_is_exact_with_one_per_token():
    errors = [mean_error("nystrom", landmarks=m) for m in (4, 32, 128)]
    assert errors[0] > errors[1] > errors[2]
    assert mean_error("nystrom", n=64, landmarks=64, pinv_iterations=30) < 1e-4


def test_linformer_error_falls_with_k_and_identity_projection_is_exact():
    # random projections: error shrinks as k grows (averaged over draws)
    errors = [mean_error("linformer", seeds=5, k=k) for k in (8, 64, 256)]
    assert errors[0] > errors[2]
    q, k, v = (t.detach() for t in qkv((2, 2, 30, 8)))
    reference, _ = EagerAttention()(q, k, v)
    out, _ = build("linformer", 30, 8, k=30, init="identity")(q, k, v)
    torch.testing.assert_close(out, reference, atol=1e-5, rtol=1e-4)


def test_performer_redraws_features_during_training_only():
    backend = build("performer", 10, 8, features=16, redraw_interval=2)
    q, k, v = (t.detach() for t in qkv((1, 1, 10, 8)))
    first = backend.projection.clone()
    backend.train()
    for _ in range(3):
        backend(q, k, v)
    assert not torch.equal(first, backend.projection)
    backend.eval()
    frozen = backend.projection.clone()
    backend(q, k, v)
    assert torch.equal(frozen, backend.projection)


def test_bad_choices_fail_at_build_time_with_a_clear_message():
    with pytest.raises(ConfigError, match="does not support attention masks"):
        check_backend("performer", device="cpu", precision="32", masked=True)
    check_backend("performer", device="cpu", precision="32", key_padding=True)
    check_backend("flash", device="cuda", precision="bf16-mixed", key_padding=True)  # varlen
    with pytest.raises(ConfigError, match="'flash' does not run on cpu"):
        check_backend("flash", device="cpu", precision="bf16-mixed")
    with pytest.raises(ConfigError, match="'flash' does not support torch.float32"):
        check_backend("flash", device="cuda", precision="32")
    with pytest.raises(ConfigError, match="unknown attention backend 'flashy'"):
        make_backend("flashy")
    with pytest.raises(ConfigError, match="unknown key.*: landmark; valid keys: landmarks"):
        make_backend("nystrom", landmark=3)
    with pytest.raises(ConfigError, match="kernel: 'fast' is not one of: auto, flash"):
        make_backend("sdpa", kernel="fast")
    with pytest.raises(ConfigError, match="landmarks: must be at least 1, got 0"):
        make_backend("nystrom", landmarks=0)


def test_flash_without_the_package_names_the_extra():
    import importlib.util

    if importlib.util.find_spec("flash_attn") is not None:
        pytest.skip("flash-attn is installed")
    with pytest.raises(MissingDependencyError, match=r"omicsformer\[flash\]"):
        make_backend("flash")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("name", ["sdpa", "flash"])
def test_gpu_kernels_match_eager_in_bf16(name):  # pragma: no cover - runs only where a GPU is
    import importlib.util

    if name == "flash" and importlib.util.find_spec("flash_attn") is None:
        pytest.skip("flash-attn is not installed")
    q, k, v = (t.detach().cuda() for t in qkv((2, 4, 512, 64), torch.bfloat16))
    expected, _ = EagerAttention()(q, k, v)
    got, _ = build(name, 512, 64)(q, k, v)
    torch.testing.assert_close(got, expected, atol=2e-2, rtol=2e-2)


def test_sdpa_kernel_can_be_pinned():
    q, k, v = (t.detach() for t in qkv((1, 2, 16, 8)))
    expected, _ = EagerAttention()(q, k, v)
    out, _ = build("sdpa", 16, 8, kernel="math")(q, k, v)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", ["eager", "sdpa", "linear", "performer"])
def test_key_padding_equals_dropping_the_padded_tokens(name):
    """Padded keys must change nothing for the real queries (exact for kernel methods)."""
    torch.manual_seed(0)
    q, k, v = (t.detach() for t in qkv((2, 2, 12, 8)))
    backend = build(name, 12, 8, **({"features": 64} if name == "performer" else {})).eval()
    mask = torch.ones(2, 1, 1, 12, dtype=torch.bool)
    mask[..., 9:] = False  # the last 3 tokens are padding
    padded, _ = backend(q, k, v, mask=mask)
    if name == "performer":  # the stabiliser is data-dependent; use the same features
        trimmed, _ = backend(q[:, :, :9], k[:, :, :9], v[:, :, :9])
    else:
        trimmed, _ = build(name, 9, 8)(q[:, :, :9], k[:, :, :9], v[:, :, :9])
    torch.testing.assert_close(padded[:, :, :9], trimmed, atol=1e-5, rtol=1e-4)
    rows = backend.weight_rows(q, k, torch.tensor([0, 4]), mask)
    assert torch.all(rows[..., 9:] == 0)
    torch.testing.assert_close(rows.sum(-1), torch.ones(2, 2, 2))


def test_nystrom_segments_each_row_by_its_own_tokens():
    """With a key-padding mask a row gets the landmarks of its real tokens: the same result as
    the row alone, unpadded, whatever the padding (rows of different lengths pack together)."""
    torch.manual_seed(0)
    q, k, v = (t.detach() for t in qkv((3, 2, 20, 8)))
    backend = build("nystrom", 20, 8, landmarks=4).eval()
    lengths = [20, 13, 3]  # 5 tokens per landmark, 4 per landmark (the last short), 1 each
    mask = torch.zeros(3, 1, 1, 20, dtype=torch.bool)
    for row, n in enumerate(lengths):
        mask[row, ..., :n] = True
    padded, _ = backend(q, k, v, mask=mask)
    for row, n in enumerate(lengths):
        alone, _ = backend(
            q[row : row + 1, :, :n], k[row : row + 1, :, :n], v[row : row + 1, :, :n]
        )
        torch.testing.assert_close(padded[row : row + 1, :, :n], alone, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("name", ["linformer", "nystrom"])
def test_low_rank_backends_ignore_padded_keys(name):
    torch.manual_seed(0)
    q, k, v = (t.detach() for t in qkv((1, 2, 16, 8)))
    backend = build(name, 16, 8, **({"k": 8} if name == "linformer" else {"landmarks": 4})).eval()
    mask = torch.ones(1, 1, 1, 16, dtype=torch.bool)
    mask[..., 12:] = False
    out, _ = backend(q, k, v, mask=mask)
    k2, v2 = k.clone(), v.clone()
    k2[:, :, 12:] += 5.0  # whatever sits in the padding must not matter
    v2[:, :, 12:] -= 3.0
    again, _ = backend(q, k2, v2, mask=mask)
    torch.testing.assert_close(out[:, :, :12], again[:, :, :12])
    assert torch.all(backend.weight_rows(q, k, torch.tensor([1]), mask)[..., 12:] == 0)


def test_general_masks_are_refused_by_approximations():
    q, k, v = (t.detach() for t in qkv((1, 1, 6, 4)))
    with pytest.raises(ConfigError, match="key-padding masks"):
        build("linear", 6, 4)(q, k, v, mask=torch.ones(1, 1, 6, 6, dtype=torch.bool))


def test_sdpa_varlen_skips_the_padding_exactly():
    """sdpa varlen (nested jagged tensors) equals the masked kernel at the real queries, in the
    outputs and the gradients, and leaves zeros at the padded queries."""
    torch.manual_seed(0)
    q, k, v = qkv((3, 2, 12, 8))
    lengths = torch.tensor([12, 7, 1])
    mask = (torch.arange(12) < lengths[:, None])[:, None, None, :]  # (B, 1, 1, N)
    real = mask[:, 0, 0, :, None].expand(3, 12, 8).unsqueeze(1).expand(3, 2, 12, 8)
    varlen, _ = build("sdpa", 12, 8, varlen=True)(q, k, v, mask=mask)
    masked, _ = build("sdpa", 12, 8)(q, k, v, mask=mask)
    torch.testing.assert_close(varlen[real], masked[real], atol=1e-6, rtol=1e-5)
    assert (varlen[~real] == 0).all()
    grads = [torch.autograd.grad(out[real].square().sum(), (q, k, v)) for out in (varlen, masked)]
    for a, b in zip(*grads, strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)


def test_flash_runs_a_key_padding_mask_through_its_varlen_kernel(monkeypatch):
    """flash-attn needs a GPU, so a stand-in package checks the call: each row's real tokens
    (T, H, D), int32 row offsets and the longest row; the result is the masked attention's."""
    import types

    import torch.nn.functional as F

    from omicsformer.nn.attention import flash

    calls = []

    def varlen_func(q, k, v, cu_q, cu_k, max_q, max_k):
        calls.append((cu_q.dtype, cu_q.tolist(), cu_k.tolist(), max_q, max_k, tuple(q.shape)))
        rows = []
        for a, b in zip(cu_q[:-1].tolist(), cu_q[1:].tolist(), strict=True):
            q_, k_, v_ = (t[a:b].transpose(0, 1)[None] for t in (q, k, v))  # (1, H, L, D)
            rows.append(F.scaled_dot_product_attention(q_, k_, v_)[0].transpose(0, 1))
        return torch.cat(rows)  # (T, H, D)

    package = types.SimpleNamespace(flash_attn_func=None, flash_attn_varlen_func=varlen_func)
    monkeypatch.setattr(flash, "flash_attn", lambda: package)
    monkeypatch.setattr(flash.FlashAttention, "check_inputs", lambda self, q: None)  # CPU, fp32
    q, k, v = (t.detach() for t in qkv((3, 2, 10, 8)))
    mask = (torch.arange(10) < torch.tensor([10, 4, 7])[:, None])[:, None, None, :]
    out, _ = flash.FlashAttention()(q, k, v, mask=mask)
    assert calls == [(torch.int32, [0, 10, 14, 21], [0, 10, 14, 21], 10, 10, (21, 2, 8))]
    expected, _ = build("sdpa", 10, 8)(q, k, v, mask=mask)
    real = mask[:, 0, 0, :, None].unsqueeze(1).expand_as(out)  # (B, H, N, D)
    torch.testing.assert_close(out[real], expected[real], atol=1e-6, rtol=1e-5)
    assert (out[~real] == 0).all()
