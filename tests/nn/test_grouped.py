import numpy as np
import torch

from omicsformer.nn.grouped import GroupedLinear, GroupedProjection, _buckets


def reference_projection(module: GroupedProjection, members, x):
    """The same maps written as one small matmul per group (the slow, obvious way)."""
    out = []
    slots = {}
    for b in range(len(module.weights)):
        for row, j in enumerate(getattr(module, f"slot_{b}").tolist()):
            slots[j] = (b, row)
    for j, genes in enumerate(members):
        b, row = slots[j]
        w = module.weights[b][row, : len(genes)]  # (S_j, E)
        out.append(x[:, genes] @ w + module.biases[b][row])
    return torch.stack(out, dim=1)


def test_grouped_projection_equals_one_matmul_per_group():
    torch.manual_seed(0)
    members = [
        np.array([0, 3, 5]),
        np.arange(10, 40),
        np.array([1, 2]),
        np.arange(5, 60, 2),
        np.array([7]),
    ]
    module = GroupedProjection(members, n_inputs=60, dim=8)
    x = torch.randn(4, 60)
    got = module(x)
    assert got.shape == (4, 5, 8)
    torch.testing.assert_close(got, reference_projection(module, members, x))
    assert len(module.weights) < len(members)  # sizes 1,2,3 share a padded bucket


def test_padding_does_not_count_or_learn():
    members = [np.arange(0, 10), np.arange(10, 12)]
    module = GroupedProjection(members, n_inputs=12, dim=3, max_padding=10.0)  # one bucket
    assert len(module.weights) == 1
    assert module.n_real_weights == (10 + 2) * 3 + 2 * 3
    module(torch.randn(5, 12)).sum().backward()
    grad = module.weights[0].grad  # (2, 10, 3); slot order follows size: small group first
    small = module.slot_0.tolist().index(1)
    assert torch.all(grad[small, 2:] == 0)


def test_buckets_bound_the_padding():
    sizes = [10, 11, 12, 30, 31, 200, 240]
    buckets = _buckets(sizes, 0.25)
    for bucket in buckets:
        s = [sizes[j] for j in bucket]
        assert max(s) <= 1.25 * min(s)
    assert sorted(j for b in buckets for j in b) == list(range(len(sizes)))


def test_grouped_linear_is_a_per_token_matrix():
    layer = GroupedLinear(3, 4, 2)
    x = torch.randn(5, 3, 4)
    expected = torch.stack([x[:, k] @ layer.weight[k] + layer.bias[k] for k in range(3)], dim=1)
    torch.testing.assert_close(layer(x), expected)
