"""Model registry: each model is a :class:`~omicsformer.models.base.ModelSpec` under its name."""

from omicsformer.models.base import FitData, Model, ModelContext, ModelSpec, build_model
from omicsformer.registry import Registry

MODELS: Registry[ModelSpec] = Registry("model")

from omicsformer.models import baselines  # noqa: E402, F401  (registers the baselines)

__all__ = ["MODELS", "FitData", "Model", "ModelContext", "ModelSpec", "build_model"]
