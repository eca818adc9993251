"""Masked expression modelling, pretraining and fine-tuning from it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from omicsformer.config import TrainConfig
from omicsformer.models.transfer import freeze_all_but_head, transfer
from omicsformer.pretrain.masked import MaskedExpression, masked_mse
from omicsformer.pretrain.run import align, load_pretrained, pretrain_network, standardize

SMALL = {
    "gene-transformer": {"dim": 16, "layers": 1, "heads": 2},
    "hybrid": {"n_groups": 4, "dim": 16},
    "attomics": {"n_groups": 4, "head_hidden": [8]},
}


def correlated(n=300, genes=40, seed=0):
    """Genes in pairs: each odd gene is its even neighbour plus a little noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, genes)).astype(np.float32)
    x[:, 1::2] = x[:, 0::2] + 0.2 * x[:, 1::2]
    return standardize(x), [f"g{i}" for i in range(genes)]


def test_the_loss_counts_hidden_measured_genes_only():
    prediction = torch.tensor([[1.0, 2.0, 3.0]])
    weight = torch.tensor([[1.0, 0.0, 1.0]])
    target = torch.tensor([[0.0, 100.0, float("nan")]])
    packed = torch.stack([prediction, weight], dim=-1)
    assert masked_mse(packed, target).item() == pytest.approx((1 + 9) / 2)


class Echo(torch.nn.Module):
    """Reconstructs every gene as its own (possibly hidden) input: shows what was hidden."""

    def pretraining_head(self):
        return torch.nn.Identity()

    def reconstruct(self, x, hide, head):
        self.seen_hide = hide
        return x.masked_fill(hide, 0.0)


def test_unmeasured_genes_are_always_hidden_and_never_scored():
    x = torch.randn(64, 10)
    x[:, 7] = float("nan")
    wrapper = MaskedExpression(Echo(), fraction=0.3).train()
    packed = wrapper(x)
    hide = wrapper.network.seen_hide
    assert hide[:, 7].all() and packed[:, 7, 1].eq(0).all()
    scored = packed[..., 1].bool()
    assert scored.float().mean().item() == pytest.approx(0.3 * 9 / 10, abs=0.06)
    assert (hide | ~scored).all()  # every scored gene was hidden
    wrapper.eval()
    first, second = wrapper(x)[..., 1], wrapper(x)[..., 1]
    assert torch.equal(first, second)  # the held-out task is the same every epoch


@pytest.mark.parametrize("model", list(SMALL))
def test_pretraining_learns_to_reconstruct(model):
    x, genes = correlated()
    pretrained, history = pretrain_network(
        model,
        SMALL[model],
        genes,
        x,
        TrainConfig(max_epochs=8, min_epochs=8, lr=3e-3),
        fraction=0.25,
        progress=False,
    )
    losses = [row["val_loss"] for row in history]
    assert losses[-1] < losses[0]
    assert pretrained.genes == genes and not any(k.startswith("head.") for k in pretrained.state)
    assert pretrained.info["n_patients"] == 300


def test_cohorts_are_aligned_by_gene_name_with_gaps_as_nan():
    a = (np.ones((2, 3), np.float32), ["g1", "g2", "g3"])
    b = (np.full((1, 2), 2.0, np.float32), ["g3", "g4"])
    x = align([a, b], ["g1", "g2", "g3", "g4"])
    assert x.shape == (3, 4)
    assert np.isnan(x[:2, 3]).all() and np.isnan(x[2, :2]).all() and x[2, 2] == 2.0


def network_for(model, genes, n_outputs=3):
    from omicsformer.models import MODELS, ModelContext, build_model
    from omicsformer.tasks import TargetInfo

    target = TargetInfo("classification", ["y"], [f"c{i}" for i in range(n_outputs)])
    shell = build_model(MODELS.get(model), SMALL[model], ModelContext(list(genes), target))
    return shell


def test_transfer_copies_every_weight_but_the_head_and_maps_genes_by_name():
    x, genes = correlated(n=60)
    pretrained, _ = pretrain_network(
        "gene-transformer",
        SMALL["gene-transformer"],
        genes,
        x,
        TrainConfig(max_epochs=1),
        progress=False,
    )
    shell = network_for("gene-transformer", genes)
    module = shell.network(shell.options, shell.context, pretrained.architecture)
    summary = transfer(module, pretrained, genes)
    state = module.state_dict()
    for name, tensor in state.items():
        if not name.startswith(module.head_prefixes):  # the head and the base are new
            assert torch.equal(tensor, pretrained.state[name]), name
    assert "40 of 40 genes matched" in summary
    # other genes: the rows of shared genes follow them by name
    others = ["new_gene", *reversed(genes[:10])]
    shell = network_for("gene-transformer", others)
    module = shell.network(shell.options, shell.context, {})
    transfer(module, pretrained, others)
    identity = module.state_dict()["tokens.identity.weight"]
    assert torch.equal(identity[1], pretrained.state["tokens.identity.weight"][9])
    assert not torch.equal(identity[0], pretrained.state["tokens.identity.weight"][0])


def test_head_only_fine_tuning_freezes_the_rest():
    _, genes = correlated(n=10)
    shell = network_for("attomics", genes)
    import numpy as _np

    module = shell.network(
        shell.options,
        shell.context,
        shell.architecture(shell.options, shell.context, _np.zeros((4, 40), _np.float32)),
    )
    trainable = freeze_all_but_head(module)
    names = [n for n, p in module.named_parameters() if p.requires_grad]
    assert names and all(n.startswith("head") for n in names)
    assert trainable == sum(p.numel() for p in module.parameters() if p.requires_grad)


@pytest.mark.slow
def test_pretrain_then_fine_tune_from_the_command_line(cli, tiny_files, tmp_path):
    out = tmp_path / "pretrained"
    result = cli(
        "pretrain",
        "--data",
        tiny_files["csv"],
        "--data",
        tiny_files["parquet"],
        "--model",
        "attomics",
        "-o",
        "n_groups=4",
        "--max-epochs",
        "2",
        "--out",
        out,
    )
    assert result.code == 0, result.err
    meta = json.loads((out / "pretrained.json").read_text())
    assert meta["n_patients"] == 120 and [c["n_patients"] for c in meta["cohorts"]] == [60, 60]
    common = ["--data", tiny_files["csv"], "--labels", tiny_files["labels"], "--target", "label"]
    result = cli(
        "train",
        *common,
        "--init",
        out,
        "--max-epochs",
        "2",
        "--finetune",
        "head",
        "--out",
        tmp_path / "run",
    )
    assert result.code == 0, result.err
    model = json.loads((tmp_path / "run" / "model" / "model.json").read_text())
    assert model["model"] == "attomics" and model["options"]["n_groups"] == 4
    init = model["fitted"]["init"]
    assert init["finetune"] == "head" and "40 of 40 genes matched" in init["summary"]
    # the frozen part is the pretrained network's, bit for bit
    from safetensors.torch import load_file

    tuned = load_file(str(tmp_path / "run" / "model" / "weights.safetensors"))
    start = load_pretrained(out).state
    assert torch.equal(tuned["project.weights.0"], start["project.weights.0"])
    # an explicit --model for another network is refused, never overridden (issue 24: --model
    # mlp trained the pretrained gene-transformer); without --model the pretrained one is used
    for model, way_out in (
        ("hybrid", "or pretrain a hybrid (omicsformer pretrain --model hybrid)"),
        ("mlp", "or leave out --init to train mlp from scratch"),
        ("logreg", "or leave out --init to train logreg from scratch"),
    ):
        bad = cli("train", *common, "--init", out, "--model", model, "--out", tmp_path / "bad")
        assert bad.code == 2 and len(bad.err.strip().splitlines()) == 1, bad.err
        assert bad.err.strip() == (
            f"omicsformer: error: --init {out} holds a pretrained attomics, and --model {model} "
            f"cannot start from it: leave out --model to fine-tune the attomics, {way_out}"
        )
    assert not (tmp_path / "bad").exists()
    # a config file names its model, so it is as explicit as --model
    config = tmp_path / "config.yaml"
    config.write_text("model:\n  name: mlp\n")
    bad = cli("train", *common, "--config", config, "--init", out, "--out", tmp_path / "bad")
    assert bad.code == 2 and len(bad.err.strip().splitlines()) == 1, bad.err
    assert (
        f"--config {config} (model.name) chooses mlp, which cannot start from it: give "
        "--model attomics to fine-tune the attomics" in bad.err
    )
    assert not (tmp_path / "bad").exists()
    # a config file that names no model leaves the choice to the pretraining
    config.write_text("train:\n  max_epochs: 2\n")
    ok = cli("train", *common, "--config", config, "--init", out, "--out", tmp_path / "ok")
    assert ok.code == 0, ok.err
    saved = json.loads((tmp_path / "ok" / "model" / "model.json").read_text())
    assert saved["model"] == "attomics"


def test_a_damaged_pretrained_folder_is_one_line(cli, tiny_files, tmp_path):
    out = tmp_path / "p"
    assert (
        cli(
            "pretrain",
            "--data",
            tiny_files["csv"],
            "--model",
            "gene-transformer",
            "-o",
            "dim=8",
            "-o",
            "heads=2",
            "--max-epochs",
            "1",
            "--out",
            out,
        ).code
        == 0
    )
    (out / "weights.safetensors").write_bytes(b"broken")
    result = cli(
        "train",
        "--data",
        tiny_files["csv"],
        "--labels",
        tiny_files["labels"],
        "--target",
        "label",
        "--init",
        out,
        "--out",
        tmp_path / "r",
    )
    assert result.code == 2 and "weights.safetensors: changed since" in result.err
    result = cli("pretrain", "--data", tiny_files["csv"], "--model", "mlp", "--out", tmp_path / "m")
    assert result.code == 2 and "invalid choice: 'mlp'" in result.err
