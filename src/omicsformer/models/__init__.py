"""Model registry: each model is a :class:`~omicsformer.models.base.ModelSpec` under its name."""

from omicsformer.models.base import FitData, Model, ModelContext, ModelSpec, Runtime, build_model
from omicsformer.registry import Registry

MODELS: Registry[ModelSpec] = Registry("model")

from omicsformer.models import attomics, baselines, mlp  # noqa: E402, F401  (registration)

__all__ = ["MODELS", "FitData", "Model", "ModelContext", "ModelSpec", "Runtime", "build_model"]
