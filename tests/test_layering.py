"""The import layering of src/omicsformer: every import, function-level ones included, goes to a
lower layer (or stays inside its own unit); lower layers never import upper ones and two units of
one layer never import each other, so there is no import cycle between units.

A module belongs to the unit with the longest matching name (``omicsformer.tuning.space`` is its
own unit, in the base layer, while the rest of ``omicsformer.tuning`` sits above the runs); the
package root ``omicsformer`` matches itself only. The same table is in docs/architecture.md
("Layers"), and this test checks that they agree.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "architecture.md"
ROOT = "omicsformer"

# top to bottom: (layer, units)
LAYERS: list[tuple[str, list[str]]] = [
    ("python -m", ["__main__"]),
    ("command line", ["cli"]),
    ("entry points", ["api", "demo"]),
    ("studies", ["compare", "bench", "interpret.run"]),
    ("reports", ["report.pages"]),
    ("tuning", ["tuning"]),
    ("cross-validation", ["crossval"]),
    ("runs", ["pipeline"]),
    ("run parts", ["runs", "tasks.resolve", "augment.training"]),
    ("run data", ["cohort"]),
    ("pretraining, interpretation", ["pretrain", "interpret"]),
    ("models", ["models"]),
    ("augmentation", ["augment"]),
    ("tasks, data, training", ["tasks", "data", "train"]),
    ("figures and tables", ["report"]),
    ("network parts, metrics", ["nn", "metrics"]),
    ("gene groupings", ["data.grouping"]),
    ("configuration", ["config"]),
    ("utilities", ["fileio", "console", "registry", "memory"]),
    ("package root", [ROOT]),
    ("base", ["errors", "ranks", "tuning.space"]),
]

# (importer, imported): why this import may go up. Each must still exist.
EXCEPTIONS = {
    (ROOT, "omicsformer.api"): "the root's lazy public names (PEP 562 __getattr__)",
    (ROOT, "omicsformer.data.readers"): "the root's lazy public names (PEP 562 __getattr__)",
}


def _full(unit: str) -> str:
    return ROOT if unit == ROOT else f"{ROOT}.{unit}"


DEPTH = {_full(u): i for i, (_, units) in enumerate(LAYERS) for u in units}  # 0 = top


def unit_of(module: str) -> str | None:
    """The unit of ``module``: the longest unit name that is the module or a package above it."""
    matches = [u for u in DEPTH if module == u or (u != ROOT and module.startswith(u + "."))]
    return max(matches, key=len, default=None)


def modules() -> dict[str, Path]:
    found = {}
    for path in sorted((SRC / ROOT).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def imports(module: str, path: Path, known: set[str]) -> set[str]:
    """Every omicsformer module ``module`` imports, at any level of the file."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in _runtime_nodes(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:  # `from pkg import submodule` imports the submodule
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base)
    return {m for m in found if m == ROOT or m.startswith(ROOT + ".")}


def _runtime_nodes(tree: ast.AST):
    """Every node, except those under ``if TYPE_CHECKING:`` (imports for annotations only, which
    never run and so make no cycle)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and ast.unparse(child.test).endswith("TYPE_CHECKING"):
                stack.extend(child.orelse)
                continue
            stack.append(child)


def edges() -> list[tuple[str, str]]:
    found = modules()
    return [(m, d) for m, path in found.items() for d in sorted(imports(m, path, set(found)))]


def edges_by_module() -> dict[str, set[str]]:
    grouped: dict[str, set[str]] = {}
    for module, imported in edges():
        grouped.setdefault(module, set()).add(imported)
    return grouped


def test_every_module_and_every_unit_is_placed():
    found = modules()
    unplaced = [m for m in found if unit_of(m) is None]
    assert not unplaced, f"give these a layer in LAYERS and docs/architecture.md: {unplaced}"
    missing = [u for u in DEPTH if u not in found]
    assert not missing, f"units in LAYERS that are not modules: {missing}"


def test_imports_go_down_only():
    wrong = []
    for module, imported in edges():
        here, there = unit_of(module), unit_of(imported)
        if here == there or (module, imported) in EXCEPTIONS:
            continue
        if DEPTH[there] <= DEPTH[here]:  # not below
            side = "sideways" if DEPTH[there] == DEPTH[here] else "up"
            wrong.append(f"{module} -> {imported} ({side}: {here} -> {there})")
    assert not wrong, "imports against the layering:\n" + "\n".join(wrong)


def test_every_exception_is_still_needed():
    assert set(EXCEPTIONS) <= set(edges())


@pytest.mark.parametrize(
    ("module", "unit"),
    [
        ("omicsformer", "omicsformer"),
        ("omicsformer.tuning.space", "omicsformer.tuning.space"),
        ("omicsformer.tuning.search", "omicsformer.tuning"),
        ("omicsformer.interpret.run", "omicsformer.interpret.run"),
        ("omicsformer.interpret.attention", "omicsformer.interpret"),
        ("omicsformer.compared", None),
    ],
)
def test_a_module_belongs_to_its_longest_unit(module, unit):
    assert unit_of(module) == unit


def test_the_imports_are_all_seen():
    """Function-level imports and ``from package import submodule`` count."""
    found = edges_by_module()
    assert "omicsformer.pretrain.run" in found["omicsformer.compare"]  # inside a function
    assert "omicsformer.interpret.attention" in found["omicsformer.bench.interactions"]


def test_the_docs_show_the_same_table():
    text = DOCS.read_text()
    for number, (name, units) in enumerate(LAYERS, start=1):
        row = f"| {number} | {name} | {', '.join(f'`{u}`' for u in units)} |"
        assert row in text, f"docs/architecture.md lacks the row {row!r}"
