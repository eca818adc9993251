"""Every flag of every command is declared once (omicsformer.cli.declarations and the run
settings of omicsformer.config) and has help.

"Declared twice" means: one option string (``--repeats``) made, anywhere in the parser tree, by
actions of more than one declaration, a declaration being one dataclass field ``(class, name)``
(the ``declared`` attribute the flag generators set on each action). A command may narrow a
shared flag's help, default or choices, never make its own. The exceptions are the homonyms of
``HOMONYMS``: one name for different settings in different commands, each with its reason.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

from omicsformer.cli import build_parser
from omicsformer.cli.declarations import HOMONYMS

BUILT_IN = {"-h", "--help", "--version"}


def walk(parser: argparse.ArgumentParser, path: str = ""):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk(sub, f"{path} {name}".strip())
        elif action.option_strings and not set(action.option_strings) & BUILT_IN:
            yield path, action


def declarations() -> dict[str, set[tuple[type, str]]]:
    found: dict[str, set[tuple[type, str]]] = defaultdict(set)
    for _, action in walk(build_parser()):
        for flag in action.option_strings:
            found[flag].add(action.declared)
    return found


def test_every_flag_comes_from_a_declaration_and_has_help():
    for path, action in walk(build_parser()):
        flags = "/".join(action.option_strings)
        assert hasattr(action, "declared"), f"omicsformer {path} {flags} is written by hand"
        assert action.help, f"omicsformer {path} {flags} has no help"


def test_no_flag_is_declared_twice():
    twice = {
        flag: sorted(f"{cls.__name__}.{name}" for cls, name in found)
        for flag, found in declarations().items()
        if len(found) > 1 and flag not in HOMONYMS
    }
    assert not twice, f"flags declared more than once (share one declaration): {twice}"


def test_every_homonym_is_still_one():
    found = declarations()
    stale = [flag for flag in HOMONYMS if len(found.get(flag, ())) < 2]
    assert not stale, f"no longer homonyms, remove from HOMONYMS: {stale}"


def test_the_shared_flags_are_one_declaration_each():
    found = declarations()
    for flag in ("--repeats", "--folds", "-o", "--out", "--force", "--models", "--genes"):
        assert len(found[flag]) == 1, flag
    assert found["-o"] == found["--option"]


def test_a_repeated_walk_finds_a_flag_declared_twice():
    """The check itself: two declarations of one flag name are caught."""
    from dataclasses import dataclass

    from omicsformer.cli.options import add_options
    from omicsformer.config import setting

    @dataclass
    class One:
        folds: int = setting(3, low=2, help="folds")

    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers()
    add_options(sub.add_parser("a"), One, ["folds"])
    from omicsformer.config import SplitConfig

    add_options(sub.add_parser("b"), SplitConfig, ["folds"])
    found: dict[str, set] = defaultdict(set)
    for _, action in walk(parser):
        found[action.option_strings[0]].add(action.declared)
    assert len(found["--folds"]) == 2
