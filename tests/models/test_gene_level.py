"""gene-transformer and hybrid: every backend trains, tiny batches are overfit, options checked."""

import dataclasses

import numpy as np
import pytest
import torch

from omicsformer.config import TrainConfig
from omicsformer.data.grouping import random_grouping
from omicsformer.errors import ConfigError
from omicsformer.models import MODELS, FitData, ModelContext, Runtime, build_model
from omicsformer.models.base import load_model, save_model
from omicsformer.models.gene_transformer import GeneTransformer, GeneTransformerOptions
from omicsformer.models.hybrid import Hybrid, HybridOptions
from omicsformer.nn.attention import BACKENDS
from omicsformer.tasks import TargetInfo

N_GENES = 32
GENES = [f"g{i}" for i in range(N_GENES)]
CPU_BACKENDS = [n for n, cls in BACKENDS.items() if "cpu" in cls.info.devices]


def context():
    return ModelContext(GENES, TargetInfo("classification", ["y"], ["a", "b"]), seed=0)


@pytest.fixture
def batch():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(10, N_GENES)).astype(np.float32)
    return x, np.arange(10) % 2


# the loss first drops under 0.05 by epoch 40 with every backend (hybrid: 24); 60 leaves margin
FAST = TrainConfig(max_epochs=60, batch_size=10, lr=3e-3, weight_decay=0.0, grad_clip=0.0)
SMALL = {"dim": 16, "heads": 2, "dropout": 0.0, "linformer_k": 16, "landmarks": 8, "features": 32}


@pytest.mark.slow
@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_gene_transformer_overfits_a_tiny_batch_with_each_backend(batch, backend):
    x, y = batch
    options = {**SMALL, "layers": 1, "attention": backend}
    model = build_model(MODELS.get("gene-transformer"), options, context())
    model.fit(FitData(x, y), Runtime(train=FAST, progress=False))
    assert model.history[-1]["train_loss"] < 0.05, model.history[-1]
    assert (model.predict(x).argmax(1) == y).all()


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["sdpa", "performer"])
def test_hybrid_overfits_a_tiny_batch(batch, backend):
    x, y = batch
    options = {**SMALL, "n_groups": 4, "gene_layers": 1, "group_layers": 1, "attention": backend}
    model = build_model(MODELS.get("hybrid"), options, context())
    model.fit(FitData(x, y), Runtime(train=FAST, progress=False))
    assert model.history[-1]["train_loss"] < 0.05


@pytest.mark.parametrize(
    "extra",
    [
        {"pooling": "cls", "value_embedding": "binned", "n_bins": 8},
        {"checkpointing": True, "ffn_chunk": 7},
    ],
)
def test_gene_transformer_variants_give_the_same_shapes(extra):
    options = GeneTransformerOptions(**SMALL, **extra)
    edges = np.linspace(-2, 2, 7).tolist() if extra.get("value_embedding") == "binned" else None
    net = GeneTransformer(options, N_GENES, 3, edges)
    x = torch.randn(4, N_GENES, requires_grad=True)
    out = net(x)
    assert out.shape == (4, 3)
    out.sum().backward()  # gradients flow through checkpointed / chunked blocks


def test_checkpointing_and_chunking_do_not_change_the_result():
    torch.manual_seed(0)
    plain = GeneTransformer(GeneTransformerOptions(**SMALL), N_GENES, 2)
    lever = GeneTransformer(
        GeneTransformerOptions(**SMALL, checkpointing=True, ffn_chunk=5), N_GENES, 2
    )
    lever.load_state_dict(plain.state_dict())
    x = torch.randn(3, N_GENES)
    plain.train(), lever.train()
    a, b = plain(x), lever(x)
    torch.testing.assert_close(a, b)
    a.sum().backward(), b.sum().backward()
    for (name, p), q in zip(plain.named_parameters(), lever.parameters(), strict=True):
        torch.testing.assert_close(p.grad, q.grad, msg=name)


def test_hybrid_attends_within_groups_and_across_them():
    grouping = random_grouping(N_GENES, 4, seed=0)
    net = Hybrid(HybridOptions(**SMALL), grouping, N_GENES, 2)
    x = torch.randn(2, N_GENES)
    genes, mask = net.gene_tokens(x)
    assert genes.shape == (2 * 4, 8, 16) and mask is None  # equal groups: no padding
    assert net(x).shape == (2, 2)


def test_hybrid_with_unequal_groups_masks_the_padding(tmp_path):
    gmt = tmp_path / "sets.gmt"
    gmt.write_text("S1\td\t" + "\t".join(GENES[:5]) + "\nS2\td\t" + "\t".join(GENES[5:20]) + "\n")
    x = np.zeros((4, N_GENES), dtype=np.float32)
    spec = MODELS.get("hybrid")
    ok = build_model(spec, {**SMALL, "grouping": f"gmt:{gmt}"}, context())
    arch = ok.architecture(ok.options, ok.context, x)
    net = ok.network(ok.options, ok.context, arch)
    assert net.padded and net(torch.zeros(2, N_GENES)).shape == (2, 2)
    approximate = build_model(
        spec, {**SMALL, "grouping": f"gmt:{gmt}", "attention": "performer"}, context()
    )
    approximate.network(
        approximate.options,
        approximate.context,
        approximate.architecture(approximate.options, approximate.context, x),
    )  # kernel methods zero the padded keys
    # flash skips the padding (flash_attn_varlen_func): unequal groups are accepted when built
    varlen = build_model(spec, {**SMALL, "grouping": f"gmt:{gmt}", "attention": "flash"}, context())
    arch = varlen.architecture(varlen.options, varlen.context, x)
    assert arch["grouping"]["names"] == ["S1", "S2", "ungrouped"]


ATTENTION_MODELS = [
    name
    for name, spec in MODELS.items()
    if "attention" in {f.name for f in dataclasses.fields(spec.options)}
]


def test_every_model_that_takes_attention_is_covered():
    assert {"attomics", "gene-transformer", "hybrid"} <= set(ATTENTION_MODELS)


@pytest.mark.parametrize("name", ATTENTION_MODELS)
def test_backend_choice_is_checked_before_training(name):
    """docs/architecture.md rule 8, for every model with an ``attention`` option."""
    spec = MODELS.get(name)
    with pytest.raises(ConfigError, match="'flash' does not run on cpu"):
        spec.validate({"attention": "flash"}, TrainConfig(device="cpu", precision="bf16-mixed"))
    with pytest.raises(ConfigError, match="'flash' does not support torch.float32"):
        spec.validate({"attention": "flash"}, TrainConfig(device="cuda", precision="32"))
    valid = ", ".join(BACKENDS.names())
    with pytest.raises(ConfigError, match=f"attention: 'fast' is not one of: {valid}"):
        spec.validate({"attention": "fast"}, TrainConfig(device="cpu"))
    for backend in CPU_BACKENDS:
        spec.validate({"attention": backend}, TrainConfig(device="cpu"))


@pytest.mark.parametrize("backend", CPU_BACKENDS)
def test_attomics_trains_with_every_cpu_backend(batch, backend):
    """Backends built for a fixed number of tokens (linformer) get the group count."""
    x, y = batch
    options = {"n_groups": 4, "n_blocks": 2, "token_sizes": [8, 4], "attention": backend}
    model = build_model(MODELS.get("attomics"), options, context())
    model.fit(FitData(x, y), Runtime(train=TrainConfig(max_epochs=2, batch_size=5), progress=False))
    assert model.predict(x).shape == (10, 2)


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("gene-transformer", {**SMALL, "attention": "linformer", "value_embedding": "binned"}),
        ("hybrid", {**SMALL, "n_groups": 4, "attention": "nystrom"}),
    ],
)
def test_gene_level_models_reload_bit_identically(tmp_path, batch, name, options):
    x, y = batch
    spec = MODELS.get(name)
    model = build_model(spec, options, context())
    fitted = model.fit(
        FitData(x, y, x, y), Runtime(train=TrainConfig(max_epochs=2, lr=1e-3), progress=False)
    )
    save_model(model, spec, spec.parse_options(options), tmp_path / "m", fitted)
    loaded, _, _ = load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
