"""Task resolution: which task a target column gets with --task auto."""

import numpy as np
import pandas as pd

from omicsformer.tasks.resolve import infer_task


def test_task_inference():
    assert infer_task(pd.Series(np.linspace(0, 1, 50))) == "regression"
    assert infer_task(pd.Series(["a", "b"] * 10)) == "classification"
    assert infer_task(pd.Series([0, 1, 2] * 10)) == "classification"
    assert infer_task(pd.Series([True, False] * 10)) == "classification"
