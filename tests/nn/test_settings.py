"""Flat attention options: declared by each backend once, mapped onto its dataclass generically."""

import dataclasses
import importlib.util
import inspect
import json
from typing import get_type_hints

import pytest

from omicsformer.config import Range, from_dict
from omicsformer.errors import ConfigError
from omicsformer.nn.attention import BACKENDS, DEFAULT_BACKEND, NoOptions, make_backend
from omicsformer.nn.settings import AttentionSettings

# the spelling of saved runs' model.json: it must not change
SAVED_NAMES = [
    "attention",
    "sdpa_kernel",
    "sdpa_varlen",
    "linformer_k",
    "landmarks",
    "pinv_iterations",
    "features",
    "redraw_interval",
    "attention_mask",
    "global_tokens",
]


@pytest.mark.parametrize("name", BACKENDS.names())
def test_every_backend_declares_its_options_once_with_help_and_ranges(name):
    cls = BACKENDS.get(name)
    info = cls.info
    assert dataclasses.is_dataclass(info.options)
    fields = {f.name: f for f in dataclasses.fields(info.options)}
    hints = get_type_hints(info.options)
    for field in fields.values():
        assert field.metadata.get("help"), f"{name}.{field.name} has no help"
        if hints[field.name] is int:
            assert isinstance(field.metadata.get("range"), Range), f"{name}.{field.name}"
    assert set(info.model_options) <= set(fields)
    # the constructor takes exactly the declared options (+ sizes), so defaults live in one place
    params = set(inspect.signature(cls.__init__).parameters) - {"self", "args", "kwargs"}
    assert params - {"n_tokens", "head_dim"} == set(fields)
    assert info.fixed_tokens == ("n_tokens" in params)
    if name != "flash" or importlib.util.find_spec("flash_attn") is not None:
        backend = make_backend(name, n_tokens=12, head_dim=8, options=info.options())
        assert isinstance(backend, cls)


def test_settings_fields_are_the_saved_spelling_with_the_backends_defaults_and_ranges():
    fields = {f.name: f for f in dataclasses.fields(AttentionSettings)}
    assert list(fields) == SAVED_NAMES
    assert AttentionSettings().attention == DEFAULT_BACKEND
    for name, cls in BACKENDS.items():
        declared = {f.name: f for f in dataclasses.fields(cls.info.options)}
        for option, flat in cls.info.model_options.items():
            assert fields[flat].default == declared[option].default
            metadata = dict(fields[flat].metadata)
            assert (metadata.pop("backend"), metadata.pop("option")) == (name, option)
            assert metadata == dict(declared[option].metadata)  # range, help, search
            flat_type = get_type_hints(AttentionSettings)[flat]
            assert flat_type == get_type_hints(cls.info.options)[option]


WITH_OPTIONS = [n for n, c in BACKENDS.items() if c.info.options is not NoOptions]


@pytest.mark.parametrize("name", WITH_OPTIONS)
def test_flat_options_reach_the_chosen_backend_typed(name):
    info = BACKENDS.get(name).info
    values = {"sdpa_kernel": "math", "linformer_k": 7, "landmarks": 5, "pinv_iterations": 3}
    values |= {"features": 9, "redraw_interval": 11, "sdpa_varlen": True}
    settings = from_dict(AttentionSettings, {"attention": name, **values}, "options")
    options = settings.backend_options()
    assert isinstance(options, info.options)
    for option, flat in info.model_options.items():
        assert getattr(options, option) == values[flat]


def test_values_are_checked_once_when_the_settings_are_read():
    with pytest.raises(ConfigError, match="linformer_k: must be at least 1, got 0"):
        from_dict(AttentionSettings, {"linformer_k": 0}, "options")
    with pytest.raises(ConfigError, match="sdpa_kernel: 'fast' is not one of: auto"):
        from_dict(AttentionSettings, {"sdpa_kernel": "fast"}, "options")
    valid = ", ".join(BACKENDS)
    with pytest.raises(ConfigError, match=f"attention: 'nope' is not one of: {valid}"):
        from_dict(AttentionSettings, {"attention": "nope"}, "options")


def test_saved_options_round_trip_through_json():
    settings = from_dict(AttentionSettings, {"attention": "performer", "features": 16}, "o")
    saved = json.loads(json.dumps(dataclasses.asdict(settings)))
    assert list(saved) == SAVED_NAMES
    assert from_dict(AttentionSettings, saved, "o") == settings
