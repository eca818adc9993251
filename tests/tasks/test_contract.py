"""Every task implements the whole Task protocol, so callers ask the task instead of branching
on its name."""

import numpy as np
import pytest
import torch

from omicsformer.errors import ConfigError
from omicsformer.tasks import TASKS, Task

MEMBERS = [name for name in dir(Task) if not name.startswith("_")] + list(Task.__annotations__)


@pytest.mark.parametrize("name", TASKS.names())
def test_task_implements_the_protocol(name):
    task = TASKS.get(name)
    missing = [m for m in MEMBERS if not hasattr(task, m)]
    assert not missing, f"{name} lacks {missing}"


def test_scikit_learn_side_and_mixing():
    y_class = np.array([0, 1, 1, 0, 1])
    y_surv = np.array([[1.0, 1], [2.0, 0], [3.0, 1], [4.0, 1], [5.0, 0]])
    classification, survival, regression = map(
        TASKS.get, ("classification", "survival", "regression")
    )
    assert np.array_equal(classification.inner_strata(y_class), y_class)
    assert np.array_equal(survival.inner_strata(y_surv), [1, 0, 1, 1, 0])
    assert regression.inner_strata(np.arange(5.0)) is None
    weights = classification.balanced_weights(y_class)
    assert weights[0] * 2 == pytest.approx(weights[1] * 3)  # 2 of class 0, 3 of class 1
    structured = survival.sklearn_target(y_surv)
    assert structured.dtype.names is not None and structured[1][0] == False  # noqa: E712
    lam, partner = torch.full((2, 1), 0.25), torch.tensor([1, 0])
    mixed = classification.mix_targets(torch.tensor([0, 1]), partner, lam, 2)
    assert torch.allclose(mixed, torch.tensor([[0.25, 0.75], [0.75, 0.25]]))
    values = regression.mix_targets(torch.tensor([0.0, 4.0]), partner, lam, 0)
    assert torch.allclose(values, torch.tensor([3.0, 1.0]))
    with pytest.raises(ConfigError, match="no valid meaning"):
        survival.mix_targets(torch.zeros(2, 2), partner, lam, 0)


@pytest.mark.parametrize("name", TASKS.names())
def test_prediction_columns_read_back_from_csv(name, tmp_path):
    """from_prediction_columns inverts prediction_columns through predictions.csv (read as text,
    as the report reads it)."""
    import pandas as pd

    from omicsformer.tasks import TargetInfo

    task, rng = TASKS.get(name), np.random.default_rng(0)
    if name == "classification":
        info = TargetInfo(name, ["label"], ["1", "B", "c 3"])
        y, output = rng.integers(0, 3, 20), rng.dirichlet(np.ones(3), 20)
    elif name == "survival":
        info = TargetInfo(name, ["os_time", "os_event"])
        y = np.column_stack([rng.exponential(1, 20), rng.random(20) < 0.6]).astype(float)
        output = rng.normal(size=20)
    else:
        info = TargetInfo(name, ["response"])
        y, output = rng.normal(size=20), rng.normal(size=20)
    pd.DataFrame(task.prediction_columns(y, output, info, {})).to_csv(tmp_path / "p.csv")
    frame = pd.read_csv(tmp_path / "p.csv", dtype=str, keep_default_na=False)
    y_back, output_back = task.from_prediction_columns(frame, info)
    np.testing.assert_array_equal(y_back, y)
    np.testing.assert_array_equal(output_back, output)
