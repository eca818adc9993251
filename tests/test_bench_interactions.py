"""bench interactions: the synthetic generator is configured once, as typed options."""

import json

import numpy as np
import pytest
import yaml

from omicsformer.bench import interactions
from omicsformer.bench.interactions import bench_interactions
from omicsformer.data.datasets import parse_source
from omicsformer.data.datasets.synthetic import SyntheticOptions
from omicsformer.errors import ConfigError

DATA = {"n_samples": 60, "n_genes": 12, "n_modules": 1, "module_size": 3, "n_pairs": 2}


@pytest.mark.slow
def test_runs_train_on_the_generator_options_written_one_way(tmp_path, monkeypatch):
    # the 2000 random-ranking AUROCs of the control are not what is tested here
    monkeypatch.setattr(interactions, "_random_aurocs", lambda planted, seed: np.full(4, 0.5))
    table = bench_interactions(
        tmp_path / "out",
        models=["mlp"],
        data=DATA,
        methods=("occlusion",),
        max_epochs=1,
        patience=1,
        test_patients=8,
        max_pairs=10,
    )
    assert set(table["method"]) >= {"occlusion", "pair_product_correlation"}
    setup = json.loads((tmp_path / "out" / "setup.json").read_text())
    generator = SyntheticOptions.parse(setup["data"])
    assert generator.n_samples == 60 and generator.seed == 0
    config = yaml.safe_load((tmp_path / "out" / "runs" / "mlp" / "config.yaml").read_text())
    assert config["data"]["source"] == generator.source
    assert parse_source(generator.source)[1] == generator


def test_bad_generator_settings_fail_before_any_output(tmp_path):
    with pytest.raises(ConfigError, match="n_genes: expected an integer"):
        bench_interactions(tmp_path / "o", models=["mlp"], data={"n_genes": "x"})
    with pytest.raises(ConfigError, match="binary label"):
        bench_interactions(tmp_path / "o", models=["mlp"], data={"n_classes": 3})
    assert not (tmp_path / "o").exists()


def test_attention_scores_do_not_depend_on_the_evaluation_batch():
    """The cohort's pair scores are computed a batch of patients at a time: the same means."""
    import torch

    from omicsformer.config import build_options
    from omicsformer.data.grouping import random_grouping
    from omicsformer.models.attomics import AttOmicsNet
    from omicsformer.models.gene_transformer import GeneTransformer, GeneTransformerOptions

    torch.manual_seed(0)
    genes = [f"g{i}" for i in range(12)]
    pairs = np.array([[0, 1], [2, 7], [5, 11]])
    x = torch.randn(7, 12)
    options = build_options(GeneTransformerOptions, {"dim": 8, "heads": 2, "dropout": 0.0}, "t")
    networks = [
        GeneTransformer(options, 12, 2).eval(),
        AttOmicsNet(random_grouping(12, 3, 0), 12, [8], 2, [8], 0.0, 2).eval(),
    ]
    for module in networks:
        whole = interactions._attention_scores(module, x, pairs, genes, batch=100)
        batched = interactions._attention_scores(module, x, pairs, genes, batch=3)
        assert whole.shape == (3,) and np.all(whole > 0)
        np.testing.assert_allclose(batched, whole, rtol=1e-5)
