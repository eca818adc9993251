"""What the commands share: the RunConfig from the flags, the checks before any data is read, and
the tables and lines they print."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from omicsformer.cli.options import SECTIONS, TRAIN_FLAGS, read_flags
from omicsformer.config import (
    ModelConfig,
    RunConfig,
    parse_overrides,
    read_config_file,
    settings,
)
from omicsformer.console import out
from omicsformer.errors import ConfigError, OmicsformerError


def config_from_args(args: argparse.Namespace) -> RunConfig:
    """Overlay the flags actually given on a config file (or on the defaults)."""
    # every flag is parsed and range-checked first, before a config file or any data is read
    given = {name: read_flags(args, SECTIONS[name], f) for name, f in TRAIN_FLAGS.items()}
    options = parse_overrides(args.option)
    for key in [k for k in options if k.partition(".")[0] in SECTIONS and "." in k]:
        _setting_override(given, key, options.pop(key))
    seed = read_flags(args, RunConfig, ["seed"]).get("seed")
    written = read_config_file(args.config) if args.config else {}
    config = RunConfig.from_dict(written) if args.config else RunConfig()
    model = given["model"].pop("name", None)  # compare takes --models instead
    if model is not None and model != config.model.name:
        config.model = ModelConfig(name=model, options={})
    for name, values in given.items():
        setattr(config, name, dataclasses.replace(getattr(config, name), **values))
    # an explicit model (--model, or the model a --config file names) wins or is refused
    chosen, by = (model, "--model") if model is not None else (None, "")
    names_model = isinstance(written.get("model"), dict) and "name" in written["model"]
    if chosen is None and names_model and hasattr(args, "model"):
        chosen, by = config.model.name, f"--config {args.config} (model.name)"
    if chosen is not None and config.model.init:
        from omicsformer.pipeline import init_mismatch
        from omicsformer.pretrain.run import pretrained_model

        held = pretrained_model(config.model.init)
        if held is not None and held != chosen:
            raise ConfigError(init_mismatch(config.model.init, held, chosen, by))
    config.model.options.update(options)
    if args.grouping is not None:
        config.model.options["grouping"] = args.grouping
    if args.attention is not None:
        config.model.options["attention"] = args.attention
    if args.synthetic_ratio is not None:
        from omicsformer.augment import AUGMENTERS, split_specs

        ratio = f"ratio={args.synthetic_ratio}"
        generators = {name for name, cls in AUGMENTERS.items() if cls.synthesizes}
        config.augment.methods = [
            f"{m}{',' if ':' in m else ':'}{ratio}"
            if m.split(":")[0] in generators and "ratio=" not in m
            else m
            for m in split_specs(",".join(config.augment.methods))
        ]
    if args.drop_ungrouped:
        config.model.options["drop_ungrouped"] = True
    if seed is not None:
        config.seed = seed
    # what the user fixed stays out of a hyper-parameter search
    pinned = {f"train.{k}" for k in given["train"]}
    config.tune.pinned = sorted(set(config.tune.pinned) | pinned)
    if not config.data.source:
        raise OmicsformerError("--data is required (or --config with a data.source)")
    if hasattr(args, "model"):  # train, tune: one model (compare checks its --models)
        name = config.model.name
        if model is None and config.model.init:
            from omicsformer.pretrain.run import pretrained_model

            name = pretrained_model(config.model.init) or name
        check_model_flags(args, [name], "--model")
    return config.validate()


def _setting_override(given: dict[str, dict[str, Any]], key: str, text: str) -> None:
    """``-o SECTION.KEY=VALUE``: a run setting by its config.yaml key, typed and range-checked
    by its declaration, as a flag would be (and kept out of a search like one); a setting that
    has no flag (``train.class_weight``) can be given this way too."""
    section, _, name = key.partition(".")
    declared = {s.name: s for s in settings(SECTIONS[section])}
    if name not in declared or dataclasses.is_dataclass(declared[name].hint):
        valid = ", ".join(f"{section}.{n}" for n in declared)
        raise ConfigError(f"-o {key}: {section} has no setting {name!r}; valid keys: {valid}")
    s = declared[name]
    if name in given.get(section, {}):
        raise ConfigError(f"-o {key} and {s.flag} both set {key}: give one of them")
    given.setdefault(section, {})[name] = s.read(text, f"-o {key}")


# model options that have a flag of their own besides -o
MODEL_FLAGS = {
    "grouping": "--grouping",
    "attention": "--attention",
    "drop_ungrouped": "--drop-ungrouped",
}


def check_model_flags(args: argparse.Namespace, models: list[str], flag: str) -> None:
    """Refuse a model-option flag (``--grouping``, ...) that none of ``models`` takes, naming
    the flag and the models it applies to (not the ``-o`` key it stands for)."""
    from omicsformer.models.options import takers_of

    for option, option_flag in MODEL_FLAGS.items():
        if getattr(args, option, None) in (None, False):  # not given
            continue
        takers = takers_of(option)
        if not set(models) & set(takers):
            names = ", ".join(takers[:-1]) + f" and {takers[-1]}" if len(takers) > 1 else takers[0]
            raise ConfigError(
                f"{option_flag} applies to {names} only, not to {flag} {','.join(models)}"
            )


def check_services(config: RunConfig, *, storage: bool = False) -> None:
    """Ask the outside services a run needs (the MLflow store; the Optuna ``storage``) before
    the heavy imports, so that one that is down is one line within its timeout, seconds after
    the command starts. The run checks again, as it must when called from Python: the MLflow
    answer is remembered in the process, the storage is checked anew (cheap for a SQLite file;
    one more connection for a database server, which may have changed since)."""
    from omicsformer.train.tracking import check_tracking

    check_tracking(config.track)
    if storage and config.tune.storage is not None:
        from omicsformer.tuning.storage import check_storage

        check_storage(config.tune.storage)


def page_of(folder: str | Path) -> str:
    """The end of a "results written" line that points at the folder's report.html, if it has
    one ('' with --no-report, or when the page failed: that is a warning, not an error)."""
    page = Path(folder) / "report.html"
    return f"; open {page} in a browser" if page.is_file() else ""


def names(text: str | None) -> list[str]:
    """A comma-separated list of names, blanks dropped."""
    return [name.strip() for name in (text or "").split(",") if name.strip()]


def print_frame(frame: Any, columns: list[str]) -> None:
    from rich.markup import escape
    from rich.table import Table

    table = Table()
    shown = [c for c in columns if c in frame]
    for column in shown:
        table.add_column(
            column, justify="left" if column in ("backend", "model", "note") else "right"
        )
    for _, row in frame.iterrows():
        cells = []
        for column in shown:
            value = row[column]
            if isinstance(value, float):
                value = (
                    ""
                    if value != value
                    else (f"{value:.0%}" if "fraction" in column else f"{value:.4g}")
                )
            cells.append(escape(str(value)))
        table.add_row(*cells)
    out.print(table)
