"""The docs agree with the option declarations: docs/options.md is generated from them, and every
flag the README and the docs pages (docs/, its subfolders included) mention exists, with the
default they show."""

from __future__ import annotations

import argparse
import importlib.util
import re
from pathlib import Path

import pytest

from omicsformer.cli import build_parser
from omicsformer.config import settings

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
# the page that lists the training flags in a block, with their defaults
TRAINING_PAGE = ROOT / "docs" / "training.md"
# `ruff format --check`, `scripts/options_table.py --write`, `tensorboard --logdir`,
# `mkdocs build --strict`
NOT_OURS = {"--check", "--write", "--logdir", "--strict"}


def _script():
    spec = importlib.util.spec_from_file_location(
        "options_table", ROOT / "scripts/options_table.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _actions() -> dict[str, list[argparse.Action]]:
    found: dict[str, list[argparse.Action]] = {}

    def walk(parser: argparse.ArgumentParser) -> None:
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    walk(sub)
            for flag in action.option_strings:
                found.setdefault(flag, []).append(action)

    walk(build_parser())
    return found


def _script_flags() -> set[str]:
    """Flags the scripts under scripts/ declare, which the docs may name beside the CLI's."""
    declared = set()
    for script in (ROOT / "scripts").glob("*.py"):
        declared |= set(re.findall(r"add_argument\(\s*\"(--[a-z][a-z0-9-]*)\"", script.read_text()))
    return declared


def test_options_page_is_up_to_date():
    page = ROOT / "docs" / "options.md"
    assert page.read_text() == _script().render(), (
        "docs/options.md is out of date: python scripts/options_table.py --write"
    )


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_flag_the_docs_mention_exists(doc):
    actions = _actions()
    mentioned = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", doc.read_text()))
    unknown = sorted(mentioned - set(actions) - _script_flags() - NOT_OURS)
    assert not unknown, f"{doc.relative_to(ROOT)} mentions flags no command has: {unknown}"


def _option_blocks(text: str) -> list[str]:
    """Fenced blocks that list flags (lines starting with --), not commands."""
    blocks = re.findall(r"^```[a-z]*\n(.*?)^```", text, flags=re.M | re.S)
    return [b for b in blocks if all(line.startswith("--") for line in b.splitlines() if line)]


def test_flag_lists_in_the_training_page_show_the_declared_defaults_and_choices():
    actions = _actions()
    blocks = _option_blocks(TRAINING_PAGE.read_text())
    assert blocks, "docs/training.md lists the training flags in a block"
    checked = 0
    for block in blocks:
        for flag, value in re.findall(r"(--[a-z-]+) (\S+)", block):
            (section, name), *_ = {a.setting for a in actions[flag] if hasattr(a, "setting")}
            (declared,) = settings(section, [name])
            shown = [v for v in value.split("|") if not v.isupper()]  # N, LR, METRIC: any value
            if "|" in value:
                assert declared.default_text() in shown, f"{flag}: the default is not shown"
                if declared.choices:
                    assert set(shown) <= set(declared.choices), flag
            elif shown:
                assert declared.read(value, flag) == declared.default, (flag, value)
            checked += 1
    assert checked >= 15
