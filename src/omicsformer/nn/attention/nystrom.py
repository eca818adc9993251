"""``nystrom``: Nyström approximation of softmax attention (Xiong, Zeng, Chakraborty, Tan, Fung,
Li, Singh; "Nyströmformer: A Nyström-Based Algorithm for Approximating Self-Attention", AAAI 2021).

With m landmarks Q̃, K̃ (means of consecutive segments of the queries and keys)::

    F = softmax(Q K̃ᵀ/√D)  (N, m)    A = softmax(Q̃ K̃ᵀ/√D)  (m, m)    B = softmax(Q̃ Kᵀ/√D)  (m, M)
    out = F A⁺ (B V)                                            O(N·m) time and memory

A⁺ is the Moore-Penrose pseudo-inverse computed by ``pinv_iterations`` Newton-Schulz iterations
(the paper's 6, with its initialisation Z₀ = Aᵀ / (‖A‖₁‖A‖∞)). With one landmark per token
(m = N = M) F = A = B and the result tends to exact attention as the iterations converge. Tokens
that do not split evenly are padded for the landmark means only (padding never enters a mean).

With a key-padding mask each row is segmented by its own real tokens, as if the padding were not
there (:func:`row_landmarks`): a row's result does not depend on how far it was padded, so rows
of different lengths can be packed together (``tokens=expressed``). A row with fewer landmarks
than the batch's largest has empty landmark slots, which get no weight in F and zero rows and
columns in A (the Newton-Schulz pseudo-inverse keeps that block structure: A⁺ is the real
block's pseudo-inverse).
The paper's optional depthwise-convolution skip on V is left out: it would add a learned term
that is not attention.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from omicsformer.nn.attention.base import (
    AttentionBackend,
    BackendInfo,
    key_padding_multiplier,
    option,
)


@dataclass(frozen=True)
class NystromOptions:
    landmarks: int = option(64, "landmarks m (segment means of queries and keys)", low=1)
    pinv_iterations: int = option(6, "Newton-Schulz iterations of the pseudo-inverse", low=1)


def _segment_sums(x: Tensor, m: int) -> Tensor:
    """Sums over contiguous segments of ceil(N / m) tokens: (..., m', D), m' = ceil(N / size)."""
    n, d = x.shape[-2], x.shape[-1]
    size = -(-n // m)  # tokens per segment
    count = -(-n // size)  # landmarks (<= m)
    padded = torch.nn.functional.pad(x, (0, 0, 0, count * size - n))  # zero rows at the end
    return padded.reshape(*x.shape[:-2], count, size, d).sum(dim=-2)


def segment_means(x: Tensor, m: int) -> Tensor:
    """Means of contiguous segments of ceil(N / m) tokens (the last may be shorter): (B, H, m', D).

    The segments are summed with a pad and a reshape (cheap forward and backward)."""
    counts = _segment_sums(x.new_ones(x.shape[-2], 1), m)  # (m', 1)
    return _segment_sums(x, m) / counts


def row_landmarks(
    q: Tensor, k: Tensor, keep: Tensor, landmarks: int
) -> tuple[Tensor, Tensor, Tensor]:
    """Landmarks of each row from its kept tokens only: Q̃, K̃ (B, H, m, D) and the slots that
    hold a landmark (B, 1, 1, m). A row of n kept tokens has segments of max(1, ceil(n / m))
    of them, in order, as :func:`segment_means` makes of an unpadded row of n tokens.

    ``keep`` (B, 1|H, N, 1) is the key-padding multiplier (one mask for queries and keys)."""
    kept = keep[..., 0] > 0  # (B, 1|H, N)
    n = kept.sum(dim=-1, keepdim=True)  # (B, 1|H, 1)
    m = min(landmarks, q.shape[-2])
    size = ((n + landmarks - 1) // landmarks).clamp(min=1)  # tokens per segment
    count = ((n + size - 1) // size).clamp(min=1)  # landmarks of the row (<= m)
    rank = kept.cumsum(dim=-1) - 1  # each kept token's position among the kept ones
    slot = torch.where(kept, rank // size, torch.full_like(rank, m))  # padding: slot m (dropped)
    index = slot.unsqueeze(-1)  # (B, 1|H, N, 1)

    def means(x: Tensor) -> Tensor:
        shape = (*x.shape[:-2], m + 1, x.shape[-1])
        sums = x.new_zeros(shape).scatter_add(-2, index.expand_as(x), x)
        counts = x.new_zeros(*index.shape[:-2], m + 1, 1).scatter_add(
            -2, index, torch.ones_like(index, dtype=x.dtype)
        )
        return (sums / counts.clamp(min=1))[..., :m, :]  # (B, H, m, D)

    present = torch.arange(m, device=q.device) < count  # (B, 1|H, m)
    return means(q), means(k), present.unsqueeze(-2)


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
        paper="Xiong et al. 2021, Nyströmformer (AAAI)",
        options=NystromOptions,
        model_options={"landmarks": "landmarks", "pinv_iterations": "pinv_iterations"},
    )

    def __init__(self, landmarks: int, pinv_iterations: int) -> None:
        super().__init__()
        self.landmarks, self.pinv_iterations = landmarks, pinv_iterations

    def _kernels(
        self, q: Tensor, k: Tensor, mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor, Tensor]:
        """F (N, m), A⁺ (m, m), B (m, M), computed in float32 for a stable pseudo-inverse.

        With a key-padding mask, padded tokens enter no landmark mean and get no weight in B.
        """
        q, k = q.float(), k.float()
        keep = key_padding_multiplier(mask, "nystrom")
        scale = 1.0 / math.sqrt(q.shape[-1])
        present = None  # (B, 1|H, 1, m) slots holding a landmark; None: all of them
        if keep is None:
            m = min(self.landmarks, q.shape[-2], k.shape[-2])
            q_land, k_land = segment_means(q, m), segment_means(k, m)  # (B, H, m, D)
        else:  # one mask for queries and keys: self-attention over padded rows
            q_land, k_land, present = row_landmarks(q, k, keep, self.landmarks)
        # the 1/√D scale goes on the small landmark tensors, never on an N x m one
        q_land = q_land * scale
        f = q @ (k_land * scale).transpose(-2, -1)  # (B, H, N, m)
        a = q_land @ k_land.transpose(-2, -1)  # (B, H, m, m)
        scores = q_land @ k.transpose(-2, -1)  # (B, H, m, M)
        if present is not None:  # empty slots: no weight in F, zero rows and columns in A
            f = f.masked_fill(~present, float("-inf"))
            a = a.masked_fill(~present, float("-inf")).softmax(-1)
            a = a * present.transpose(-2, -1)
        else:
            a = a.softmax(-1)
        if mask is not None:
            scores = scores.masked_fill(~mask, float("-inf"))
        return f.softmax(-1), newton_pinv(a, self.pinv_iterations), scores.softmax(-1)

    def _attend(self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None) -> tuple[Tensor, None]:
        f, a_pinv, b = self._kernels(q, k, mask)
        out = f @ (a_pinv @ (b @ v.float()))  # (B, H, N, D): right to left, never N x M
        return out.to(v.dtype), None

    def weight_rows(self, q: Tensor, k: Tensor, rows: Tensor, mask: Tensor | None = None) -> Tensor:
        f, a_pinv, b = self._kernels(q, k, mask)
        return f[:, :, rows] @ a_pinv @ b  # (B, H, R, M)
