"""The attention-backend contract.

Notation used in every backend file::

    B  batch           H  heads          N  query tokens      M  key / value tokens
    D  head dimension

A backend computes attention from already-projected queries, keys and values::

    backend(q, k, v, *, mask=None, need_weights=False) -> (out, weights_or_None)

    q: (B, H, N, D)    k, v: (B, H, M, D)    out: (B, H, N, D)
    mask: bool, broadcastable to (B, H, N, M); True = may attend (the SDPA convention); or a
          StructuredMask (gene sets: rows built on demand, see masks.py) for backends that
          support masks
    weights: (B, H, N, M) softmax rows, only when need_weights=True

Every backend declares what it supports in a :class:`BackendInfo`, so that a bad combination
(a mask on a backend without mask support, a device or dtype it cannot run) fails when the model
is built, with a clear message, not deep inside ``forward``. Its options are declared once, in
its file, as a frozen dataclass of :func:`option` fields (default, help, valid range) named by
``BackendInfo.options``; ``BackendInfo.model_options`` says which of them the gene-level models
expose as flat ``-o`` options, and under which name (see :mod:`omicsformer.nn.settings`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from omicsformer.config import bounded
from omicsformer.errors import ConfigError
from omicsformer.nn.attention.masks import StructuredMask


def option(default: Any, help: str, *, search: Any = None, **limits: Any) -> Any:
    """A backend option: a dataclass field with its ``help`` text and, for a number, the range
    that :func:`~omicsformer.config.bounded` checks when options are read (``low=1``, ...)."""
    metadata = dict(bounded(default, search=search, **limits).metadata) if limits else {}
    return field(default=default, metadata={**metadata, "help": help})


@dataclass(frozen=True)
class NoOptions:
    """The options of a backend that has none."""


ALL_FLOATS = (torch.float32, torch.float16, torch.bfloat16)


@dataclass(frozen=True)
class BackendInfo:
    """What an attention backend supports.

    The defaults are what most backends declare (no general masks, key-padding masks, CPU and
    CUDA, every float dtype, no weights of their own); a backend names only what differs.

    Attributes
    ----------
    name
        Registry name.
    exact
        True if the result equals softmax(QKᵀ/√D)V up to floating-point error.
    supports_mask
        Accepts any boolean attention mask (B, H, N, M), and structured (gene-set) masks.
    key_padding
        Accepts key-padding masks (B, 1, 1, M): keys marked False are ignored. Kernel and
        low-rank approximations support these (they zero the padded keys), not general masks.
    devices
        Device types it runs on ("cpu", "cuda").
    dtypes
        Floating-point dtypes it runs in.
    returns_weights
        Produces the full attention matrix itself (others compute requested rows on demand).
    paper
        The reference for the method.
    options
        The options dataclass (fields made with :func:`option`); :class:`NoOptions` if none.
    model_options
        ``{option: model option name}``: the options the gene-level models expose as flat
        ``-o NAME=VALUE`` options (saved in model.json under that name); others keep their
        defaults there.
    fixed_tokens
        Built for a fixed number of tokens (``n_tokens``), e.g. learned token projections.
    """

    name: str
    exact: bool
    paper: str
    supports_mask: bool = False
    key_padding: bool = True
    devices: tuple[str, ...] = ("cpu", "cuda")
    dtypes: tuple[torch.dtype, ...] = ALL_FLOATS
    returns_weights: bool = False
    options: type = NoOptions
    model_options: Mapping[str, str] = field(default_factory=dict)
    fixed_tokens: bool = False


class AttentionBackend(nn.Module):
    """Base class: subclasses set ``info`` and implement :meth:`_attend`.

    :meth:`forward` holds the call contract once, for every backend; :meth:`_attend` is the
    kernel alone. :meth:`weight_rows` gives the attention rows this backend *effectively*
    applies, for chosen query tokens only: softmax rows for exact backends, the implied
    (approximate) rows for the others. Interpretation uses it, in chunks, so no backend ever
    needs an N x M matrix.
    """

    info: BackendInfo

    def forward(
        self,
        q: Tensor,
        k: Tensor,
        v: Tensor,
        *,
        mask: Tensor | StructuredMask | None = None,
        need_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """Attention of ``q`` over ``k``, ``v`` (see the module docstring for the shapes).

        Parameters
        ----------
        q, k, v
            Projected queries (B, H, N, D), keys and values (B, H, M, D).
        mask
            True = may attend; a boolean mask broadcastable to (B, H, N, M) or a structured
            (gene-set) mask for backends with ``info.supports_mask``, a key-padding mask
            (B, 1, 1, M) for the others.
        need_weights
            Also return the (B, H, N, M) weights: the backend's own (``info.returns_weights``)
            or its :meth:`all_weights`, computed row chunk by row chunk.

        Returns
        -------
        tuple
            ``out`` (B, H, N, D) and the weights, or None unless ``need_weights``.

        Raises
        ------
        ConfigError
            A general mask on a backend that takes key-padding masks only.
        """
        if mask is not None and not self.info.supports_mask:
            if isinstance(mask, StructuredMask):
                raise ConfigError(
                    f"attention backend {self.info.name!r} does not support attention masks"
                )
            check_key_padding(mask, self.info.name)
        out, weights = self._attend(q, k, v, mask)  # (B, H, N, D), (B, H, N, M) or None
        if not need_weights:
            return out, None
        return out, (weights if weights is not None else self.all_weights(q, k, mask))

    def _attend(
        self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | StructuredMask | None
    ) -> tuple[Tensor, Tensor | None]:
        """The kernel: ``out`` (B, H, N, D) and, if it forms them anyway, the weights
        (B, H, N, M); None otherwise. ``mask`` has passed :meth:`forward`'s checks."""
        raise NotImplementedError

    def weight_rows(
        self, q: Tensor, k: Tensor, rows: Tensor, mask: Tensor | StructuredMask | None = None
    ) -> Tensor:
        """Attention weights of query tokens ``rows``: (B, H, R, M), each row summing to 1."""
        if isinstance(mask, StructuredMask):
            row_mask = mask.dense(q.shape[0], rows)  # (B or 1, 1, R, M)
        elif mask is not None and mask.shape[-2] > 1:
            row_mask = mask[..., rows, :]
        else:
            row_mask = mask
        return exact_weights(q[:, :, rows], k, row_mask, q.shape[-1] ** -0.5)

    def all_weights(
        self, q: Tensor, k: Tensor, mask: Tensor | StructuredMask | None = None, chunk: int = 1024
    ) -> Tensor:
        """Every row of :meth:`weight_rows` (B, H, N, M), computed ``chunk`` rows at a time."""
        n = q.shape[-2]
        parts = [
            self.weight_rows(q, k, torch.arange(i, min(i + chunk, n), device=q.device), mask)
            for i in range(0, n, chunk)
        ]
        return torch.cat(parts, dim=-2)

    @classmethod
    def check(
        cls,
        *,
        device: str,
        dtype: torch.dtype | None = None,
        masked: bool = False,
        key_padding: bool = False,
    ) -> None:
        """Raise a :class:`ConfigError` if this backend cannot run as asked."""
        info = cls.info
        if device not in info.devices:
            raise ConfigError(
                f"attention backend {info.name!r} does not run on {device}; "
                f"it supports: {', '.join(info.devices)}"
            )
        if dtype is not None and dtype not in info.dtypes:
            names = ", ".join(str(d).removeprefix("torch.") for d in info.dtypes)
            raise ConfigError(
                f"attention backend {info.name!r} does not support {dtype}; use {names}"
            )
        if masked and not info.supports_mask:
            raise ConfigError(f"attention backend {info.name!r} does not support attention masks")
        if key_padding and not (info.supports_mask or info.key_padding):
            raise ConfigError(f"attention backend {info.name!r} does not support key-padding masks")

    @classmethod
    def check_options(cls, options: Any, *, masked: bool) -> None:
        """Raise a :class:`ConfigError` if ``options`` cannot run as asked (``masked``: with a
        structured gene-set mask); every option value is fine unless a backend says otherwise."""


def key_padding_multiplier(mask: Tensor | None, name: str) -> Tensor | None:
    """A key-padding mask (B, 1|H, 1, M) as float multipliers (B, 1|H, M, 1); None stays None."""
    if mask is None:
        return None
    check_key_padding(mask, name)
    return mask.transpose(-2, -1).float()


def check_key_padding(mask: Tensor, name: str) -> None:
    """Raise a :class:`ConfigError` unless ``mask`` is a key-padding mask (B, 1|H, 1, M)."""
    if mask.dim() != 4 or mask.shape[-2] != 1:
        raise ConfigError(
            f"attention backend {name!r} supports key-padding masks (B, 1, 1, M) only, "
            f"got shape {tuple(mask.shape)}"
        )


def kernel_sums(q_f: Tensor, k_f: Tensor, v: Tensor, keep: Tensor | None) -> tuple[Tensor, Tensor]:
    """The two sums of kernel attention, φ(Q) (φ(K)ᵀ V) (B, H, N, D) and its normaliser
    φ(Q) φ(K)ᵀ 1 (B, H, N, 1), from query and key features φ(Q) (B, H, N, F), φ(K) (B, H, M, F)
    and a key-padding multiplier ``keep`` (B, 1|H, M, 1) or None; computed right to left, so
    never N x M (Katharopoulos et al. 2020, eq. 5). Each backend divides them its own way."""
    if keep is not None:
        k_f = k_f * keep  # padded keys contribute nothing
    kv = k_f.transpose(-2, -1) @ v.float()  # (B, H, F, D)
    normaliser = q_f @ k_f.sum(dim=-2, keepdim=True).transpose(-2, -1)  # (B, H, N, 1)
    return q_f @ kv, normaliser


def kernel_scores(q_f: Tensor, k_f: Tensor, keep: Tensor | None) -> Tensor:
    """The unnormalised rows φ(q) φ(K)ᵀ (B, H, R, M) that kernel attention implies, padded keys
    zeroed (``keep`` as in :func:`kernel_sums`)."""
    scores = q_f @ k_f.transpose(-2, -1)  # (B, H, R, M)
    return scores if keep is None else scores * keep.transpose(-2, -1)


def exact_weights(q: Tensor, k: Tensor, mask: Tensor | None, scale: float) -> Tensor:
    """softmax(QKᵀ·scale) with the mask applied: (B, H, N, M), computed in float32."""
    scores = torch.einsum("bhnd,bhmd->bhnm", q.float(), k.float()) * scale  # (B, H, N, M)
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    return torch.softmax(scores, dim=-1)
