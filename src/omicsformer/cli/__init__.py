"""The ``omicsformer`` command line: parses arguments, calls the library, maps errors to exit codes.

Exit codes: 0 success, 2 user error (bad input, unknown name, ...; one line on stderr),
130 interrupted. Any other failure is a bug and shows its traceback.

One module per command family, each adding its subcommands (``add_commands``): ``train`` (train,
pretrain), ``study`` (tune, compare), ``runs`` (predict, evaluate, embed, interpret, report),
``bench``, ``data`` (fetch, datasets, models, demo). Every flag is declared once, in
:mod:`omicsformer.cli.options`; ``common`` builds the RunConfig and holds the shared checks.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from typing import Any

from omicsformer.cli import bench, data, runs, study, train
from omicsformer.cli.common import check_model_flags, check_services, config_from_args
from omicsformer.cli.options import (
    PRETRAIN_FLAGS,
    SECTIONS,
    TRAIN_FLAGS,
    Formatter,
    Parser,
    add_config_arguments,
    add_options,
    read_flags,
)
from omicsformer.console import note, one_line
from omicsformer.errors import OmicsformerError

__all__ = [
    "PRETRAIN_FLAGS",
    "SECTIONS",
    "TRAIN_FLAGS",
    "Formatter",
    "Parser",
    "add_config_arguments",
    "add_options",
    "build_parser",
    "check_model_flags",
    "check_services",
    "config_from_args",
    "main",
    "read_flags",
]


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="omicsformer",
        description="Predict patient phenotypes from gene expression with attention models.",
        formatter_class=Formatter,
        allow_abbrev=False,  # --model must not silently mean --models
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return sub.add_parser(
            name, help=help, description=help, formatter_class=Formatter, allow_abbrev=False
        )

    for family in (train, study, runs, bench, data):
        family.add_commands(command)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    from omicsformer import __version__

    try:
        torch = version("torch")
    except PackageNotFoundError:
        torch = "not installed"
    return f"omicsformer {__version__} (torch {torch}, Python {sys.version.split()[0]})"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    with warnings.catch_warnings():
        _route_warnings()
        try:
            return int(args.func(args) or 0)
        except OmicsformerError as exc:
            return _fail(str(exc))
        except OSError as exc:  # a file system refusal: permissions, full disk, bad path
            if exc.errno is None:
                raise
            from omicsformer.fileio import describe_os_error

            return _fail(describe_os_error(exc))
        except KeyboardInterrupt:
            print("omicsformer: interrupted", file=sys.stderr)
            return 130
        except (MemoryError, RuntimeError) as exc:  # out of memory outside a batched pass
            from omicsformer.memory import is_out_of_memory

            if not is_out_of_memory(exc):
                raise
            return _fail(
                f"out of memory ({' '.join(str(exc).split())[:160] or type(exc).__name__}); "
                "give the process more memory or use fewer samples or genes (--top-genes)"
            )


def _fail(message: str) -> int:
    message = " ".join(message.split())  # always exactly one line
    print(f"omicsformer: error: {message}", file=sys.stderr)
    return 2


def _route_warnings() -> None:
    """Deprecation notices are for developers: hidden. Any other warning of a library becomes
    one note line (once per message) instead of a multi-line block around our own output."""
    warnings.simplefilter("ignore", FutureWarning)
    warnings.simplefilter("ignore", DeprecationWarning)
    warnings.simplefilter("ignore", PendingDeprecationWarning)
    seen: set[str] = set()

    def show(message: Any, category: type, filename: str, lineno: int, *rest: Any) -> None:
        text = one_line(str(message))  # never a quoted traceback
        if text in seen:
            return
        seen.add(text)
        note(f"warning ({category.__name__}): {text}")

    warnings.showwarning = show
