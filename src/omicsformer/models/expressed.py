"""``tokens=expressed`` for the gene-level models: only a patient's expressed genes are tokens.

Skipping unexpressed genes is "unpadding" (MosaicBERT skips padding tokens; scFoundation encodes
only non-zero genes); attention cost falls with the square of the tokens kept. A patient's tokens
are the genes whose *raw* value is above ``expressed_above`` (default 0: genes with any reads),
capped at the ``max_tokens`` most expressed (rank-value order, as Geneformer; by the model's input
value, i.e. relative to the gene's training mean and sd when z-scored).

The model only sees preprocessed values, but preprocessing is a per-gene monotone map fitted on
the training split (log, centring, scaling), so "raw > t" is "model value > f_g(t)": the per-gene
thresholds f_g(t) come from the fitted preprocessor (:meth:`Preprocessor.model_value`, the same
float32 operations as its ``apply``, so a raw value of exactly t maps to exactly f_g(t)) and are
saved in model.json; every predict path (train, predict, evaluate, interpret, embed, API) selects
the tokens from the values it already passes. Rows of different lengths run in length buckets
(:mod:`omicsformer.nn.packing`).

Refused, each in one line: backends whose learned projections are fixed to the whole gene list
(``linformer``), gene-set attention masks (built over the whole list), pretraining (it
reconstructs every gene) and batch correction (not a per-gene map of the raw value).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from omicsformer.config import bounded
from omicsformer.console import note
from omicsformer.errors import ConfigError, OmicsformerError
from omicsformer.models.base import ModelContext
from omicsformer.nn.attention import BACKENDS
from omicsformer.nn.packing import cap_most_expressed


@dataclass
class ExpressedTokens:
    """The options of ``tokens=expressed`` (a base of the gene-level models' options)."""

    tokens: Literal["all", "expressed"] = bounded(
        "all",
        help="all: every gene is a token; expressed: only the genes whose raw value is above "
        "expressed_above (per patient, thresholds from the training preprocessing)",
    )
    expressed_above: float = bounded(
        0.0,
        help="tokens=expressed: a gene is a token where its raw value (before any transform) "
        "is above this",
    )
    max_tokens: int = bounded(
        0, low=0, help="tokens=expressed: keep at most the N most expressed genes; 0: no cap"
    )
    bucket_padding: float = bounded(
        0.25,
        low=0,
        help="tokens=expressed: token rows whose lengths differ by at most this fraction run "
        "padded together (masked); 0: equal lengths only",
    )


class ExpressedGenes(nn.Module):
    """Which genes are a patient's tokens, from the thresholds saved in model.json; and how
    padded a length bucket may be (none for a backend without key-padding masks, which then
    runs rows of equal length together only)."""

    def __init__(self, options: Any, thresholds: list[float] | None, n_genes: int) -> None:
        super().__init__()
        if thresholds is None or len(thresholds) != n_genes:
            raise ConfigError("tokens=expressed needs one threshold per gene (model.json)")
        # (G,) model value of the raw threshold of each gene; rebuilt from model.json
        self.register_buffer(
            "thresholds", torch.tensor(thresholds, dtype=torch.float32), persistent=False
        )
        self.max_tokens = options.max_tokens
        key_padding = BACKENDS.get(options.attention).info.key_padding
        self.bucket_padding = options.bucket_padding if key_padding else 0.0

    def forward(self, x: Tensor) -> Tensor:
        """(B, G) true at each patient's tokens: raw value above the threshold, capped at the
        ``max_tokens`` largest values."""
        return cap_most_expressed(x > self.thresholds, x, self.max_tokens)


def check_tokens(options: Any) -> None:
    """tokens=expressed gives each patient its own gene list: refuse what is fixed to the list."""
    if options.tokens != "expressed":
        return
    if BACKENDS.get(options.attention).info.fixed_tokens:
        raise ConfigError(
            f"tokens=expressed gives each patient its own genes; {options.attention}'s learned "
            "projections are fixed to the whole gene list: use tokens=all or another attention"
        )
    if options.attention_mask != "none":
        raise ConfigError(
            "tokens=expressed cannot be combined with attention_mask (gene-set masks are built "
            "over the whole gene list): use one or the other"
        )


def refuse_pretraining() -> None:
    raise ConfigError(
        "pretraining reconstructs every gene, and tokens=expressed gives unexpressed genes no "
        "token: pretrain with tokens=all"
    )


def expressed_thresholds(
    options: ExpressedTokens, context: ModelContext, x_train: np.ndarray
) -> dict[str, Any]:
    """Each gene's model value of the raw threshold, from the preprocessing fitted on the
    training split (no preprocessor: the inputs are the raw values), and how many tokens the
    training patients keep (printed as a note, saved in model.json)."""
    t = options.expressed_above
    if context.preprocessor is None:
        thresholds = np.full(context.n_genes, t, dtype=np.float32)
    else:
        try:
            thresholds = context.preprocessor.model_value(t)
        except OmicsformerError as exc:
            raise ConfigError(
                f"tokens=expressed needs a per-gene monotone preprocessing: {exc}"
            ) from None
    kept = (np.asarray(x_train) > thresholds).sum(axis=1)
    if options.max_tokens:
        kept = np.minimum(kept, options.max_tokens)
    counts = {
        "median": int(np.median(kept)) if len(kept) else 0,
        "min": int(kept.min()) if len(kept) else 0,
        "max": int(kept.max()) if len(kept) else 0,
    }
    cap = f", at most {options.max_tokens} (the most expressed)" if options.max_tokens else ""
    note(
        f"tokens=expressed: a gene is a token where its raw value is > {t:g} (before any "
        f"transform){cap}; training patients keep a median of {counts['median']} of "
        f"{context.n_genes} genes (min {counts['min']}, max {counts['max']})"
    )
    return {
        "rule": f"raw value > {t:g}",
        "training_tokens": counts,
        "thresholds": thresholds.astype(np.float64).tolist(),  # float32 values, exact in JSON
    }


def saved_thresholds(options: ExpressedTokens, arch: dict[str, Any]) -> list[float] | None:
    """The thresholds saved by :func:`expressed_thresholds` (None with ``tokens=all``)."""
    return arch["expressed"]["thresholds"] if options.tokens == "expressed" else None
