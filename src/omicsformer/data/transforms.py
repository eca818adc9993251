"""The value transforms of ``--transform``, named and computed in this one place.

``none`` leaves the values as read; ``log1p`` is ln(1 + x); ``log2p1`` is log2(1 + x). The run
configuration takes its choices from :data:`TRANSFORMS` (:data:`omicsformer.config.Transform`),
the preprocessing (:class:`omicsformer.data.preprocess.Preprocessor`) and the pretraining cohorts
apply :func:`apply_transform`, the scale check (:func:`omicsformer.data.scale.check_scale`) knows
the log ones by :data:`LOG_TRANSFORMS`, and an augmenter that works on linear values learns the
base of the log from :func:`log_base`.

This module imports nothing of omicsformer: the configuration, at the bottom of the layers,
reads its names. For the same reason numpy is imported when a transform is applied, not with
the names: the command line reads the configuration before its heavy imports.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

# transform name -> the base of its log (None: no log)
LOG_BASES: dict[str, float | None] = {"none": None, "log1p": math.e, "log2p1": 2.0}
TRANSFORMS: tuple[str, ...] = tuple(LOG_BASES)
LOG_TRANSFORMS: tuple[str, ...] = tuple(name for name, base in LOG_BASES.items() if base)


def log_base(transform: str) -> float | None:
    """The base of ``transform``'s log (e for ``log1p``, 2 for ``log2p1``), None for ``none``
    (and for a name that is no transform)."""
    return LOG_BASES.get(transform)


def apply_transform(values: np.ndarray, transform: str) -> np.ndarray:
    """``values`` transformed: ln(1 + x) for ``log1p``, log2(1 + x) for ``log2p1``, as they are
    for ``none`` (the same array). NaN stays NaN; the caller refuses negative values first."""
    import numpy as np  # here, not above: see the module docstring

    if transform == "log1p":
        return np.log1p(values)
    if transform == "log2p1":
        return np.log2(1.0 + values)
    return values
