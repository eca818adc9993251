"""tokens=expressed (gene-transformer, hybrid): only genes expressed in the raw profile are
tokens; rows of different lengths packed in buckets (or sdpa varlen); the refusals."""

import numpy as np
import pytest
import torch

from omicsformer.config import TrainConfig, build_options
from omicsformer.data.grouping import Grouping
from omicsformer.data.preprocess import Preprocessor
from omicsformer.errors import ConfigError, DataError
from omicsformer.models import MODELS, FitData, ModelContext, Runtime, build_model
from omicsformer.models.base import load_model, save_model
from omicsformer.models.gene_transformer import GeneTransformer, GeneTransformerOptions
from omicsformer.models.hybrid import Hybrid, HybridOptions
from omicsformer.tasks import TargetInfo

G = 24
GENES = [f"g{i}" for i in range(G)]
# the network alone (no base, no gates), so that its gene path shows in every output
SMALL = {"dim": 16, "heads": 2, "dropout": 0.0, "landmarks": 4, "features": 32}
SMALL |= {"base": "none", "layer_scale": None}


def options(**extra) -> GeneTransformerOptions:
    return build_options(GeneTransformerOptions, {**SMALL, **extra}, "test")


def pair(thresholds, **extra) -> tuple[GeneTransformer, GeneTransformer]:
    """A dense network and an expressed one with the same weights, both in eval mode."""
    torch.manual_seed(0)
    dense = GeneTransformer(options(**extra), G, 3).eval()
    packed = GeneTransformer(options(tokens="expressed", **extra), G, 3, thresholds=thresholds)
    packed.load_state_dict(dense.state_dict())
    return dense, packed.eval()


# unequal groups (sizes 9, 7, 5, 4) and one gene (g0) in two groups, as gene-set groupings have
GROUPS = Grouping(
    "gmt",
    ["a", "b", "c", "d"],
    [np.arange(0, 9), np.arange(9, 16), np.array([0, 16, 17, 18, 19]), np.arange(20, 24)],
)


def hybrids(thresholds, **extra) -> tuple[Hybrid, Hybrid]:
    """A dense hybrid and an expressed one with the same weights, both in eval mode."""
    torch.manual_seed(0)
    o = build_options(HybridOptions, {**SMALL, **extra}, "test")
    dense = Hybrid(o, GROUPS, G, 3).eval()
    e = build_options(HybridOptions, {**SMALL, "tokens": "expressed", **extra}, "test")
    packed = Hybrid(e, GROUPS, G, 3, thresholds=thresholds)
    packed.load_state_dict(dense.state_dict())
    return dense, packed.eval()


BOTH = pytest.mark.parametrize("make", [pair, hybrids], ids=["gene-transformer", "hybrid"])


def gene_path_only(model):
    """The model with the hybrid's AttOmics path silenced (its linear maps read every value,
    expressed or not); the gene-transformer unchanged."""
    if isinstance(model, Hybrid):
        with torch.no_grad():
            for weight in model.project.weights:
                weight.zero_()
    return model


def assert_no_attention_where_unexpressed(rows, x, heads=2):
    """Attention rows (B, H, G, G): an unexpressed gene has no row and no column; a kept
    gene's row sums to one."""
    off = (x <= 0)[:, None, :].expand(-1, heads, -1)  # (B, H, G)
    assert (rows.sum(-1)[off] == 0).all()  # no row for an unexpressed gene
    assert (rows.permute(0, 1, 3, 2)[off] == 0).all()  # nor a column
    kept = rows.sum(-1)[~off]
    torch.testing.assert_close(kept, torch.ones_like(kept))


def counts(seed=0, b=6, zeros=0.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.poisson(5.0, size=(b, G)).astype(np.float32) + 1
    return np.where(rng.random((b, G)) < zeros, 0, x).astype(np.float32)


@pytest.mark.parametrize("backend", ["sdpa", "eager", "performer", "linear", "nystrom"])
@pytest.mark.parametrize(
    ("make", "extra"),
    [(pair, {"pooling": p}) for p in ("mean", "cls", "attention")] + [(hybrids, {})],
    ids=["mean", "cls", "attention", "hybrid"],
)
def test_every_gene_expressed_gives_the_dense_result(backend, make, extra):
    """The hybrid's groups are unequal and one gene is in two of them."""
    dense, packed = make([-1e9] * G, attention=backend, **extra)
    x = torch.randn(5, G)
    with torch.no_grad():
        torch.testing.assert_close(packed(x), dense(x), rtol=1e-5, atol=1e-5)


@BOTH
@pytest.mark.parametrize("backend", ["sdpa", "eager", "performer"])
def test_a_gene_below_the_threshold_has_no_influence(make, backend):
    """In the hybrid, on the gene path: its AttOmics path reads every value."""
    model = gene_path_only(make([0.0] * G, attention=backend)[1])
    x = torch.from_numpy(counts())  # ~half the genes of each patient at 0: unequal lengths
    changed = x.clone()
    changed[x <= 0] = -torch.rand(int((x <= 0).sum())) * 5  # still not above the threshold
    with torch.no_grad():
        torch.testing.assert_close(model(changed), model(x))
        assert not torch.allclose(model(x + (x <= 0) * 3.0), model(x))  # above it: a token


@BOTH
@pytest.mark.parametrize("backend", ["sdpa", "eager", "linear"])
def test_packing_gives_each_row_its_own_result(make, backend):
    """Buckets padded with masks (bucket_padding) equal one row at a time (exact padding)."""
    _, padded = make([0.0] * G, attention=backend, bucket_padding=10.0)
    _, alone = make([0.0] * G, attention=backend, bucket_padding=0.0)
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


@BOTH
def test_training_backpropagates_through_packed_rows(make):
    _, model = make([0.0] * G)
    model.train()
    x = torch.from_numpy(counts(b=5))
    model(x).sum().backward()
    assert model.tokens.identity.weight.grad is not None
    unused = (x > 0).sum(0) == 0
    grads = model.tokens.identity.weight.grad.abs().sum(1)
    assert (grads[unused] == 0).all() and (grads[~unused] > 0).all()


def test_attention_layers_and_embedding_in_expressed_mode():
    _, model = pair([0.0] * G, layers=2)
    x = torch.from_numpy(counts(b=3))
    assert model.patient_embedding(x).shape == (3, 16)
    layers = model.attention_layers(x, GENES)
    assert len(layers) == 2 and layers[0].n_tokens == G
    rows = layers[1].rows(torch.arange(G))  # (B, H, G, G)
    assert rows.shape == (3, 2, G, G)
    assert_no_attention_where_unexpressed(rows, x)


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


@pytest.mark.parametrize("name", ["gene-transformer", "hybrid"])
def test_fit_saves_the_thresholds_and_reloads_identically(tmp_path, name):
    raw = counts(b=16) * 10
    pre = Preprocessor.fit(raw, GENES, transform="log1p")
    x = pre.apply(raw, GENES)
    y = np.arange(16) % 2
    target = TargetInfo("classification", ["y"], ["a", "b"])
    context = ModelContext(GENES, target, seed=0, preprocessor=pre)
    spec = MODELS.get(name)
    small = {k: v for k, v in SMALL.items() if k != "heads"}
    typed = spec.parse_options({**small, "tokens": "expressed", "max_tokens": 8})
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
        ("hybrid", {"attention": "linformer"}, "fixed to the whole gene list"),
        ("hybrid", {"attention_mask": "go-bp"}, "attention_mask"),
    ],
)
def test_combinations_that_cannot_work_are_refused_when_built(name, extra, message):
    spec = MODELS.get(name)
    with pytest.raises(ConfigError, match=message):
        spec.validate({"tokens": "expressed", **extra}, TrainConfig(device="cpu"))


@BOTH
def test_pretraining_is_refused_with_expressed_tokens(make):
    with pytest.raises(ConfigError, match="pretrain with tokens=all"):
        make([0.0] * G)[1].pretraining_head()


def test_hybrid_group_with_no_expressed_gene_reads_out_zero():
    _, model = hybrids([0.0] * G, max_tokens=6)
    x = torch.from_numpy(counts(b=3))
    x[0, 20:] = 0  # group d has nothing expressed in patient 0
    x[1] = 0  # nothing expressed at all
    with torch.no_grad():
        readout = model.packed_readout(x)  # (B, K, E)
        assert torch.isfinite(model(x)).all()
    kept = model.kept(x).view(3, 4, -1)  # (B, K, S)
    empty = ~kept.any(-1)  # (B, K)
    assert empty[0, 3] and empty[1].all() and empty.sum() < 8
    assert ((readout.abs().sum(-1) == 0) == empty).all()  # zero exactly where nothing is kept
    assert int(kept.sum((1, 2)).max()) <= 6 + 1  # the cap is per patient (g0 counts twice)


def test_hybrid_attention_layers_in_expressed_mode():
    _, model = hybrids([0.0] * G)
    x = torch.from_numpy(counts(b=3))
    layers = model.attention_layers(x, GENES)
    assert [layer.level for layer in layers] == ["gene", "group", "group"]
    assert_no_attention_where_unexpressed(layers[0].rows(torch.arange(G)), x)
    with torch.no_grad():  # the group layers see the packed model's group tokens
        groups = model.merge(model.project(x) + model.packed_readout(x))  # (B, K, E)
        block = model.group_blocks[0]
        expected = block.attention.attention_rows(block.norm1(groups), torch.arange(4))
    torch.testing.assert_close(layers[1].rows(torch.arange(4)), expected)


@BOTH
def test_sdpa_varlen_in_one_bucket_equals_the_masked_buckets(make):
    """sdpa_varlen=true skips the padding instead of masking it: the whole batch in one bucket
    gives the default buckets' result, and so does the hybrid's padded dense path."""
    _, buckets = make([0.0] * G)
    _, varlen = make([0.0] * G, sdpa_varlen=True, bucket_padding=100.0)
    x = torch.from_numpy(counts(b=8))
    with torch.no_grad():
        torch.testing.assert_close(varlen(x), buckets(x), rtol=1e-5, atol=1e-5)
    if make is hybrids:  # tokens=all: groups of unequal sizes are padded too
        dense, _ = make([0.0] * G)
        dense_varlen, _ = make([0.0] * G, sdpa_varlen=True)
        with torch.no_grad():
            torch.testing.assert_close(dense_varlen(x), dense(x), rtol=1e-5, atol=1e-5)
