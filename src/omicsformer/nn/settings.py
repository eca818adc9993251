"""Attention settings shared by the gene-level models, flattened so that each is one ``-o`` option.

``attention`` picks the backend; the other fields are the options of the backends that use them
(ignored by the others): ``sdpa_kernel`` (sdpa), ``linformer_k`` (linformer), ``landmarks`` and
``pinv_iterations`` (nystrom), ``features`` and ``redraw_interval`` (performer; ``features=0`` is
the paper's default D·ln D).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from omicsformer.config import bounded


@dataclass
class AttentionSettings:
    attention: str = "sdpa"
    sdpa_kernel: str = "auto"
    linformer_k: int = bounded(256, low=1)
    landmarks: int = bounded(64, low=1)
    pinv_iterations: int = bounded(6, low=1)
    features: int = bounded(0, low=0)
    redraw_interval: int = bounded(1000, low=0)

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
