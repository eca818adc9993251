"""``nystrom``: Nyström approximation of softmax attention (Xiong, Zeng, Chakraborty, Tan, Fung,
Li, Singh; "Nyströmformer: A Nyström-Based Algorithm for Approximating Self-Attention", AAAI 2021).

With m landmarks Q̃, K̃ (means of consecutive segments of the queries and keys)::

    F = softmax(Q K̃ᵀ/√D)  (N, m)    A = softmax(Q̃ K̃ᵀ/√D)  (m, m)    B = softmax(Q̃ Kᵀ/√D)  (m, M)
    out = F A⁺ (B V)                                            O(N·m) time and memory

A⁺ is the Moore-Penrose pseudo-inverse computed by ``pinv_iterations`` Newton-Schulz iterations
(the paper's 6, with its initialisation Z₀ = Aᵀ / (‖A‖₁‖A‖∞)). With one landmark per token
(m = N = M) F = A = B and the result tends to exact attention as the iterations converge. Tokens
that do not split evenly are padded for the landmark means only (padding never enters a mean).
The paper's optional depthwise-convolution skip on V is left out: it would add a learned term
that is not attention.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from omicsformer.errors import ConfigError
from omicsformer.nn.attention.base import AttentionBackend, BackendInfo


def segment_means(x: Tensor, m: int) -> Tensor:
    """Means of m contiguous, near-equal segments along the token axis: (B, H, m, D)."""
    n = x.shape[-2]
    bounds = torch.linspace(0, n, m + 1, device=x.device).round().long()
    csum = torch.cat([x.new_zeros(*x.shape[:-2], 1, x.shape[-1]), x.cumsum(dim=-2)], dim=-2)
    sums = csum[..., bounds[1:], :] - csum[..., bounds[:-1], :]  # (B, H, m, D)
    return sums / (bounds[1:] - bounds[:-1]).clamp(min=1).to(x.dtype)[:, None]


def newton_pinv(a: Tensor, iterations: int) -> Tensor:
    """Pseudo-inverse of (..., m, m) matrices by Newton-Schulz iterations (Razavi et al. 2014)."""
    eye = torch.eye(a.shape[-1], device=a.device, dtype=a.dtype)
    norm1 = a.abs().sum(dim=-2).amax(dim=-1)  # max column sum
    norm_inf = a.abs().sum(dim=-1).amax(dim=-1)  # max row sum
    z = a.transpose(-2, -1) / (norm1 * norm_inf)[..., None, None]
    for _ in range(iterations):
        az = a @ z
        z = 0.25 * z @ (13 * eye - az @ (15 * eye - az @ (7 * eye - az)))
    return z


class NystromAttention(AttentionBackend):
    info = BackendInfo(
        name="nystrom",
        exact=False,
        supports_mask=False,
        devices=("cpu", "cuda"),
        dtypes=(torch.float32, torch.float16, torch.bfloat16),
        returns_weights=False,
        paper="Xiong et al. 2021, Nyströmformer (AAAI)",
    )

    def __init__(self, landmarks: int = 64, pinv_iterations: int = 6) -> None:
        super().__init__()
        if landmarks < 1 or pinv_iterations < 1:
            raise ConfigError("nystrom needs landmarks >= 1 and pinv_iterations >= 1")
        self.landmarks, self.pinv_iterations = landmarks, pinv_iterations

    def _kernels(self, q: Tensor, k: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """F (N, m), A⁺ (m, m), B (m, M), computed in float32 for a stable pseudo-inverse."""
        q, k = q.float(), k.float()
        m = min(self.landmarks, q.shape[-2], k.shape[-2])
        scale = 1.0 / math.sqrt(q.shape[-1])
        q_land, k_land = segment_means(q, m), segment_means(k, m)  # (B, H, m, D)
        f = (q @ k_land.transpose(-2, -1) * scale).softmax(-1)  # (B, H, N, m)
        a = (q_land @ k_land.transpose(-2, -1) * scale).softmax(-1)  # (B, H, m, m)
        b = (q_land @ k.transpose(-2, -1) * scale).softmax(-1)  # (B, H, m, M)
        return f, newton_pinv(a, self.pinv_iterations), b

    def forward(
        self,
        q: Tensor,
        k: Tensor,
        v: Tensor,
        *,
        mask: Tensor | None = None,
        need_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        f, a_pinv, b = self._kernels(q, k)
        out = f @ (a_pinv @ (b @ v.float()))  # (B, H, N, D): right to left, never N x M
        return out.to(v.dtype), (self.all_weights(q, k) if need_weights else None)

    def weight_rows(self, q: Tensor, k: Tensor, rows: Tensor, mask: Tensor | None = None) -> Tensor:
        f, a_pinv, b = self._kernels(q, k)
        return f[:, :, rows] @ a_pinv @ b  # (B, H, R, M)
