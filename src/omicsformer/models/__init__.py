"""Model registry: each model is a :class:`~omicsformer.models.base.ModelSpec` under its name."""

from omicsformer.models.base import FitData, Model, ModelContext, ModelSpec, Runtime, build_model
from omicsformer.registry import Registry

MODELS: Registry[ModelSpec] = Registry("model")

from omicsformer.models import (  # noqa: E402, F401  (registration)
    attomics,
    baselines,
    gene_transformer,
    hybrid,
    mlp,
)

__all__ = ["MODELS", "FitData", "Model", "ModelContext", "ModelSpec", "Runtime", "build_model"]
