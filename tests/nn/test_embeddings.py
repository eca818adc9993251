import pytest
import torch

from omicsformer.nn.embeddings import GeneTokens


@pytest.mark.parametrize("kind, gene_specific", [("continuous", False), ("gene", True)])
def test_value_embedding_is_gene_specific_only_with_per_gene_vectors(kind, gene_specific):
    torch.manual_seed(0)
    tokens = GeneTokens(3, 8, kind)
    change = tokens(torch.ones(1, 3)) - tokens(torch.zeros(1, 3))  # value part only: (1, 3, 8)
    same = torch.allclose(change[0, 0], change[0, 1])
    assert same is not gene_specific


def test_per_gene_value_vectors_follow_the_selected_genes():
    tokens = GeneTokens(5, 4, "gene")
    genes = torch.tensor([4, 1])
    x = torch.tensor([[2.0, -1.0]])
    expected = (
        tokens.identity(genes)
        + tokens.value(x.unsqueeze(-1))
        + x.unsqueeze(-1) * (tokens.gene_value[genes])
    )
    assert torch.allclose(tokens(x, genes), expected)
