"""Multi-head attention: one module owns the projections, the backend computes the kernel.

Notation: B batch, N tokens, E model width (``dim``), H heads, D = E / H head dimension.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from omicsformer.errors import ConfigError
from omicsformer.nn.attention import DEFAULT_BACKEND, make_backend
from omicsformer.nn.attention.masks import StructuredMask


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
        The backend's typed options (its ``info.options`` dataclass); None: its defaults.
    n_tokens
        Number of tokens, for backends that fix it (linformer).
    """

    def __init__(
        self,
        dim: int,
        heads: int = 1,
        backend: str = DEFAULT_BACKEND,
        bias: bool = False,
        backend_options: Any = None,
        n_tokens: int | None = None,
    ) -> None:
        super().__init__()
        if dim % heads:
            raise ConfigError(f"attention width {dim} is not divisible by {heads} heads")
        self.dim, self.heads, self.head_dim = dim, heads, dim // heads
        self.q = nn.Linear(dim, dim, bias=bias)
        self.k = nn.Linear(dim, dim, bias=bias)
        self.v = nn.Linear(dim, dim, bias=bias)
        self.out = nn.Linear(dim, dim, bias=bias)
        self.backend = make_backend(
            backend, n_tokens=n_tokens, head_dim=self.head_dim, options=backend_options
        )

    def _split(self, x: Tensor) -> Tensor:
        b, n, _ = x.shape
        return x.view(b, n, self.heads, self.head_dim).transpose(1, 2)  # (B, H, N, D)

    def project(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Queries, keys and values of ``x`` (B, N, E), each (B, H, N, D)."""
        return self._split(self.q(x)), self._split(self.k(x)), self._split(self.v(x))

    def forward(
        self,
        x: Tensor,
        *,
        mask: Tensor | StructuredMask | None = None,
        need_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """Attend ``x`` (B, N, E) to itself: (B, N, E), and (B, H, N, N) weights if asked."""
        q, k, v = self.project(x)
        out, weights = self.backend(q, k, v, mask=mask, need_weights=need_weights)  # (B, H, N, D)
        b, _, n, _ = out.shape
        out = out.transpose(1, 2).reshape(b, n, self.dim)  # (B, N, E)
        return self.out(out), weights

    @torch.no_grad()
    def attention_rows(
        self, x: Tensor, rows: Tensor, mask: Tensor | StructuredMask | None = None
    ) -> Tensor:
        """The backend's attention weights for query tokens ``rows`` only: (B, H, len(rows), N).

        Never forms the full N x N matrix, whatever the backend.
        """
        q, k, _ = self.project(x)
        return self.backend.weight_rows(q, k, rows, mask)
