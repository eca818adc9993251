"""``omicsformer demo``: classical baselines and attention models side by side on the bundled
leukemia cohort (all-leukemia, molecular subtype), 5-fold stratified cross-validation."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

from omicsformer.compare import compare
from omicsformer.config import DEMO_MODELS, DataConfig, RunConfig
from omicsformer.models import MODELS


def default_models() -> list[str]:
    """The demo's models whose optional dependencies are installed."""
    return [
        name
        for name in DEMO_MODELS
        if (extra := MODELS.get(name).extra) is None or importlib.util.find_spec(extra) is not None
    ]


def run_demo(
    out: Path,
    models: list[str] | None = None,
    folds: int = 5,
    attention: str | None = None,
    top_genes: int | None = None,
) -> pd.DataFrame:
    """Compare ``models`` on all-leukemia ``subtype`` (seed 0); write ``out``, print a table.

    ``attention`` sets the kernel of the gene-level models (gene-transformer, hybrid);
    ``top_genes`` keeps the most variable training genes (by default every gene is used).
    """
    config = RunConfig(data=DataConfig(source="all-leukemia", target="subtype"), seed=0)
    config.preprocess.top_genes = top_genes
    if attention:
        config.model.options["attention"] = attention
    return compare(config, models or default_models(), out, folds=folds, overwrite=True)
