"""omicsformer: predict patient phenotypes from gene-expression profiles with attention models.

The Python API (:mod:`omicsformer.api`): :class:`OmicsClassifier`, :class:`OmicsSurvival` and
:class:`OmicsRegressor` are scikit-learn estimators; :func:`load` returns the fitted estimator of
a run folder; :func:`read_data` reads a file or a built-in dataset into an AnnData as the
command line does. They are imported on first use, so that the command line starts fast.
"""

from omicsformer.errors import OmicsformerError

__version__ = "0.1.0"
__all__ = [
    "OmicsClassifier",
    "OmicsRegressor",
    "OmicsSurvival",
    "OmicsformerError",
    "__version__",
    "load",
    "read_data",
]
_API = ("OmicsClassifier", "OmicsRegressor", "OmicsSurvival", "load")


def __getattr__(name: str):
    if name in _API:
        from omicsformer import api

        return getattr(api, name)
    if name == "read_data":
        from omicsformer.data.readers import load_data

        return load_data
    raise AttributeError(f"module 'omicsformer' has no attribute {name!r}")
