"""omicsformer: predict patient phenotypes from gene-expression profiles with attention models."""

from omicsformer.errors import OmicsformerError

__version__ = "0.1.0"
__all__ = ["OmicsformerError", "__version__"]
