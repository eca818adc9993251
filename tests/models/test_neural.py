"""MLP and AttOmics: shapes, attention maps, overfitting a tiny batch, save / load."""

import json

import numpy as np
import pytest
import torch

from omicsformer.config import TrainConfig
from omicsformer.data.grouping import random_grouping
from omicsformer.models import MODELS, FitData, ModelContext, Runtime, build_model
from omicsformer.models.attomics import AttOmicsNet, scaled_token_sizes
from omicsformer.models.base import load_model, save_model
from omicsformer.tasks import TargetInfo

GENES = [f"g{i}" for i in range(48)]


def context(n_classes=3):
    classes = [f"c{i}" for i in range(n_classes)]
    return ModelContext(genes=GENES, target=TargetInfo("classification", ["y"], classes), seed=0)


@pytest.fixture
def tiny_batch():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(12, len(GENES))).astype(np.float32)
    y = np.arange(12) % 3
    return x, y


OVERFIT = {
    "mlp": {"hidden": [64], "dropout": 0.0},
    "attomics": {"n_groups": 4, "token_sizes": [16, 8], "head_hidden": [32], "dropout": 0.0},
}


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mlp", "attomics"])
def test_each_model_overfits_a_tiny_batch(tiny_batch, name):
    x, y = tiny_batch
    model = build_model(MODELS.get(name), OVERFIT[name], context())
    # the loss first drops under 0.05 by epoch 30 (mlp) and 48 (attomics); 80 leaves margin
    train = TrainConfig(max_epochs=80, batch_size=12, lr=3e-3, weight_decay=0.0, grad_clip=0.0)
    model.fit(FitData(x, y), Runtime(train=train, progress=False))
    assert model.history[-1]["train_loss"] < 0.05
    assert (model.predict(x).argmax(1) == y).all()


def test_attomics_shapes_and_attention_maps():
    grouping = random_grouping(len(GENES), 6, seed=0)
    net = AttOmicsNet(
        grouping, len(GENES), [12, 8, 4], heads=2, head_hidden=[16], dropout=0.1, n_outputs=3
    )
    x = torch.randn(5, len(GENES))
    assert net(x).shape == (5, 3)
    net.eval()
    with torch.no_grad():
        _, maps = net(x, return_attention=True)
    assert [m.shape for m in maps] == [(5, 2, 6, 6)] * 3
    for m in maps:
        torch.testing.assert_close(m.sum(-1), torch.ones(5, 2, 6))


def test_paper_token_sizes_scale_with_group_size():
    assert scaled_token_sizes(56_902 / 20, 4, 1) == [2164, 1459, 754, 50]
    small = scaled_token_sizes(631.25, 4, 1)
    assert small == [480, 324, 167, 11]
    assert all(s % 4 == 0 for s in scaled_token_sizes(631.25, 3, 4))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["mlp", "attomics"])
def test_saved_model_predicts_bit_identically(tmp_path, tiny_batch, name):
    x, y = tiny_batch
    spec = MODELS.get(name)
    model = build_model(spec, OVERFIT[name], context())
    fitted = model.fit(
        FitData(x, y, x[:6], y[:6]), Runtime(train=TrainConfig(max_epochs=3), progress=False)
    )
    save_model(model, spec, spec.parse_options(OVERFIT[name]), tmp_path / "m", fitted)
    loaded, _, _ = load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.n_parameters() == model.n_parameters()


def test_attomics_parameter_count_excludes_padding():
    net = AttOmicsNet(
        random_grouping(10, 3, 0), 10, [4], heads=1, head_hidden=[], dropout=0, n_outputs=2
    )
    projection = 10 * 4 + 3 * 4  # every gene in exactly one group
    attention = 4 * 4 * 4  # q, k, v, out without bias
    norm = 2 * 4
    head = 3 * 4 * 2 + 2
    assert net.n_parameters() == projection + attention + norm + head


@pytest.mark.slow
def test_a_model_saved_before_the_grouping_defaults_means_what_it_meant(tmp_path, tiny_batch):
    """model.json of an older version: n_groups=20 explicitly, no min_group_size / max_sets /
    max_overlap. It loads, predicts the same, and its options still say 20 groups and every set
    (max_sets=0), not today's defaults."""
    x, y = tiny_batch
    spec = MODELS.get("attomics")
    old = {"n_groups": 20, "token_sizes": [8], "head_hidden": [16]}
    model = build_model(spec, old, context())
    fitted = model.fit(FitData(x, y), Runtime(train=TrainConfig(max_epochs=1), progress=False))
    assert len(fitted["architecture"]["grouping"]["names"]) == 20
    save_model(model, spec, spec.parse_options(old), tmp_path / "m", fitted)
    path = tmp_path / "m" / "model.json"
    record = json.loads(path.read_text())
    for new in ("min_group_size", "max_sets", "max_overlap"):
        del record["options"][new]
    path.write_text(json.dumps(record))
    loaded, _, _ = load_model(tmp_path / "m")
    assert loaded.options.n_groups == 20 and loaded.options.max_sets == 0
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert spec.parse_options({}).max_sets == 50  # a new model: today's default cap
