"""User-facing errors.

Anything the user can fix (a bad file, an unknown column, mismatched IDs, NaN values) raises an
:class:`OmicsformerError` subclass whose message is one plain sentence. The CLI prints that line
and exits with code 2; any other exception is a bug and keeps its traceback.
"""


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


class FetchError(OmicsformerError):
    """A download failed: the server could not be reached, refused, or sent a damaged file."""


class InvalidData(DataError, ValueError):
    """A :class:`DataError` raised through the Python API: also a ``ValueError``, which is what
    scikit-learn's model-selection tools expect of bad input."""


class InvalidConfig(ConfigError, ValueError):
    """A :class:`ConfigError` raised through the Python API: also a ``ValueError``, as
    scikit-learn expects of an invalid parameter."""
