"""Run-configuration flags are generated from the config declarations and parsed once, when the
RunConfig is built; model options are listed from their options dataclasses."""

from __future__ import annotations

import argparse
import dataclasses
import re

import pytest
import yaml

from omicsformer.cli import (
    PRETRAIN_FLAGS,
    SECTIONS,
    add_config_arguments,
    build_parser,
    config_from_args,
)
from omicsformer.config import RunConfig, TrainConfig, setting, settings
from omicsformer.models import MODELS
from omicsformer.nn.settings import AttentionSettings
from tests.test_cli_safety import one_error


def subparser(parser: argparse.ArgumentParser, *path: str) -> argparse.ArgumentParser:
    for name in path:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


def generated(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {a.option_strings[0]: a for a in parser._actions if hasattr(a, "setting")}


def test_flags_are_made_from_the_declarations_and_keep_text():
    train = subparser(build_parser(), "train")
    flags = generated(train)
    assert "--max-epochs" in flags and "--no-zscore" in flags and "--seed" in flags
    for flag, action in flags.items():
        section, name = action.setting
        (declared,) = settings(section, [name])
        assert flag == declared.flag
        assert declared.describe().split(" (default: ")[0] in action.help, flag
        # no argparse type: the value is parsed (and range-checked) when the RunConfig is built
        assert action.type is None, flag
        choices = tuple(action.choices) if action.choices else None
        assert choices == declared.choices, flag
    assert "at least 1; default: 100" in flags["--max-epochs"].help
    assert flags["--val-fraction"].help.endswith("(in [0, 0.99]; default: 0.15)")
    assert "(greater than 0; default: the model's own)" in flags["--lr"].help


# a valid non-default value for every flag train takes; a new flag needs one here
SAMPLES = {
    "--data": "cohort.csv",
    "--labels": "clinical.csv",
    "--layout": "genes-by-samples",
    "--sample-id": "id",
    "--layer": "counts",
    "--target": "subtype",
    "--gene-id": "symbol",
    "--duplicate-genes": "sum",
    "--gdc-column": "unstranded",
    "--sample-types": "01,11",
    "--time": "os_time",
    "--event": "os_event",
    "--batch-key": "centre",
    "--group-by": "patient",
    "--task": "survival",
    "--ties": "efron",
    "--regression-loss": "huber",
    "--horizons": "365,730.5",
    "--transform": "log1p",
    "--impute": "median",
    "--top-genes": "1_000",
    "--no-zscore": None,
    "--val-fraction": "0.2",
    "--test-fraction": "0.25",
    "--model": "mlp",
    "--init": "runs/p",
    "--finetune": "head",
    "--max-epochs": "7",
    "--batch-size": "16",
    "--eval-batch-size": "4",
    "--lr": "3e-4",
    "--weight-decay": "0",
    "--schedule": "cosine",
    "--warmup-epochs": "2",
    "--grad-clip": "0.5",
    "--patience": "4",
    "--min-epochs": "3",
    "--monitor": "loss",
    "--epoch-ties": "loss",
    "--device": "cpu",
    "--devices": "2",
    "--num-nodes": "3",
    "--strategy": "ddp",
    "--precision": "bf16-mixed",
    "--augment": "noise:sigma=0.2,mixup:alpha=0.4",
    "--log": "mlflow",
    "--log-uri": "sqlite:///runs.db",
    "--experiment": "lab",
    "--log-timeout": "30",
    "--seed": "4294967295",
}


def test_every_flag_reaches_its_field_typed_once():
    parser = build_parser()
    flags = generated(subparser(parser, "train"))
    assert set(flags) == set(SAMPLES), "give every generated flag of train a sample value"
    argv = ["train"]
    for flag, value in SAMPLES.items():
        argv += [flag] if value is None else [flag, value]
    args = parser.parse_args(argv)
    assert args.max_epochs == "7" and args.horizons == "365,730.5"  # argparse keeps the text
    config = config_from_args(args)
    for flag, action in flags.items():
        section, name = action.setting
        (declared,) = settings(section, [name])
        where = (
            "seed" if section is RunConfig else next(k for k, v in SECTIONS.items() if v is section)
        )
        holder = config if section is RunConfig else getattr(config, where)
        expected = False if declared.hint is bool else declared.read(SAMPLES[flag], flag)
        assert getattr(holder, name) == expected, flag
        assert getattr(holder, name) != declared.default, f"{flag}: pick a non-default sample"
    assert config.preprocess.top_genes == 1000 and config.task.horizons == [365.0, 730.5]
    assert config.augment.methods == ["noise:sigma=0.2", "mixup:alpha=0.4"]
    assert {"train.max_epochs", "train.lr"} <= set(config.tune.pinned)


def test_flags_override_a_config_file_and_keep_its_other_values(tmp_path):
    config = RunConfig()
    config.data.source = "all-leukemia"
    config.train.max_epochs = 5
    config.train.patience = 2
    config.model.name = "mlp"
    config.model.options = {"dropout": 0.2}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config.to_dict()))
    parser = build_parser()
    args = parser.parse_args(["train", "--config", str(path), "--patience", "3"])
    built = config_from_args(args)
    assert (built.train.max_epochs, built.train.patience) == (5, 3)
    assert built.model.options == {"dropout": 0.2}  # same model: its options are kept
    assert built.tune.pinned == ["train.patience"]
    other = config_from_args(parser.parse_args(["train", "--config", str(path), "--model", "rf"]))
    assert other.model.name == "rf" and other.model.options == {}


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--max-epochs", "1.5"], "--max-epochs: expected an integer, got '1.5'"),
        (["--lr", "inf"], "--lr: expected a finite number, got 'inf'"),
        (["--horizons", "12,-1"], "--horizons: must be greater than 0, got -1.0"),
        (["--seed", "4294967296"], "--seed: must be in [0, 4294967295], got 4294967296"),
        (["--min-epochs", "-1"], "--min-epochs: must be at least 0, got -1"),
        (["--grad-clip", "-0.1"], "--grad-clip: must be at least 0"),
        (["--num-nodes", "0"], "--num-nodes: must be at least 1"),
        (["--inner-folds", "0"], "--inner-folds: must be at least 1"),
        (["--timeout", "0"], "--timeout: must be greater than 0"),
    ],
)
def test_a_bad_value_is_one_line_naming_the_flag_before_any_data_is_read(
    cli, tmp_path, argv, fragment
):
    result = cli("tune", "--data", tmp_path / "absent.csv", *argv, "--out", tmp_path / "o")
    one_error(result, fragment)
    assert not list(tmp_path.iterdir())


def test_argparse_still_refuses_a_choice_in_one_line(cli, tmp_path):
    result = cli("train", "--data", "x.csv", "--schedule", "linear", "--out", tmp_path / "o")
    one_error(result, "argument --schedule: invalid choice: 'linear'")


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--max-epochs", "0"], "--max-epochs: must be at least 1"),
        (["--batch-size", "x"], "--batch-size: expected an integer"),
        (["--seed", "-1"], "--seed: must be in [0, 4294967295]"),
        (["--top-genes", "0"], "--top-genes: must be at least 1"),
    ],
)
def test_pretrain_reads_its_subset_of_flags_the_same_way(cli, tmp_path, argv, fragment):
    result = cli(
        "pretrain", "--data", tmp_path / "absent.csv", "--model", "hybrid", *argv,
        "--out", tmp_path / "o",
    )  # fmt: skip
    one_error(result, fragment)
    assert not list(tmp_path.iterdir())


def test_pretrain_takes_exactly_its_declared_flags():
    flags = generated(subparser(build_parser(), "pretrain"))
    declared = {
        s.flag for name, fields in PRETRAIN_FLAGS.items() for s in settings(SECTIONS[name], fields)
    }
    assert set(flags) == declared | {"--seed"}
    assert "default: 32" in flags["--batch-size"].help  # pretraining's own batch


def test_demo_checks_top_genes_before_anything_runs(cli, tmp_path):
    one_error(cli("demo", "--top-genes", "0", "--out", tmp_path / "d"), "--top-genes: must be")
    assert not (tmp_path / "d").exists()


def test_add_config_arguments_for_any_section():
    @dataclasses.dataclass
    class Section:
        width: int = setting(4, low=1, help="a width")
        kind: str = setting("a", flag="--kind-of", help="which kind (default: the first)")
        verbose: bool = setting(False, help="say more")
        hidden: int = setting(0, flag=False)

    parser = argparse.ArgumentParser()
    add_config_arguments(parser, Section)
    helps = {a.option_strings[0]: a.help for a in parser._actions if a.option_strings[1:2] == []}
    assert helps["--width"] == "a width (at least 1; default: 4)"
    assert helps["--kind-of"] == "which kind (default: the first)"
    assert helps["--verbose"] == "say more"
    assert "--hidden" not in helps
    assert parser.parse_args(["--verbose"]).verbose is True
    with pytest.raises(ValueError, match="without a flag"):
        add_config_arguments(argparse.ArgumentParser(), Section, ["hidden"])


# ------------------------------------------------------------------------------ model options
def test_models_name_prints_every_option(cli):
    result = cli("models", "mlp")
    assert result.code == 0, result.err
    for row in ("hidden", "list of int", "256,64", "dropout", "in [0, 1)", "0..0.6"):
        assert row in result.out, row
    assert "hidden layer widths" in result.out
    listing = cli("models")
    assert listing.code == 0 and "omicsformer models NAME" in listing.out


def test_models_with_an_unknown_name_is_one_line(cli):
    one_error(cli("models", "transformerzz"), "unknown model 'transformerzz'")


# the shared attention settings (omicsformer.nn.settings) are described in that module's
# docstring; the options tables fall back to the field's name for them
SHARED = {f.name for f in dataclasses.fields(AttentionSettings)}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_model_option_has_help_text(name):
    spec = MODELS.get(name)
    for s in settings(spec.options):
        assert s.describe(), (name, s.name)
        if s.name not in SHARED or not issubclass(spec.options, AttentionSettings):
            assert s.help, f"model {name!r}: option {s.name} has no help= in its declaration"


def test_train_config_validates_a_config_built_in_python():
    from omicsformer.errors import ConfigError

    with pytest.raises(ConfigError, match=r"train.max_epochs: must be at least 1, got 0"):
        TrainConfig(max_epochs=0).validate()
    config = RunConfig()
    config.split.val_fraction = 1.5
    with pytest.raises(ConfigError, match=r"config.split.val_fraction: must be in \[0, 0.99\]"):
        config.validate()


def test_the_model_lists_name_registered_models():
    from omicsformer import config

    for name in ("DEMO_MODELS", "BENCH_MODELS", "INTERACTION_MODELS", "PRETRAINABLE"):
        listed = getattr(config, name)
        assert listed and set(listed) <= set(MODELS.names()), name


def test_bench_gpu_takes_its_backends_from_the_registry():
    from omicsformer.bench.gpu import FLEX, table_backends
    from omicsformer.nn.attention import BACKENDS

    names = table_backends()
    assert FLEX in names and set(names) - {FLEX} <= set(BACKENDS.names())
    assert [n for n in BACKENDS.names() if n not in names] == [
        n for n, b in BACKENDS.items() if b.info.returns_weights
    ]


def test_o_sets_a_run_setting_by_its_config_key():
    parser = build_parser()
    argv = ["train", "--data", "x.csv", "-o", "train.lr=1e-3", "-o", "hidden=8"]
    argv += ["-o", "train.class_weight=none", "-o", "split.test_fraction=0.2"]
    config = config_from_args(parser.parse_args(argv))
    assert config.train.lr == 1e-3 and config.train.class_weight == "none"
    assert config.split.test_fraction == 0.2 and config.model.options == {"hidden": "8"}
    assert "train.lr" in config.tune.pinned  # fixed by the user, like --lr
    cases = [
        (["-o", "train.lr=0"], "-o train.lr: must be greater than 0, got 0.0"),
        (["-o", "train.lr=1e-3", "--lr", "1e-2"], "-o train.lr and --lr both set train.lr"),
        (["-o", "train.nope=1"], "-o train.nope: train has no setting 'nope'; valid keys:"),
    ]
    from omicsformer.errors import ConfigError

    for extra, message in cases:
        args = parser.parse_args(["train", "--data", "x.csv", *extra])
        with pytest.raises(ConfigError, match=re.escape(message)):
            config_from_args(args)


def test_synthetic_ratio_goes_to_every_generator_and_no_other_augmentation():
    args = build_parser().parse_args(
        [
            "train",
            "--data",
            "x.csv",
            "--augment",
            "noise,cvae,wgan:steps=5",
            "--synthetic-ratio",
            "2",
        ]
    )
    methods = config_from_args(args).augment.methods
    assert methods == ["noise", "cvae:ratio=2.0", "wgan:steps=5,ratio=2.0"]
