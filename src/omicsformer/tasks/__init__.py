"""Prediction tasks: how a target is encoded, what a model outputs, and how it is scored."""

from omicsformer.registry import Registry
from omicsformer.tasks.base import TargetInfo, Task
from omicsformer.tasks.classification import ClassificationTask
from omicsformer.tasks.regression import RegressionTask
from omicsformer.tasks.survival import SurvivalTask

TASKS: Registry[Task] = Registry("task")
for _task in (ClassificationTask(), SurvivalTask(), RegressionTask()):
    TASKS.add(_task.name, _task)

__all__ = ["TASKS", "TargetInfo", "Task"]
