"""Attention extraction: row sums, chunked = dense, pair scores, rollout."""

import numpy as np
import pytest
import torch

from omicsformer.data.grouping import Grouping, random_grouping
from omicsformer.interpret import attention as att
from omicsformer.models.attomics import AttOmicsNet
from omicsformer.models.gene_transformer import GeneTransformer, GeneTransformerOptions
from omicsformer.models.hybrid import Hybrid, HybridOptions

G = 24
GENES = [f"g{i}" for i in range(G)]
SMALL = {"dim": 16, "heads": 2, "features": 32, "landmarks": 6, "linformer_k": 12}


def networks():
    torch.manual_seed(0)
    unequal = Grouping(
        "gmt", ["a", "b", "c"], [np.arange(0, 5), np.arange(5, 15), np.arange(10, 24)]
    )
    return {
        "gene-transformer": GeneTransformer(GeneTransformerOptions(**SMALL, layers=2), G, 2),
        "gene-transformer-cls-performer": GeneTransformer(
            GeneTransformerOptions(**SMALL, pooling="cls", attention="performer"), G, 2
        ),
        "hybrid": Hybrid(HybridOptions(**SMALL, n_groups=4), random_grouping(G, 4, 0), G, 2),
        "hybrid-unequal": Hybrid(HybridOptions(**SMALL), unequal, G, 2),
        "attomics": AttOmicsNet(random_grouping(G, 4, 0), G, [8, 4], 2, [8], 0.0, 2),
    }


@pytest.mark.parametrize("name", list(networks()))
def test_attention_rows_sum_to_one_before_aggregation(name):
    net = networks()[name]
    x = torch.randn(3, G)
    layers = att.attention_layers(net, x, GENES)
    assert layers
    for layer in layers:
        rows = torch.arange(layer.n_tokens)
        weights = layer.rows(rows)  # (B, H, T, T)
        assert weights.shape[0] == 3 and weights.shape[-1] == layer.n_tokens
        real = torch.tensor([n is not None for n in layer.token_names])
        sums = weights[:, :, real].sum(-1)
        torch.testing.assert_close(sums, torch.ones_like(sums), atol=1e-5, rtol=1e-5)


def test_hybrid_gene_rows_stay_inside_groups():
    net = networks()["hybrid"]
    layer = att.attention_layers(net, torch.randn(2, G), GENES)[0]
    weights = layer.rows(torch.arange(G))[0, 0]  # (T, T)
    group = torch.zeros(G, dtype=torch.long)
    for k, members in enumerate(random_grouping(G, 4, 0).members):
        group[members] = k
    outside = group.view(-1, 1) != group.view(1, -1)
    assert torch.all(weights[outside] == 0)


@pytest.mark.parametrize("name", ["gene-transformer", "hybrid", "attomics"])
def test_chunked_top_edges_equal_the_dense_computation(name):
    net = networks()[name]
    layers = att.attention_layers(net, torch.randn(2, G), GENES)
    chunked = att.top_edges(layers, ["s1", "s2"], top_k=15, per_row=3, chunk=5)
    dense = att.top_edges(layers, ["s1", "s2"], top_k=15, per_row=3, chunk=10_000)
    key = lambda e: (e["sample_id"], e["layer"], e["gene_a"], e["gene_b"])  # noqa: E731
    assert sorted(map(key, chunked)) == sorted(map(key, dense))
    # and the kept edges are the strongest off-diagonal entries of the dense matrix
    first = layers[0]
    full = first.rows(torch.arange(first.n_tokens)).mean(1)[0].clone()
    full.fill_diagonal_(-1)
    best = {e["score"] for e in dense if e["sample_id"] == "s1" and e["layer"] == first.name}
    assert max(best) == pytest.approx(float(full.max()))


def test_pair_scores_equal_the_dense_symmetrised_mean():
    net = networks()["gene-transformer"]
    x = torch.randn(2, G)
    layers = att.attention_layers(net, x, GENES)
    pairs = [("g1", "g7"), ("g3", "g20"), ("g0", "g1")]
    got = att.pair_scores(layers, pairs, chunk=2)
    dense = torch.stack([layer.rows(torch.arange(G)).mean(1) for layer in layers]).mean(0)
    for p, (a, b) in enumerate(pairs):
        i, j = int(a[1:]), int(b[1:])
        expected = (dense[:, i, j] + dense[:, j, i]) / 2
        np.testing.assert_allclose(got[:, p], expected.numpy(), rtol=1e-5, atol=1e-7)


def test_rollout_rows_match_the_dense_product_from_the_last_layer_down():
    net = networks()["gene-transformer"]
    layers = att.attention_layers(net, torch.randn(1, G), GENES)
    assert len(layers) >= 2  # the order of the product matters only then
    rows = torch.tensor([2, 9])
    got = att.rollout_rows(layers, rows, chunk=5)[0]
    dense = torch.eye(G)
    for layer in layers:  # Ã_L ⋯ Ã_1 (Abnar & Zuidema 2020)
        a = layer.rows(torch.arange(G)).mean(1)[0]
        dense = (0.5 * a + 0.5 * torch.eye(G)) @ dense
    torch.testing.assert_close(got, dense[rows], atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got.sum(-1), torch.ones(2), atol=1e-5, rtol=1e-5)
