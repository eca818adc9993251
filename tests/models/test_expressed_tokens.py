"""gene-transformer tokens=expressed: only genes expressed in the raw profile are tokens."""

import numpy as np
import pytest
import torch

from omicsformer.config import TrainConfig, build_options
from omicsformer.data.preprocess import Preprocessor
from omicsformer.errors import ConfigError, DataError
from omicsformer.models import MODELS, FitData, ModelContext, Runtime, build_model
from omicsformer.models.base import load_model, save_model
from omicsformer.models.gene_transformer import GeneTransformer, GeneTransformerOptions
from omicsformer.tasks import TargetInfo

G = 24
GENES = [f"g{i}" for i in range(G)]
SMALL = {"dim": 16, "heads": 2, "dropout": 0.0, "landmarks": 4, "features": 32}


def options(**extra) -> GeneTransformerOptions:
    return build_options(GeneTransformerOptions, {**SMALL, **extra}, "test")


def pair(thresholds, **extra) -> tuple[GeneTransformer, GeneTransformer]:
    """A dense network and an expressed one with the same weights, both in eval mode."""
    torch.manual_seed(0)
    dense = GeneTransformer(options(**extra), G, 3).eval()
    packed = GeneTransformer(options(tokens="expressed", **extra), G, 3, thresholds=thresholds)
    packed.load_state_dict(dense.state_dict())
    return dense, packed.eval()


def counts(seed=0, b=6, zeros=0.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.poisson(5.0, size=(b, G)).astype(np.float32) + 1
    return np.where(rng.random((b, G)) < zeros, 0, x).astype(np.float32)


@pytest.mark.parametrize("backend", ["sdpa", "eager", "performer", "linear", "nystrom"])
@pytest.mark.parametrize("pooling", ["mean", "cls", "attention"])
def test_every_gene_expressed_gives_the_dense_result(backend, pooling):
    dense, packed = pair([-1e9] * G, attention=backend, pooling=pooling)
    x = torch.randn(5, G)
    with torch.no_grad():
        torch.testing.assert_close(packed(x), dense(x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("backend", ["sdpa", "eager", "performer"])
def test_a_gene_below_the_threshold_has_no_influence(backend):
    _, model = pair([0.0] * G, attention=backend)
    x = torch.from_numpy(counts())  # ~half the genes of each patient at 0: unequal lengths
    changed = x.clone()
    changed[x <= 0] = -torch.rand(int((x <= 0).sum())) * 5  # still not above the threshold
    with torch.no_grad():
        torch.testing.assert_close(model(changed), model(x))
        assert not torch.allclose(model(x + (x <= 0) * 3.0), model(x))  # above it: a token


@pytest.mark.parametrize("backend", ["sdpa", "eager", "linear"])
def test_packing_gives_each_patient_its_own_result(backend):
    """Buckets padded with masks (bucket_padding) equal one patient at a time (exact padding)."""
    _, padded = pair([0.0] * G, attention=backend, bucket_padding=10.0)
    _, alone = pair([0.0] * G, attention=backend, bucket_padding=0.0)
    x = torch.from_numpy(counts(b=8))
    with torch.no_grad():
        torch.testing.assert_close(padded(x), alone(x), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(padded(x[3:4]), padded(x)[3:4], rtol=1e-5, atol=1e-5)


def test_max_tokens_keeps_the_most_expressed_genes():
    _, model = pair([0.0] * G, max_tokens=3)
    x = torch.tensor([[0, 5, 1, 9, 0, 2, 7] + [0] * (G - 7), [0, 1] + [0] * (G - 2)]).float()
    kept = model.kept_genes(x)
    assert kept[0].tolist() == [1, 3, 6]  # the three largest, in gene order
    assert kept[1].tolist() == [1]  # fewer than the cap: all of them


@pytest.mark.parametrize("pooling", ["mean", "cls", "attention"])
def test_a_patient_with_no_expressed_gene_gets_one_fixed_prediction(pooling):
    _, model = pair([0.0] * G, pooling=pooling)
    x = torch.from_numpy(counts(b=4))
    x[1] = 0
    x[2] = -torch.rand(G)
    with torch.no_grad():
        out = model(x)
        assert torch.isfinite(out).all()
        torch.testing.assert_close(out[1], out[2])
        torch.testing.assert_close(model(x[:1]), out[:1], rtol=1e-5, atol=1e-5)


def test_training_backpropagates_through_packed_patients():
    _, model = pair([0.0] * G)
    model.train()
    x = torch.from_numpy(counts(b=5))
    model(x).sum().backward()
    assert model.tokens.identity.weight.grad is not None
    unused = (x > 0).sum(0) == 0
    grads = model.tokens.identity.weight.grad.abs().sum(1)
    assert (grads[unused] == 0).all() and (grads[~unused] > 0).all()


def test_attention_layers_and_embedding_in_expressed_mode():
    _, model = pair([0.0] * G)
    x = torch.from_numpy(counts(b=3))
    assert model.patient_embedding(x).shape == (3, 16)
    layers = model.attention_layers(x, GENES)
    assert len(layers) == 2 and layers[0].n_tokens == G
    rows = layers[1].rows(torch.arange(G))  # (B, H, G, G)
    assert rows.shape == (3, 2, G, G)
    off = (x <= 0)[:, None, :]  # (B, 1, G)
    assert (rows.sum(-1)[off.expand(-1, 2, -1)] == 0).all()  # no row for an unexpressed gene
    assert (rows.permute(0, 1, 3, 2)[off.expand(-1, 2, -1)] == 0).all()  # nor a column
    kept = rows.sum(-1)[(~off).expand(-1, 2, -1)]
    torch.testing.assert_close(kept, torch.ones_like(kept))


def test_preprocessor_model_value_is_what_apply_makes_of_the_raw_value():
    x = counts(b=20) * 10
    pre = Preprocessor.fit(x, GENES, transform="log1p")
    zero = pre.model_value(0.0)
    np.testing.assert_array_equal(zero, pre.apply(np.zeros((1, G)), GENES)[0])  # bit-identical
    model_x = pre.apply(x, GENES)
    assert ((model_x > zero) == (x > 0)).all()
    assert ((model_x > pre.model_value(10.0)) == (x > 10)).all()


def test_batch_correction_is_refused_in_one_line():
    pytest.importorskip("combatlearn")
    x = counts(b=20) * 10 + 1
    pre = Preprocessor.fit(x, GENES, transform="log1p", batches=np.arange(20) % 2, batch_key="b")
    with pytest.raises(DataError, match="per batch"):
        pre.model_value(0.0)


def test_fit_saves_the_thresholds_and_reloads_identically(tmp_path):
    raw = counts(b=16) * 10
    pre = Preprocessor.fit(raw, GENES, transform="log1p")
    x = pre.apply(raw, GENES)
    y = np.arange(16) % 2
    target = TargetInfo("classification", ["y"], ["a", "b"])
    context = ModelContext(GENES, target, seed=0, preprocessor=pre)
    spec = MODELS.get("gene-transformer")
    typed = spec.parse_options({**SMALL, "tokens": "expressed", "max_tokens": 8})
    model = build_model(spec, typed, context)
    train = TrainConfig(max_epochs=2, batch_size=8)
    fitted = model.fit(FitData(x, y), Runtime(train=train, progress=False))
    saved = fitted["architecture"]["expressed"]
    assert saved["rule"] == "raw value > 0"
    np.testing.assert_array_equal(np.float32(saved["thresholds"]), pre.model_value(0.0))
    assert saved["training_tokens"]["max"] <= 8
    save_model(model, spec, typed, tmp_path, fitted)
    loaded, _, _ = load_model(tmp_path)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


@pytest.mark.parametrize(
    ("name", "extra", "message"),
    [
        ("gene-transformer", {"attention": "linformer"}, "fixed to the whole gene list"),
        ("gene-transformer", {"attention_mask": "go-bp"}, "attention_mask"),
        ("hybrid", {}, "not implemented for the hybrid"),
    ],
)
def test_combinations_that_cannot_work_are_refused_when_built(name, extra, message):
    spec = MODELS.get(name)
    with pytest.raises(ConfigError, match=message):
        spec.validate({"tokens": "expressed", **extra}, TrainConfig(device="cpu"))


def test_pretraining_is_refused_with_expressed_tokens():
    _, model = pair([0.0] * G)
    with pytest.raises(ConfigError, match="pretrain with tokens=all"):
        model.pretraining_head()
