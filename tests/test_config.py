import pytest
import yaml

from omicsformer.config import RunConfig, parse_overrides
from omicsformer.errors import ConfigError


def test_yaml_round_trip(tmp_path):
    config = RunConfig()
    config.data.source = "all-leukemia"
    config.preprocess.top_genes = 500
    config.model.options = {"C": [0.1, 1.0]}
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(config.to_dict()))
    assert RunConfig.from_yaml(path) == config


def test_unknown_keys_and_bad_values_are_clear(tmp_path):
    with pytest.raises(ConfigError, match="unknown key.*config.preprocess: topgenes"):
        RunConfig.from_dict({"preprocess": {"topgenes": 5}})
    with pytest.raises(ConfigError, match="config.preprocess.transform: 'log10' is not one of"):
        RunConfig.from_dict({"preprocess": {"transform": "log10"}})
    with pytest.raises(ConfigError, match="expected an integer"):
        RunConfig.from_dict({"seed": 1.5})
    # the declared range, naming the key (it was a hand-written "split fractions" check)
    with pytest.raises(ConfigError, match=r"config.split.test_fraction: must be in \(0, 0.99\]"):
        RunConfig.from_dict({"split": {"test_fraction": 0}})
    with pytest.raises(ConfigError, match="leave at least 10% for training"):
        RunConfig.from_dict({"split": {"test_fraction": 0.5, "val_fraction": 0.45}})
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: [1, 2\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        RunConfig.from_yaml(bad)


def test_values_are_coerced_from_text():
    config = RunConfig.from_dict(
        {"seed": "3", "preprocess": {"zscore": "false", "top_genes": "none"}}
    )
    assert (
        config.seed == 3
        and config.preprocess.zscore is False
        and config.preprocess.top_genes is None
    )


def test_overrides_parse_key_value():
    assert parse_overrides(["a=1", "b.c = x,y"]) == {"a": "1", "b.c": "x,y"}
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        parse_overrides(["novalue"])


def test_bounded_options_are_checked_when_read():
    from dataclasses import dataclass

    from omicsformer.config import PROBABILITY, bounded, build_options

    @dataclass
    class Options:
        width: list[int] = bounded([8, 4], low=1)
        dropout: float = bounded(0.1, **PROBABILITY)

    assert build_options(Options, {"width": "16,2", "dropout": "0"}, "o") == Options([16, 2], 0.0)
    assert Options().width == [8, 4] and Options().width is not Options().width
    with pytest.raises(ConfigError, match=r"o.width: must be at least 1, got 0"):
        build_options(Options, {"width": "16,0"}, "o")
    with pytest.raises(ConfigError, match=r"o.dropout: must be in \[0, 1\), got 1.0"):
        build_options(Options, {"dropout": 1}, "o")


def test_a_config_file_is_range_checked_like_the_flags(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("seed: -1\n")
    with pytest.raises(ConfigError, match=r"seed: must be in \[0, 4294967295\], got -1"):
        RunConfig.from_yaml(path)
    path.write_text("train:\n  warmup_epochs: -1\n")
    with pytest.raises(ConfigError, match="warmup"):
        RunConfig.from_yaml(path)
