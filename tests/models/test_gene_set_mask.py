"""Gene-set attention masks in the gene-level models: locality, training, reload, early errors."""

import json

import numpy as np
import pytest
import torch

from omicsformer.config import TrainConfig
from omicsformer.data.grouping import gene_set_membership, random_grouping
from omicsformer.errors import ConfigError
from omicsformer.interpret import attention as att
from omicsformer.models import MODELS, FitData, ModelContext, Runtime, build_model
from omicsformer.models.base import load_model, save_model
from omicsformer.models.gene_transformer import GeneTransformer, GeneTransformerOptions
from omicsformer.models.hybrid import Hybrid, HybridOptions
from omicsformer.tasks import TargetInfo

N_GENES = 24
GENES = [f"g{i}" for i in range(N_GENES)]
# the network alone (no base, no gates), so that its gene path shows in every output
SMALL = {"dim": 16, "heads": 2, "dropout": 0.0, "base": "none", "layer_scale": None}
# A: g0-g5, B: g4-g9 (g4, g5 in both), C: g12-g17 and two genes not in the data; g10, g11 and
# g18-g23 are in no set
SETS = {
    "A": GENES[0:6],
    "B": GENES[4:10],
    "C": [*GENES[12:18], "absent1", "absent2"],
}


@pytest.fixture
def gmt(tmp_path):
    path = tmp_path / "sets.gmt"
    path.write_text("".join(f"{name}\tdesc\t" + "\t".join(g) + "\n" for name, g in SETS.items()))
    return path


def context():
    return ModelContext(GENES, TargetInfo("classification", ["y"], ["a", "b"]), seed=0)


def shares_a_set(a: int, b: int) -> bool:
    return any(GENES[a] in g and GENES[b] in g for g in SETS.values())


def test_membership_is_read_per_gene_and_reported_in_one_note(gmt, capsys):
    record = gene_set_membership(gmt, GENES)
    assert record["sets"] == ["A", "B", "C"]
    assert record["gene_sets"][4] == [0, 1] and record["gene_sets"][10] == []
    assert record["gene_sets"][12] == [2]
    notes = [line for line in capsys.readouterr().err.splitlines() if "attention mask" in line]
    assert len(notes) == 1 and "16 of 24 genes are in some gene set" in notes[0]


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_one_layer_keeps_a_gene_blind_to_genes_outside_its_sets(gmt, pooling):
    """Without global tokens, gene i's output after one layer ignores genes it shares no set with
    (and with pooling=cls, the CLS token still sees every gene)."""
    torch.manual_seed(0)
    gene_sets = gene_set_membership(gmt, GENES)["gene_sets"]
    options = GeneTransformerOptions(**SMALL, layers=1, global_tokens=0, pooling=pooling)
    net = GeneTransformer(options, N_GENES, 2, gene_sets=gene_sets).eval()
    x = torch.randn(1, N_GENES)

    def layer_output(values):
        with torch.no_grad():
            return net.blocks[0](net.embed(values), net.attention_mask)[0, net.n_extra :]  # (G, E)

    base = layer_output(x)
    for i, j in [(0, 3), (4, 9), (0, 8), (10, 11), (12, 20), (3, 12)]:
        changed = x.clone()
        changed[0, j] += 3.0
        moved = (layer_output(changed)[i] - base[i]).abs().max().item()
        if shares_a_set(i, j):
            assert moved > 1e-4, (i, j)
        else:
            assert moved == 0.0, (i, j)  # exactly: the masked weights are zero


def test_global_tokens_carry_information_across_sets_in_two_layers(gmt):
    torch.manual_seed(0)
    gene_sets = gene_set_membership(gmt, GENES)["gene_sets"]
    net = GeneTransformer(
        GeneTransformerOptions(**SMALL, layers=2, global_tokens=2), N_GENES, 2, gene_sets=gene_sets
    ).eval()
    assert net.n_extra == 2 and net.embed(torch.zeros(3, N_GENES)).shape == (3, 2 + N_GENES, 16)
    x = torch.randn(1, N_GENES)
    changed = x.clone()
    changed[0, 20] += 3.0  # g20 is in no set; g0 sees it only through the global tokens

    def genes_after(values, blocks):
        with torch.no_grad():
            h = net.embed(values)
            for block in blocks:
                h = block(h, net.attention_mask)
        return h[0, 2:]

    one = (genes_after(changed, net.blocks[:1])[0] - genes_after(x, net.blocks[:1])[0]).abs()
    two = (genes_after(changed, net.blocks)[0] - genes_after(x, net.blocks)[0]).abs()
    assert one.max() == 0.0 and two.max() > 1e-4


def test_interpretation_rows_respect_the_mask(gmt):
    torch.manual_seed(0)
    gene_sets = gene_set_membership(gmt, GENES)["gene_sets"]
    net = GeneTransformer(
        GeneTransformerOptions(**SMALL, pooling="cls", global_tokens=1),
        N_GENES,
        2,
        gene_sets=gene_sets,
    )
    layers = att.attention_layers(net, torch.randn(2, N_GENES), GENES)
    assert layers[0].token_names[:3] == [None, None, "g0"]
    weights = layers[0].rows(torch.arange(2 + N_GENES))  # (B, H, T, T)
    allowed = net.attention_mask.dense(1)[0, 0]
    assert torch.all(weights[..., ~allowed] == 0)
    torch.testing.assert_close(weights.sum(-1), torch.ones_like(weights.sum(-1)))
    hybrid = Hybrid(HybridOptions(**SMALL), random_grouping(N_GENES, 3, 0), N_GENES, 2, gene_sets)
    rows = att.attention_layers(hybrid, torch.randn(2, N_GENES), GENES)[0].rows(torch.arange(24))
    outside = torch.tensor(
        [[not shares_a_set(a, b) and a != b for b in range(24)] for a in range(24)]
    )
    assert torch.all(rows[..., outside] == 0)


def test_hybrid_masks_within_groups_with_the_padding(gmt):
    gene_sets = gene_set_membership(gmt, GENES)["gene_sets"]
    grouping = random_grouping(N_GENES, 5, seed=0)  # sizes 5 and 4: padded
    net = Hybrid(HybridOptions(**SMALL, n_groups=5), grouping, N_GENES, 2, gene_sets)
    genes, mask = net.gene_tokens(torch.randn(3, N_GENES))
    assert genes.shape == (15, 5, 16) and mask is net.attention_mask
    for j, members in enumerate(grouping.members):
        table = mask.rows(torch.arange(5), j)  # (S, S)
        for a, ga in enumerate(members):
            for b, gb in enumerate(members):
                assert bool(table[a, b]) == (a == b or shares_a_set(ga, gb))
        if len(members) < 5:  # the padded position sees itself only; nobody sees it
            assert table[4].tolist() == [False] * 4 + [True] and not table[:4, 4].any()
    x = torch.randn(3, N_GENES, requires_grad=True)
    net(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("gene-transformer", {**SMALL, "pooling": "cls", "global_tokens": 2}),
        ("gene-transformer", {**SMALL, "attention": "eager", "checkpointing": True}),
        ("hybrid", {**SMALL, "n_groups": 5, "gene_layers": 1, "group_layers": 1}),
    ],
)
def test_masked_models_train_and_reload_to_identical_predictions(tmp_path, gmt, name, options):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(12, N_GENES)).astype(np.float32)
    y = np.arange(12) % 2
    options = {**options, "attention_mask": f"gmt:{gmt}"}
    spec = MODELS.get(name)
    spec.validate(options, TrainConfig(device="cpu"))
    model = build_model(spec, options, context())
    train = TrainConfig(max_epochs=3, lr=1e-3, batch_size=4, device="cpu")
    fitted = model.fit(FitData(x, y, x, y), Runtime(train=train, progress=False))
    assert model.module.attention_mask is not None
    assert len(model.history) == 3 and np.isfinite(model.history[-1]["train_loss"])
    save_model(model, spec, spec.parse_options(options), tmp_path / "m", fitted)
    saved = json.loads((tmp_path / "m" / "model.json").read_text())
    assert saved["fitted"]["architecture"]["gene_sets"]["gene_sets"][4] == [0, 1]
    gmt.unlink()  # the saved model needs the file no more
    loaded, _, _ = load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))


@pytest.mark.parametrize("name", ["gene-transformer", "hybrid"])
def test_bad_mask_settings_fail_before_any_data_is_read(tmp_path, gmt, name):
    spec = MODELS.get(name)
    train = TrainConfig(device="cpu")
    cases = [
        ({"attention_mask": f"gmt:{tmp_path / 'missing.gmt'}"}, "gene-set file"),
        ({"attention_mask": "hallmark"}, "attention_mask must be none or gmt:PATH"),
        ({"attention_mask": f"gmt:{gmt}", "attention": "performer"}, "'performer' is an approx"),
        ({"attention_mask": f"gmt:{gmt}", "attention": "nystrom"}, "'nystrom' is an approx"),
    ]
    for options, message in cases:
        with pytest.raises(ConfigError, match=message) as caught:
            spec.validate({**SMALL, **options}, train)
        assert "\n" not in str(caught.value)
    with pytest.raises(ConfigError, match="global_tokens"):
        spec.validate({"global_tokens": -1}, train)


def test_cli_refuses_a_missing_gene_set_file_in_one_line(cli, tiny_files, tmp_path):
    out = tmp_path / "run"
    result = cli(
        "train",
        "--data",
        tiny_files["csv"],
        "--labels",
        tiny_files["labels"],
        "--model",
        "gene-transformer",
        "-o",
        f"attention_mask=gmt:{tmp_path / 'missing.gmt'}",
        "--out",
        out,
    )
    assert result.code == 2
    lines = [line for line in result.err.splitlines() if line.startswith("omicsformer: error")]
    assert len(lines) == 1 and "gene-set file" in lines[0] and "Traceback" not in result.err
    assert not out.exists()
