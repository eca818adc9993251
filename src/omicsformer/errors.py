"""User-facing errors.

Anything the user can fix (a bad file, an unknown column, mismatched IDs, NaN values) raises an
:class:`OmicsformerError` subclass whose message is one plain sentence. The CLI prints that line
and exits with code 2; any other exception is a bug and keeps its traceback.
"""

import importlib
from types import ModuleType


class OmicsformerError(Exception):
    """Base class for errors caused by user input; the message is shown as is."""


class DataError(OmicsformerError):
    """The input data (matrix, labels, clinical table) is missing, malformed or inconsistent."""


class ConfigError(OmicsformerError):
    """A configuration value, option or name is invalid."""


class RunError(OmicsformerError):
    """A run folder is missing, incomplete, or does not fit the data it is used with."""


class MissingDependencyError(OmicsformerError):
    """An optional dependency needed for the requested feature is not installed."""

    def __init__(self, package: str, extra: str | None = None, feature: str = ""):
        hint = f"pip install 'omicsformer[{extra}]'" if extra else f"pip install {package}"
        what = f" for {feature}" if feature else ""
        super().__init__(
            f"the optional package {package!r} is needed{what}; install it with: {hint}"
        )


def optional_import(
    module: str, package: str, extra: str | None = None, feature: str = ""
) -> ModuleType:
    """Import ``module`` of an optional dependency where a feature needs it, or raise a
    :class:`MissingDependencyError` that says what to install (``package``, or the ``extra``)."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependencyError(package, extra=extra, feature=feature) from None


class FetchError(OmicsformerError):
    """A download failed: the server could not be reached, refused, or sent a damaged file."""


class InvalidData(DataError, ValueError):
    """A :class:`DataError` raised through the Python API: also a ``ValueError``, which is what
    scikit-learn's model-selection tools expect of bad input."""


class InvalidConfig(ConfigError, ValueError):
    """A :class:`ConfigError` raised through the Python API: also a ``ValueError``, as
    scikit-learn expects of an invalid parameter."""


# what else lowers memory besides a smaller batch (docs/training.md, "Memory")
MEMORY_LEVERS = (
    "--precision bf16-mixed, -o checkpointing=true, -o ffn_chunk=N, an approximate --attention"
)


class OutOfMemory(OmicsformerError):
    """A pass over data (training epoch, validation, prediction, interpretation, embedding) ran
    out of memory: the message names the pass, the batch size used and the one to try.

    ``resume``: the command that continues a training run whose finished epochs were kept.
    """

    def __init__(self, what: str, batch_size: int, flag: str, resume: str | None = None):
        self.what, self.batch_size, self.flag, self.resume = what, batch_size, flag, resume
        super().__init__(what, batch_size, flag, resume)

    def __str__(self) -> str:
        if self.batch_size > 1:
            hint = f"try {self.flag} {self.batch_size // 2} (or lower memory: {MEMORY_LEVERS})"
        else:
            hint = f"lower memory with {MEMORY_LEVERS}"
        text = f"out of memory in {self.what} with batch size {self.batch_size}; {hint}"
        if self.resume:
            text += f"; the finished epochs are kept: {self.resume} {self.flag} N"
        return text
