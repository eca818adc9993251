"""Prediction tasks: how a target is encoded, what a model outputs, and how it is scored."""

from omicsformer.registry import Registry
from omicsformer.tasks.base import TargetInfo, Task
from omicsformer.tasks.classification import ClassificationTask

TASKS: Registry[Task] = Registry("task")
TASKS.add("classification", ClassificationTask())

__all__ = ["TASKS", "TargetInfo", "Task"]
