"""The one option language, ``name:key=value,key=value`` (config.parse_spec), and its users."""

import pytest

from omicsformer.config import format_spec, parse_spec
from omicsformer.errors import ConfigError


def test_parse_spec_reads_names_and_text_values():
    assert parse_spec("noise") == ("noise", {})
    assert parse_spec("synthetic:n_genes=2000, seed=3") == (
        "synthetic",
        {"n_genes": "2000", "seed": "3"},
    )
    assert parse_spec("synthetic:") == ("synthetic", {})
    assert parse_spec(format_spec("mixup", {"alpha": 0.4, "within_class": True})) == (
        "mixup",
        {"alpha": "0.4", "within_class": "True"},
    )
    assert format_spec("noise", {}) == "noise"


def test_parse_spec_positional_value_takes_the_whole_rest():
    assert parse_spec("gmt:/data/sets,v2=final.gmt", positional="path") == (
        "gmt",
        {"path": "/data/sets,v2=final.gmt"},
    )
    assert parse_spec("gmt:path=a:b.gmt", positional="path") == ("gmt", {"path": "a:b.gmt"})
    assert parse_spec("go-bp", positional="path") == ("go-bp", {})


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("noise:sigma", "parameter 'sigma' must be KEY=VALUE"),
        ("noise:=1", "parameter '=1' must be KEY=VALUE"),
        ("noise:sigma=1,sigma=2", "'sigma' is given twice"),
        (":sigma=1", "expected NAME or NAME:KEY=VALUE"),
        ("sigma=1", "expected NAME or NAME:KEY=VALUE"),
    ],
)
def test_parse_spec_refuses_malformed_text(text, message):
    with pytest.raises(ConfigError, match=message):
        parse_spec(text, what="augmentation")
