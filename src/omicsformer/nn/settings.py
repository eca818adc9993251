"""Attention settings shared by the gene-level models, flattened so that each is one ``-o`` option.

``attention`` picks the backend (a name of :data:`~omicsformer.nn.attention.BACKENDS`); the other
fields are the options of the backends that use them (ignored by the others), added here from
each backend's declaration (``BackendInfo.options`` and ``model_options``), with the backend's
default, range and help: ``sdpa_kernel`` (sdpa), ``linformer_k`` (linformer), ``landmarks`` and
``pinv_iterations`` (nystrom), ``features`` and ``redraw_interval`` (performer; ``features=0`` is
the paper's default D·ln D). These flat names are the user's spelling and model.json's; a new
backend adds its options in its own file, not here.

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

import dataclasses
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

from omicsformer.config import bounded
from omicsformer.errors import ConfigError
from omicsformer.nn.attention import BACKENDS, DEFAULT_BACKEND, BackendName


def with_backend_options(cls: type) -> type:
    """Add every backend's ``model_options`` to ``cls`` as flat fields, right after
    ``attention``, each a copy of the backend's own field (type, default, range, help) that
    remembers its backend (``metadata["backend"]``) and option name (``metadata["option"]``)."""
    annotations = dict(inspect.get_annotations(cls))
    flat: dict[str, Any] = {}
    for name, backend in BACKENDS.items():
        hints = get_type_hints(backend.info.options)
        declared = {f.name: f for f in dataclasses.fields(backend.info.options)}
        for option, flat_name in backend.info.model_options.items():
            if flat_name in flat or flat_name in annotations:
                raise ValueError(f"attention option {flat_name!r} is declared twice")
            source = declared[option]
            metadata = {**source.metadata, "backend": name, "option": option}
            setattr(cls, flat_name, field(default=source.default, metadata=metadata))
            flat[flat_name] = hints[option]
    at = list(annotations).index("attention") + 1
    items = list(annotations.items())
    cls.__annotations__ = dict([*items[:at], *flat.items(), *items[at:]])
    return cls


@dataclass
@with_backend_options
class AttentionSettings:
    attention: BackendName = field(
        default=DEFAULT_BACKEND, metadata={"help": "attention backend (kernel)"}
    )
    attention_mask: str = "none"
    global_tokens: int = bounded(1, low=0)

    def gene_set_file(self, device: str | None = None) -> Path | None:
        """The GMT file of ``attention_mask`` (None for ``none``), checked before any data is
        read: the value's form, the file's existence, a backend that can honour a mask, and on
        CUDA (``device`` cuda, or auto with a GPU) the triton compiler FlexAttention needs."""
        from omicsformer.data.grouping import SHIPPED_GENE_SETS, gene_set_file

        if self.attention_mask == "none":
            return None
        path = gene_set_file(self.attention_mask, "attention_mask")
        if path is None:
            raise ConfigError(
                f"attention_mask must be none or gmt:PATH (or {', '.join(SHIPPED_GENE_SETS)}, "
                f"shipped gene sets), got {self.attention_mask!r}"
            )
        backend = BACKENDS.get(self.attention)
        info = backend.info
        if not info.supports_mask:
            able = ", ".join(n for n, c in BACKENDS.items() if c.info.supports_mask)
            kind = "an approximation" if not info.exact else "a kernel without masks"
            raise ConfigError(
                f"attention_mask={self.attention_mask} needs a backend that honours masks "
                f"({able}); {self.attention!r} is {kind} and cannot"
            )
        try:
            backend.check_options(self.backend_options(), masked=True)
        except ConfigError as exc:
            raise ConfigError(f"attention_mask={self.attention_mask}: {exc}") from None
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

    def backend_options(self) -> Any:
        """The chosen backend's typed options (``BackendInfo.options``), from the flat fields
        it declares; they were checked when these settings were read, so they are not again."""
        info = BACKENDS.get(self.attention).info
        return info.options(**{o: getattr(self, flat) for o, flat in info.model_options.items()})
