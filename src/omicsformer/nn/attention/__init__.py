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

Backend names are written in one place, each backend's ``info.name``: everything else (the
``attention`` option's valid values, benchmark lists, help texts) reads them from ``BACKENDS``.
Each backend declares its options once, in its own file (``info.options``).
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping
from typing import Any, Literal

from omicsformer.config import from_dict
from omicsformer.errors import ConfigError
from omicsformer.nn.attention.base import AttentionBackend, BackendInfo, NoOptions
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

DEFAULT_BACKEND = SDPAttention.info.name
BackendName = Literal[tuple(BACKENDS.names())]  # the ``attention`` option: a registered name


def backend_options(name: str, values: Mapping[str, Any] | None = None) -> Any:
    """The options of backend ``name`` as its typed dataclass, from ``values`` (option ->
    value; missing ones take their defaults): unknown keys, types and ranges are checked."""
    info = BACKENDS.get(name).info
    return from_dict(info.options, dict(values or {}), f"options of attention backend {name!r}")


def make_backend(
    name: str,
    *,
    n_tokens: int | None = None,
    head_dim: int | None = None,
    options: Any = None,
    **values: Any,
) -> AttentionBackend:
    """Build backend ``name`` from its typed ``options`` (already checked) or from option
    ``values`` (checked here); ``n_tokens`` and ``head_dim`` go to the backends that need them."""
    cls = BACKENDS.get(name)
    if options is None:
        options = backend_options(name, values)
    elif values:
        raise TypeError("make_backend takes typed options or option values, not both")
    elif not isinstance(options, cls.info.options):
        raise TypeError(f"{name} takes {cls.info.options.__name__}, not {type(options).__name__}")
    kwargs = {f.name: getattr(options, f.name) for f in dataclasses.fields(options)}
    if cls.info.fixed_tokens:
        if n_tokens is None:
            raise ConfigError(f"attention backend {name!r} needs a fixed number of tokens")
        kwargs["n_tokens"] = n_tokens
    if "head_dim" in inspect.signature(cls.__init__).parameters:
        kwargs["head_dim"] = head_dim
    return cls(**kwargs)


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
    "DEFAULT_BACKEND",
    "AttentionBackend",
    "BackendInfo",
    "BackendName",
    "NoOptions",
    "backend_options",
    "check_backend",
    "make_backend",
]
