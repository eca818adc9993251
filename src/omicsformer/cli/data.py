"""Data and listings: ``fetch tcga``, ``datasets``, ``models`` and the ``demo``."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from omicsformer.cli.common import names, page_of
from omicsformer.cli.declarations import Fetch, Models
from omicsformer.cli.options import (
    Formatter,
    add_config_arguments,
    add_folds,
    add_options,
    add_output,
    read_flags,
)
from omicsformer.config import DEMO_MODELS, DataConfig, PreprocessConfig
from omicsformer.console import note, out
from omicsformer.errors import OmicsformerError


def add_commands(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    _add_fetch_command(command)
    command("datasets", "list the built-in datasets").set_defaults(func=cmd_datasets)
    models = command("models", "list the registered models, or one model's options")
    models.add_argument(
        "name", nargs="?", metavar="NAME", help="show this model's options (default: list models)"
    )
    models.set_defaults(func=cmd_models)

    demo = command("demo", "run the demonstration on the bundled leukemia cohort")
    add_output(
        demo,
        "output folder; a previous demo there is replaced, any other folder is refused",
        required=False,
        default="runs/demo",
        force=False,  # a previous demo is replaced without it
    )
    add_options(
        demo,
        Models,
        ["models", "attention"],
        help={"models": f"comma-separated models (default: {','.join(DEMO_MODELS)})"},
    )
    add_folds(demo)
    add_config_arguments(demo, PreprocessConfig, ["top_genes"])
    demo.set_defaults(func=cmd_demo)


def _add_fetch_command(command: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """``omicsformer fetch tcga``: a GDC project's files and clinical table, resumable."""
    from omicsformer.data.fetch import API, TIMEOUT

    fetch = command("fetch", "download public cohorts (TCGA from the GDC API)")
    fetch_sub = fetch.add_subparsers(dest="source", required=True, metavar="SOURCE")
    tcga = fetch_sub.add_parser(
        "tcga",
        help="a TCGA (GDC) project's expression files, sample sheet and clinical table",
        description="Download a GDC project's open STAR gene-count files (checksums verified, "
        "safe to interrupt and run again), its sample sheet and clinical table into a folder "
        "that --data reads.",
        formatter_class=Formatter,
        allow_abbrev=False,
    )
    add_options(tcga, Fetch, ["project"], required=["project"])
    add_options(tcga, Fetch, ["data_type", "workflow"])
    add_config_arguments(tcga, DataConfig, ["sample_types"])
    add_options(
        tcga,
        Fetch,
        ["no_clinical", "max_files", "api", "timeout"],
        defaults={"api": API, "timeout": TIMEOUT},
    )
    add_output(tcga, "folder to fill (run again to complete it)", force=False)
    tcga.set_defaults(func=cmd_fetch_tcga)


def cmd_fetch_tcga(args: argparse.Namespace) -> int:
    from omicsformer.data.fetch import GDCClient, fetch_tcga
    from omicsformer.data.tcga import SAMPLE_TYPES, parse_sample_types

    codes = parse_sample_types(args.sample_types or "")
    unknown = [c for c in codes if c not in SAMPLE_TYPES]
    if unknown:
        raise OmicsformerError(
            f"unknown sample-type code {unknown[0]}; known: {', '.join(SAMPLE_TYPES)}"
        )
    types = [SAMPLE_TYPES[c] for c in codes]
    summary = fetch_tcga(
        args.project,
        args.out,
        data_type=args.data_type,
        workflow=args.workflow,
        sample_types=types,
        clinical=not args.no_clinical,
        max_files=args.max_files,
        client=GDCClient(args.api, timeout=args.timeout),
    )
    cases = f", {summary.cases} cases in clinical.tsv" if summary.cases is not None else ""
    note(
        f"{summary.files} files in {summary.folder} ({summary.downloaded} downloaded, "
        f"{summary.already_there} already there; every MD5 verified){cases}; read it with "
        f"--data {summary.folder}"
        + (
            f" --labels {Path(summary.folder) / 'clinical.tsv'}"
            if summary.cases is not None
            else ""
        )
    )
    return 0


def cmd_datasets(args: argparse.Namespace) -> int:
    from rich.markup import escape
    from rich.table import Table

    from omicsformer.data.datasets import DATASETS

    table = Table(title="built-in datasets")
    for column in ("name", "samples", "genes", "tasks", "targets", "source", "licence"):
        table.add_column(column, overflow="fold")
    for name, spec in DATASETS.items():
        row = (
            name,
            str(spec.shape[0]),
            str(spec.shape[1]),
            ", ".join(spec.default_targets),
            ", ".join(spec.targets),
            spec.source,
            spec.licence,
        )
        table.add_row(*map(escape, row))
    out.print(table)
    for name, spec in DATASETS.items():
        for target, meaning in spec.targets.items():
            out.print(escape(f"  {name} {target}: {meaning}"))
    for name, spec in DATASETS.items():
        for choice, meaning in spec.choices.items():
            out.print(escape(f"  {name}:{choice}: {meaning}"))
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    import importlib.util

    from rich.markup import escape
    from rich.table import Table

    from omicsformer.config import settings_rows
    from omicsformer.models import MODELS

    if args.name:  # one model's options, from its options dataclass
        spec = MODELS.get(args.name)
        out.print(escape(f"{spec.name}: {spec.description}"))
        table = Table(title=f"options of {spec.name} (-o KEY=VALUE; lists comma-separated)")
        rows = settings_rows(spec.options)
        for column in rows[0] if rows else ("option",):
            table.add_column(column, overflow="fold")
        for row in rows:
            table.add_row(*map(escape, row.values()))
        out.print(table)
        return 0
    table = Table(title="models")
    for column in ("name", "family", "tasks", "description", "needs"):
        table.add_column(column, overflow="fold")
    for name, spec in MODELS.items():
        needs = ""
        if spec.extra:
            installed = importlib.util.find_spec(spec.extra) is not None
            needs = f"omicsformer[{spec.extra}]" + ("" if installed else " (not installed)")
        row = (name, spec.family, ", ".join(spec.tasks), spec.description, needs)
        table.add_row(*map(escape, row))
    out.print(table)
    out.print("the options of a model (-o KEY=VALUE): omicsformer models NAME")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from omicsformer.demo import run_demo

    run_demo(
        Path(args.out),
        models=names(args.models) or None,
        folds=args.folds,
        attention=args.attention,
        top_genes=read_flags(args, PreprocessConfig, ["top_genes"]).get("top_genes"),
    )
    note(f"results written to {args.out} (results.csv, summary.md){page_of(args.out)}")
    return 0
