"""Attention settings shared by the gene-level models, flattened so that each is one ``-o`` option.

``attention`` picks the backend; the other fields are the options of the backends that use them
(ignored by the others): ``sdpa_kernel`` (sdpa), ``linformer_k`` (linformer), ``landmarks`` and
``pinv_iterations`` (nystrom), ``features`` and ``redraw_interval`` (performer; ``features=0`` is
the paper's default D·ln D).

``attention_mask=gmt:PATH`` (default ``none``) restricts gene-level attention to gene sets: a gene
attends to itself and to the genes it shares at least one set of the GMT file with (the sets are
read when the model is built and saved with it); ``attention_mask=go-bp`` uses the shipped GO
biological-process sets (human gene symbols, see :mod:`omicsformer.data.grouping`). It needs an
exact backend (``eager``, ``sdpa`` with ``sdpa_kernel=auto``). ``global_tokens`` learned tokens
(gene-transformer only; with ``pooling=cls`` the CLS token is one more) attend to every gene and
every gene to them, so information crosses sets within two layers; the hybrid adds none (its
group-level attention joins the groups).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omicsformer.config import bounded
from omicsformer.errors import ConfigError


@dataclass
class AttentionSettings:
    attention: str = "sdpa"
    sdpa_kernel: str = "auto"
    linformer_k: int = bounded(256, low=1)
    landmarks: int = bounded(64, low=1)
    pinv_iterations: int = bounded(6, low=1)
    features: int = bounded(0, low=0)
    redraw_interval: int = bounded(1000, low=0)
    attention_mask: str = "none"
    global_tokens: int = bounded(1, low=0)

    def gene_set_file(self, device: str | None = None) -> Path | None:
        """The GMT file of ``attention_mask`` (None for ``none``), checked before any data is
        read: the value's form, the file's existence, a backend that can honour a mask, and on
        CUDA (``device`` cuda, or auto with a GPU) the triton compiler FlexAttention needs."""
        from omicsformer.data.grouping import SHIPPED_GENE_SETS, shipped_gene_sets

        if self.attention_mask == "none":
            return None
        shipped = self.attention_mask in SHIPPED_GENE_SETS
        if not shipped and (
            not self.attention_mask.startswith("gmt:") or not self.attention_mask[4:]
        ):
            raise ConfigError(
                f"attention_mask must be none or gmt:PATH (or {', '.join(SHIPPED_GENE_SETS)}, "
                f"shipped gene sets), got {self.attention_mask!r}"
            )
        from omicsformer.nn.attention import BACKENDS

        info = BACKENDS.get(self.attention).info
        if not info.supports_mask:
            able = ", ".join(n for n, c in BACKENDS.items() if c.info.supports_mask)
            kind = "an approximation" if not info.exact else "a kernel without masks"
            raise ConfigError(
                f"attention_mask={self.attention_mask} needs a backend that honours masks "
                f"({able}); {self.attention!r} is {kind} and cannot"
            )
        if self.attention == "sdpa" and self.sdpa_kernel != "auto":
            raise ConfigError(
                f"attention_mask={self.attention_mask} runs its own masked kernels; "
                f"sdpa_kernel={self.sdpa_kernel} cannot be combined with it (leave it auto)"
            )
        path = shipped_gene_sets(self.attention_mask) if shipped else Path(self.attention_mask[4:])
        if not path.is_file():
            raise ConfigError(f"attention_mask: gene-set file {path} not found")
        if device is not None:
            import importlib.util

            import torch

            on_gpu = device == "cuda" or (device == "auto" and torch.cuda.is_available())
            if on_gpu and importlib.util.find_spec("triton") is None:
                raise ConfigError(
                    "attention_mask on CUDA runs FlexAttention, compiled by torch.compile, "
                    "which needs triton (pip install triton)"
                )
        return path

    def backend_options(self, n_tokens: int | None = None) -> dict[str, Any]:
        """Options for :func:`~omicsformer.nn.attention.make_backend` of ``self.attention``."""
        if self.attention == "sdpa":
            return {"kernel": self.sdpa_kernel}
        if self.attention == "linformer":
            k = self.linformer_k if n_tokens is None else min(self.linformer_k, n_tokens)
            return {"k": k}
        if self.attention == "nystrom":
            return {"landmarks": self.landmarks, "pinv_iterations": self.pinv_iterations}
        if self.attention == "performer":
            return {"features": self.features or None, "redraw_interval": self.redraw_interval}
        return {}
