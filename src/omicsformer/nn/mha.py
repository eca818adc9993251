"""Multi-head attention: one module owns the projections, the backend computes the kernel.

Notation: B batch, N tokens, E model width (``dim``), H heads, D = E / H head dimension.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from omicsformer.errors import ConfigError
from omicsformer.nn.attention import make_backend
from omicsformer.nn.attention.base import exact_weights


class MultiHeadAttention(nn.Module):
    """Self-attention with q/k/v/out projections and a swappable kernel.

    Parameters
    ----------
    dim
        Token width E.
    heads
        Number of heads H (must divide E).
    backend
        Registered attention backend name.
    bias
        Bias in the projections.
    backend_options
        Options of the backend (e.g. ``kernel`` for sdpa).
    """

    def __init__(
        self,
        dim: int,
        heads: int = 1,
        backend: str = "sdpa",
        bias: bool = False,
        backend_options: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if dim % heads:
            raise ConfigError(f"attention width {dim} is not divisible by {heads} heads")
        self.dim, self.heads, self.head_dim = dim, heads, dim // heads
        self.q = nn.Linear(dim, dim, bias=bias)
        self.k = nn.Linear(dim, dim, bias=bias)
        self.v = nn.Linear(dim, dim, bias=bias)
        self.out = nn.Linear(dim, dim, bias=bias)
        self.backend = make_backend(backend, **(backend_options or {}))

    def _split(self, x: Tensor) -> Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.heads, self.head_dim).transpose(1, 2)  # (B, H, N, D)

    def project(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Queries, keys and values of ``x`` (B, N, E), each (B, H, N, D)."""
        return self._split(self.q(x)), self._split(self.k(x)), self._split(self.v(x))

    def forward(
        self, x: Tensor, *, mask: Tensor | None = None, need_weights: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        """Attend ``x`` (B, N, E) to itself: (B, N, E), and (B, H, N, N) weights if asked."""
        q, k, v = self.project(x)
        out, weights = self.backend(q, k, v, mask=mask, need_weights=need_weights)  # (B, H, N, D)
        if need_weights and weights is None:
            weights = exact_weights(q, k, mask, self.head_dim**-0.5)
        b, _, n, _ = out.shape
        out = out.transpose(1, 2).reshape(b, n, self.dim)  # (B, N, E)
        return self.out(out), weights

    @torch.no_grad()
    def attention_rows(self, x: Tensor, rows: Tensor, mask: Tensor | None = None) -> Tensor:
        """Exact softmax rows for the query tokens ``rows`` only: (B, H, len(rows), N).

        Never forms the full N x N matrix, whatever the backend.
        """
        q, k, _ = self.project(x)
        row_mask = mask[..., rows, :] if mask is not None else None
        return exact_weights(q[:, :, rows], k, row_mask, self.head_dim**-0.5)
