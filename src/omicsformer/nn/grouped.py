"""Per-group linear layers computed as a few batched matmuls, not a loop over groups.

Notation: B batch, G input genes, K groups, S_k size of group k, E token width.

:class:`GroupedProjection` gives every group of genes its own ``S_k -> E`` linear map (the
AttOmics input layer). Groups are sorted by size and packed into *buckets* whose sizes differ by
at most ``max_padding`` (25 %); each bucket is one padded ``einsum`` over all its groups, and the
padding reads a constant zero input, so it changes nothing. Equal-sized groups (random or
balanced k-means grouping) form a single bucket; gene sets of very different sizes form a handful.

:class:`GroupedLinear` maps each of K tokens with its own ``E_in -> E_out`` matrix (the AttOmics
re-projection between blocks): one ``einsum``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor, nn


def _buckets(sizes: list[int], max_padding: float) -> list[list[int]]:
    """Group indices packed so that, inside a bucket, max size <= (1 + max_padding) * min size."""
    order = sorted(range(len(sizes)), key=lambda j: sizes[j])
    buckets: list[list[int]] = []
    for j in order:
        if buckets and sizes[j] <= (1 + max_padding) * max(sizes[buckets[-1][0]], 1):
            buckets[-1].append(j)
        else:
            buckets.append([j])
    return buckets


class GroupedProjection(nn.Module):
    """Project each gene group (B, G) -> one token per group (B, K, E).

    Parameters
    ----------
    members
        For each group, the positions of its genes in the input (a gene may be in several).
    n_inputs
        Number of input genes G.
    dim
        Token width E.
    """

    def __init__(
        self, members: list[np.ndarray], n_inputs: int, dim: int, max_padding: float = 0.25
    ) -> None:
        super().__init__()
        self.n_groups, self.n_inputs, self.dim = len(members), n_inputs, dim
        self.n_real_weights = sum(len(m) for m in members) * dim + len(members) * dim
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for b, bucket in enumerate(_buckets([len(m) for m in members], max_padding)):
            width = max(len(members[j]) for j in bucket)
            index = torch.full(
                (len(bucket), width), n_inputs, dtype=torch.long
            )  # pad -> zero input
            weight = torch.zeros(len(bucket), width, dim)
            bias = torch.zeros(len(bucket), dim)
            for row, j in enumerate(bucket):
                size = len(members[j])
                index[row, :size] = torch.as_tensor(members[j], dtype=torch.long)
                bound = 1.0 / math.sqrt(max(size, 1))  # nn.Linear's default init, per group
                weight[row, :size].uniform_(-bound, bound)
                bias[row].uniform_(-bound, bound)
            self.register_buffer(f"index_{b}", index)  # (K_b, W_b)
            self.register_buffer(f"slot_{b}", torch.as_tensor(bucket, dtype=torch.long))  # (K_b,)
            self.weights.append(nn.Parameter(weight))  # (K_b, W_b, E)
            self.biases.append(nn.Parameter(bias))  # (K_b, E)

    def forward(self, x: Tensor) -> Tensor:
        padded = torch.cat([x, x.new_zeros(x.shape[0], 1)], dim=1)  # (B, G + 1)
        out = x.new_empty(x.shape[0], self.n_groups, self.dim)  # (B, K, E)
        for b, (weight, bias) in enumerate(zip(self.weights, self.biases, strict=True)):
            genes = padded[:, getattr(self, f"index_{b}")]  # (B, K_b, W_b)
            tokens = torch.einsum("bkw,kwe->bke", genes, weight) + bias  # (B, K_b, E)
            out[:, getattr(self, f"slot_{b}")] = tokens.to(out.dtype)
        return out


class GroupedLinear(nn.Module):
    """Per-token linear maps: (B, K, E_in) -> (B, K, E_out), each token its own matrix."""

    def __init__(self, n_groups: int, in_dim: int, out_dim: int) -> None:
        super().__init__()
        bound = 1.0 / math.sqrt(in_dim)
        self.weight = nn.Parameter(torch.empty(n_groups, in_dim, out_dim).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n_groups, out_dim).uniform_(-bound, bound))

    def forward(self, x: Tensor) -> Tensor:
        return torch.einsum("bki,kio->bko", x, self.weight) + self.bias  # (B, K, E_out)
