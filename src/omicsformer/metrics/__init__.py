"""Metrics as pure functions of numpy arrays."""

from omicsformer.metrics.classification import classification_metrics

__all__ = ["classification_metrics"]
