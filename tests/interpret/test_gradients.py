"""Gradient attributions: completeness, exact second-order scores, planted-pair recovery."""

import numpy as np
import pytest
import torch
from torch import nn

from omicsformer.config import TrainConfig
from omicsformer.data.datasets.synthetic import make_synthetic
from omicsformer.interpret import gradients as grad
from omicsformer.models import MODELS, FitData, ModelContext, Runtime, build_model
from omicsformer.tasks import TargetInfo


class Product(nn.Module):
    """f(x) = 3 x0 x1 + x2 (one output unit, like a risk)."""

    def forward(self, x):
        return (3 * x[:, 0] * x[:, 1] + x[:, 2]).unsqueeze(1)


def test_integrated_gradients_are_complete():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))
    x = torch.randn(4, 6)
    target = torch.tensor([0, 1, 2, 1])
    ig, delta = grad.integrated_gradients(net, x, target, steps=128)
    with torch.no_grad():
        gain = net(x).gather(1, target.view(-1, 1))[:, 0] - net(torch.zeros_like(x))[0, target]
    np.testing.assert_allclose(ig.sum(axis=1), gain.numpy(), atol=1e-3)
    assert np.all(np.abs(delta) < 1e-3)


def test_hessian_and_occlusion_read_a_known_interaction():
    x = torch.tensor([[1.0, 2.0, 5.0], [-1.0, 0.5, 2.0]])
    pairs = np.array([[0, 1], [0, 2], [1, 2]])
    hessian = grad.hessian_interactions(Product(), x, None, pairs)
    occlusion = grad.occlusion_interactions(Product(), x, None, pairs)
    expected = np.array([[3 * 1 * 2, 0, 0], [3 * -1 * 0.5, 0, 0]])
    np.testing.assert_allclose(hessian, expected, atol=1e-6)
    np.testing.assert_allclose(occlusion, expected, atol=1e-6)


@pytest.mark.slow
def test_trained_model_puts_the_planted_pair_on_top():
    data = make_synthetic(
        n_samples=800, n_genes=8, n_modules=0, n_pairs=1, n_marginal=0, noise=0.2, seed=4
    )
    x = np.asarray(data.adata.X)
    x = ((x - x.mean(0)) / x.std(0)).astype(np.float32)
    y = (data.adata.obs["label"] == "class_1").to_numpy().astype(int)
    genes = list(data.adata.var_names)
    context = ModelContext(
        genes, TargetInfo("classification", ["label"], ["class_0", "class_1"]), 0
    )
    model = build_model(MODELS.get("mlp"), {"hidden": [32], "dropout": 0.0}, context)
    train = TrainConfig(max_epochs=60, batch_size=64, lr=3e-3, patience=60)
    model.fit(FitData(x[:600], y[:600], x[600:], y[600:]), Runtime(train=train, progress=False))
    pairs = np.array([(a, b) for a in range(8) for b in range(a + 1, 8)])
    xt = torch.from_numpy(x[600:700])
    target = grad.targets_for(model.module, xt)
    scores = np.abs(grad.occlusion_interactions(model.module, xt, target, pairs)).mean(0)
    top = pairs[np.argmax(scores)]
    planted = sorted((genes.index(data.pairs[0].a), genes.index(data.pairs[0].b)))
    assert sorted(top.tolist()) == planted
