"""Model registry: each model is a :class:`~omicsformer.models.base.ModelSpec` under its name."""

from omicsformer.models.base import FitData, Model, ModelContext, ModelSpec, Runtime, build_model
from omicsformer.registry import Registry

MODELS: Registry[ModelSpec] = Registry("model")

from omicsformer.models import (  # noqa: E402  (after MODELS, which their modules may use)
    attomics,
    baselines,
    gene_transformer,
    hybrid,
    mlp,
)

# every model under the name its spec declares, in the order commands list them
for _spec in (mlp.SPEC, attomics.SPEC, *baselines.SPECS, gene_transformer.SPEC, hybrid.SPEC):
    MODELS.add(_spec.name, _spec)

__all__ = ["MODELS", "FitData", "Model", "ModelContext", "ModelSpec", "Runtime", "build_model"]
