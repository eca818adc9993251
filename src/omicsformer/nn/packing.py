"""Variable-length token rows packed into length buckets (``tokens=expressed``).

Notation: R rows (a patient, or a patient's group in the hybrid), N candidate positions per row,
P rows of one bucket, L the bucket's longest row, X tokens put in front of every row (CLS and
global tokens).

A row keeps the positions where ``keep`` (R, N) is true, in their order. Rows are sorted by
length and grouped greedily: a row joins the current bucket while its length is at most
``(1 + padding)`` times the bucket's shortest, so no bucket pads a row by more than that
fraction. Each bucket is padded only to its own longest row; its key-padding mask hides the
padded keys and pooling skips the padded queries, so a row's result does not depend on the rows
it is packed with (tested in tests/models/test_expressed_tokens.py). ``padding=0`` packs only
rows of equal length (no mask: a backend without key-padding masks could run it).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor


class Bucket(NamedTuple):
    rows: Tensor  # (P,) the rows packed here
    positions: Tensor  # (P, L) each row's kept positions, in order; padding repeats position 0
    valid: Tensor  # (P, L) true at real (not padded) tokens
    mask: Tensor | None  # (P, 1, 1, X + L) keys a query may attend to; None when nothing is padded


def length_buckets(lengths: list[int], padding: float) -> list[list[int]]:
    """Rows (indices into ``lengths``) sorted by length (stable) and cut greedily into buckets
    whose longest is at most ``1 + padding`` times their shortest."""
    buckets: list[list[int]] = []
    for row in sorted(range(len(lengths)), key=lambda r: lengths[r]):
        if buckets and lengths[row] <= (1 + padding) * lengths[buckets[-1][0]]:
            buckets[-1].append(row)
        else:
            buckets.append([row])
    return buckets


def pack(keep: Tensor, padding: float, n_front: int = 0) -> list[Bucket]:
    """The kept positions of every row of ``keep`` (R, N), in length buckets (see the module
    docstring); ``n_front`` tokens in front of every row are real keys in the masks."""
    lengths = keep.sum(dim=1)  # (R,)
    # kept positions first, in their order (a stable sort of "not kept")
    first = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)  # (R, N)
    buckets = []
    for bucket in length_buckets(lengths.tolist(), padding):
        rows = torch.as_tensor(bucket, dtype=torch.long, device=keep.device)
        longest = int(lengths[rows].max())
        positions = first[rows, :longest]  # (P, L)
        valid = torch.arange(longest, device=keep.device) < lengths[rows, None]  # (P, L)
        mask = None
        if not bool(valid.all()):
            front = valid.new_ones(len(rows), n_front)
            mask = torch.cat([front, valid], dim=1)[:, None, None, :]
        buckets.append(Bucket(rows, positions.masked_fill(~valid, 0), valid, mask))
    return buckets


def cap_most_expressed(keep: Tensor, x: Tensor, cap: int) -> Tensor:
    """``keep`` (B, G) limited to each row's ``cap`` largest values of ``x`` (B, G) among the
    kept ones (rank-value order, as Geneformer); ``cap`` 0: no limit."""
    if not cap or not bool((keep.sum(dim=1) > cap).any()):
        return keep
    top = x.detach().masked_fill(~keep, float("-inf")).topk(min(cap, x.shape[1]), dim=1).indices
    return keep & torch.zeros_like(keep).scatter_(1, top, True)
