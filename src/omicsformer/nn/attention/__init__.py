"""Attention backends, registered by name (``--attention NAME``).

Every backend follows the contract in :mod:`omicsformer.nn.attention.base`; ``eager`` is the
reference the others are tested against.

=========  =====  ====================================================  ==========
name       exact  method                                                cost
=========  =====  ====================================================  ==========
eager      yes    softmax(QKᵀ/√D)V written out (Vaswani 2017)           O(N²) mem
sdpa       yes    torch SDPA: FlashAttention / mem-efficient / cuDNN    O(N) mem
flash      yes    flash-attn package, FlashAttention-2 (Dao 2024)       O(N) mem
linformer  no     learned low-rank token projections (Wang 2020)        O(N·k)
nystrom    no     Nyström landmarks + pseudo-inverse (Xiong 2021)       O(N·m)
performer  no     FAVOR+ positive orthogonal random features (2021)     O(N·m·D)
linear     no     elu(x)+1 feature map (Katharopoulos 2020)             O(N·D²)
=========  =====  ====================================================  ==========
"""

from __future__ import annotations

import inspect
from typing import Any

from omicsformer.errors import ConfigError
from omicsformer.nn.attention.base import AttentionBackend, BackendInfo
from omicsformer.nn.attention.eager import EagerAttention
from omicsformer.nn.attention.flash import FlashAttention
from omicsformer.nn.attention.linear import LinearAttention
from omicsformer.nn.attention.linformer import LinformerAttention
from omicsformer.nn.attention.nystrom import NystromAttention
from omicsformer.nn.attention.performer import PerformerAttention
from omicsformer.nn.attention.sdpa import SDPAttention
from omicsformer.registry import Registry

BACKENDS: Registry[type[AttentionBackend]] = Registry("attention backend")
for _backend in (
    EagerAttention,
    SDPAttention,
    FlashAttention,
    LinformerAttention,
    NystromAttention,
    PerformerAttention,
    LinearAttention,
):
    BACKENDS.add(_backend.info.name, _backend)


def backend_options(name: str) -> list[str]:
    """The user-settable options of backend ``name`` (sizes such as n_tokens are supplied)."""
    params = inspect.signature(BACKENDS.get(name).__init__).parameters
    return [p for p in params if p not in ("self", "n_tokens", "head_dim")]


def make_backend(
    name: str, *, n_tokens: int | None = None, head_dim: int | None = None, **options: Any
) -> AttentionBackend:
    """Build backend ``name``; ``n_tokens`` and ``head_dim`` go to the backends that need them."""
    cls = BACKENDS.get(name)
    unknown = sorted(set(options) - set(backend_options(name)))
    if unknown:
        valid = ", ".join(backend_options(name)) or "(none)"
        raise ConfigError(
            f"attention backend {name!r} has no option {', '.join(unknown)}; valid: {valid}"
        )
    params = inspect.signature(cls.__init__).parameters
    if "n_tokens" in params:
        if n_tokens is None:
            raise ConfigError(f"attention backend {name!r} needs a fixed number of tokens")
        options["n_tokens"] = n_tokens
    if "head_dim" in params:
        options["head_dim"] = head_dim
    return cls(**options)


def check_backend(
    name: str, *, device: str, precision: str, masked: bool = False, key_padding: bool = False
) -> None:
    """Fail early, with a clear message, if backend ``name`` cannot run as configured."""
    import torch

    dtypes = {"32": torch.float32, "bf16-mixed": torch.bfloat16, "16-mixed": torch.float16}
    BACKENDS.get(name).check(
        device=device, dtype=dtypes[precision], masked=masked, key_padding=key_padding
    )


__all__ = [
    "BACKENDS",
    "AttentionBackend",
    "BackendInfo",
    "backend_options",
    "check_backend",
    "make_backend",
]
