"""The linear base, the zero-started last layer, and gated transformer blocks."""

import pytest
import torch
from torch import nn

from omicsformer.nn.attention import DEFAULT_BACKEND
from omicsformer.nn.blocks import TransformerBlock
from omicsformer.nn.residual import LinearBase, make_base, with_base, zero_last_layer
from omicsformer.nn.settings import AttentionSettings


def test_a_fitted_base_is_its_fixed_map_and_trains_nothing():
    base = LinearBase("fitted", 5, 3)
    weight, bias = torch.randn(3, 5), torch.randn(3)
    base.set_fitted(weight, bias)
    x = torch.randn(4, 5)
    torch.testing.assert_close(base(x), x @ weight.T + bias)
    assert list(base.parameters()) == []  # buffers: saved with the weights, never trained
    assert set(base.state_dict()) == {"weight", "bias"}


def test_a_linear_base_starts_at_zero_and_trains():
    base = LinearBase("linear", 5, 2)
    x = torch.randn(4, 5)
    assert torch.equal(base(x), torch.zeros(4, 2))
    assert sum(p.numel() for p in base.parameters()) == 5 * 2 + 2
    with pytest.raises(ValueError, match="fixed weights"):
        base.set_fitted(torch.zeros(2, 5), torch.zeros(2))


def test_no_base_adds_nothing_and_a_zero_last_layer_makes_the_sum_the_base():
    assert make_base("none", 5, 2) is None
    residual = torch.randn(4, 2)
    assert with_base(None, torch.randn(4, 5), residual) is residual
    head = nn.Sequential(nn.Linear(5, 8), nn.ReLU(), nn.Linear(8, 2))
    zero_last_layer(head)
    base = LinearBase("fitted", 5, 2)
    base.set_fitted(torch.randn(2, 5), torch.randn(2))
    x = torch.randn(4, 5)
    torch.testing.assert_close(with_base(base, x, head(x)), base(x))
    assert head[0].weight.abs().sum() > 0  # only the last layer starts at zero


@pytest.mark.parametrize("scale", [0.0, 0.1])
def test_gated_blocks_start_as_identity_at_zero_and_learn_their_gates(scale):
    torch.manual_seed(0)
    settings = AttentionSettings(attention=DEFAULT_BACKEND)
    block = TransformerBlock(8, 2, 2, 0.0, settings, layer_scale=scale)
    x = torch.randn(3, 5, 8)
    out = block(x)
    if scale == 0.0:
        torch.testing.assert_close(out, x)
    else:
        assert not torch.allclose(out, x)
    out.pow(2).sum().backward()
    assert block.gate1.grad.abs().sum() > 0 and block.gate2.grad.abs().sum() > 0


def test_blocks_without_gates_keep_their_old_weights():
    settings = AttentionSettings(attention=DEFAULT_BACKEND)
    block = TransformerBlock(8, 2, 2, 0.0, settings, layer_scale=None)
    assert not any(name.startswith("gate") for name in block.state_dict())
