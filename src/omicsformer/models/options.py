"""One ``-o key=value`` list for several models (``compare``, ``bench model``): which option goes
to which model."""

from __future__ import annotations

import dataclasses
from typing import Any

from omicsformer.errors import ConfigError
from omicsformer.models import MODELS


def split_options(models: list[str], options: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Options per model: ``model.key=value`` goes to that model, a bare ``key=value`` to every
    model that has an option ``key`` (e.g. ``attention=performer`` to all gene-level models)."""
    per_model: dict[str, dict[str, Any]] = {m: {} for m in models}
    for key, value in options.items():
        name, dot, option = key.partition(".")
        if dot:
            if name not in per_model:
                raise ConfigError(
                    f"option {key!r}: {name!r} is not one of --models ({', '.join(models)})"
                )
            per_model[name][option] = value
            continue
        elsewhere = takers_of(key)
        takers = [m for m in models if m in elsewhere]
        if not takers:
            raise ConfigError(
                f"option {key!r}: none of {', '.join(models)} has it"
                + (f" (it is an option of {', '.join(elsewhere)})" if elsewhere else "")
            )
        for m in takers:
            per_model[m][key] = value
    return per_model


def takers_of(option: str) -> list[str]:
    """The registered models that have an option ``option``."""
    return [
        m
        for m in MODELS.names()
        if option in {f.name for f in dataclasses.fields(MODELS.get(m).options)}
    ]
