"""The --transform names and their computation, in one place."""

import typing

import numpy as np
import pytest

from omicsformer.config import RunConfig, Transform
from omicsformer.data.scale import judged_scale
from omicsformer.data.transforms import (
    LOG_TRANSFORMS,
    TRANSFORMS,
    apply_transform,
    log_base,
)


def test_the_config_offers_the_transforms_named_here():
    assert typing.get_args(Transform) == TRANSFORMS == ("none", "log1p", "log2p1")
    assert LOG_TRANSFORMS == ("log1p", "log2p1")
    assert RunConfig().preprocess.transform in TRANSFORMS


@pytest.mark.parametrize(
    ("name", "expected", "base"),
    [
        ("log1p", lambda x: np.log1p(x), np.e),
        ("log2p1", lambda x: np.log2(x + 1.0), 2.0),
    ],
)
def test_each_log_is_one_plus_x_in_its_base(name, expected, base):
    x = np.array([[0.0, 1.0, 7.0], [np.nan, 1e6, 0.5]], dtype=np.float32)
    out = apply_transform(x, name)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, expected(x))  # bit for bit, NaN stays NaN
    assert log_base(name) == pytest.approx(base)
    np.testing.assert_allclose(base ** out[0], 1.0 + x[0], rtol=1e-6)


def test_none_leaves_the_values_as_they_are():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert apply_transform(x, "none") is x
    assert log_base("none") is None


def test_values_of_no_known_dataset_are_judged_by_the_largest():
    assert judged_scale(np.array([0.5, 7.17, np.nan])) == "log scale (largest value 7.17)"
    assert judged_scale(np.array([3.0, 12000.0])) == "linear"
    assert judged_scale(np.array([np.nan])) == "log scale (largest value 0)"
