"""linformer's fused kernel computes what the written-out formula computes, gradients included."""

import math

import pytest
import torch

from omicsformer.nn.attention import make_backend


def written_out(backend, q, k, v, mask=None):
    """softmax(Q (E K)ᵀ/√D) (F V) written out: the backend's formula before issue 16."""
    if mask is not None:
        keep = mask.transpose(-2, -1).to(k.dtype)  # (B, 1, M, 1)
        k, v = k * keep, v * keep
    k_low = torch.einsum("jm,bhmd->bhjd", backend.e.to(k.dtype), k)  # (B, H, k, D)
    v_low = torch.einsum("jm,bhmd->bhjd", backend.f.to(v.dtype), v)  # (B, H, k, D)
    scores = (q @ k_low.transpose(-2, -1)) / math.sqrt(q.shape[-1])  # (B, H, N, k)
    return scores.softmax(dim=-1) @ v_low  # (B, H, N, D)


def outputs_and_grads(fn, backend, q, k, v):
    out = fn(q, k, v)
    out.backward(torch.linspace(-1, 1, out.numel()).view_as(out).to(out.dtype))
    tensors = (q, k, v, backend.e, backend.f)
    grads = [t.grad.clone() for t in tensors]
    for t in tensors:
        t.grad = None
    return out.detach(), grads


def head_split(x, heads):
    """(B, N, H·D) -> (B, H, N, D) views, as MultiHeadAttention hands q, k, v to a backend."""
    b, n, _ = x.shape
    return x.view(b, n, heads, -1).transpose(1, 2).requires_grad_()


def padding(b, n):
    mask = torch.ones(b, 1, 1, n, dtype=torch.bool)
    mask[-1, ..., n - 5 :] = False  # the last patient's last 5 tokens are padding
    return mask


SHAPES = [(1, 4, 40, 32), (3, 2, 33, 8)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("padded", [False, True])
def test_fused_kernel_equals_the_written_out_formula(shape, padded):
    b, h, n, d = shape
    torch.manual_seed(0)
    backend = make_backend("linformer", n_tokens=n, head_dim=d, k=16)
    q, k, v = (head_split(torch.randn(b, n, h * d), h) for _ in range(3))
    mask = padding(b, n) if padded else None
    expected, expected_grads = outputs_and_grads(
        lambda q, k, v: written_out(backend, q, k, v, mask), backend, q, k, v
    )
    got, grads = outputs_and_grads(lambda q, k, v: backend(q, k, v, mask=mask)[0], backend, q, k, v)
    torch.testing.assert_close(got, expected, atol=1e-5, rtol=1e-4)
    for g, e in zip(grads, expected_grads, strict=True):  # q, k, v, E, F
        torch.testing.assert_close(g, e, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("shape", SHAPES)
def test_fused_kernel_in_bf16_is_as_close_to_fp32_as_the_written_out_formula(shape):
    """In bf16 both round differently; the fused kernel (fp32 accumulation) must not be worse."""
    b, h, n, d = shape
    torch.manual_seed(0)
    backend = make_backend("linformer", n_tokens=n, head_dim=d, k=16)
    inputs = [torch.randn(b, n, h * d) for _ in range(3)]
    mask = padding(b, n)

    def results(fn, dtype):
        out, grads = outputs_and_grads(fn, backend, *(head_split(x.to(dtype), h) for x in inputs))
        return [out.float(), *(g.float() for g in grads)]

    reference = results(lambda q, k, v: written_out(backend, q, k, v, mask), torch.float32)
    written = results(lambda q, k, v: written_out(backend, q, k, v, mask), torch.bfloat16)
    fused = results(lambda q, k, v: backend(q, k, v, mask=mask)[0], torch.bfloat16)
    for r, w, f in zip(reference, written, fused, strict=True):  # out, then grads of q, k, v, E, F
        error = (f - r).norm() / r.norm()
        assert error < 1e-2 and error <= 1.25 * (w - r).norm() / r.norm()
