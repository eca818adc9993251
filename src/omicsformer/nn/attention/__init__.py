"""Attention backends, registered by name (``--attention NAME``).

Every backend follows the contract in :mod:`omicsformer.nn.attention.base`; ``eager`` is the
reference the others are tested against.
"""

from __future__ import annotations

from typing import Any

from omicsformer.nn.attention.base import AttentionBackend, BackendInfo
from omicsformer.nn.attention.eager import EagerAttention
from omicsformer.nn.attention.sdpa import SDPAttention
from omicsformer.registry import Registry

BACKENDS: Registry[type[AttentionBackend]] = Registry("attention backend")
BACKENDS.add("eager", EagerAttention)
BACKENDS.add("sdpa", SDPAttention)


def make_backend(name: str, **options: Any) -> AttentionBackend:
    """Build backend ``name`` with its options (unknown options are a clear error)."""
    from omicsformer.errors import ConfigError

    cls = BACKENDS.get(name)
    try:
        return cls(**options)
    except TypeError as exc:
        raise ConfigError(f"attention backend {name!r}: {exc}") from None


__all__ = ["BACKENDS", "AttentionBackend", "BackendInfo", "make_backend"]
