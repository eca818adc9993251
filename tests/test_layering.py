"""The import layering of src/omicsformer: every import, function-level ones and those under
``if TYPE_CHECKING:`` included, goes to a lower layer (or stays inside its own unit); lower
layers never import upper ones and two units of one layer never import each other, so there is no
import cycle between units. Importing a module runs the ``__init__`` of every package above it
first, so what a package's ``__init__`` imports counts as imported by whoever imports a module
inside it.

A module belongs to the unit with the longest matching name (``omicsformer.tuning.space`` is its
own unit, in the base layer, while the rest of ``omicsformer.tuning`` sits above the runs); the
package root ``omicsformer`` matches itself only. Inside the unit ``data`` the modules have
layers of their own (DATA_LAYERS), held to the same rule. The same tables are in
docs/architecture.md ("Layers"), and this test checks that they agree.
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
    ("base", ["errors", "ranks", "tuning.space", "data.transforms"]),
]

# inside the unit `data`, top to bottom; `data` (the package file) matches itself only
DATA_LAYERS: list[tuple[str, list[str]]] = [
    ("the one entry, and the plain reader", ["data.readers"]),
    (
        "a reader or download per source",
        ["data.gdc", "data.xena", "data.clinical", "data.datasets", "data.fetch"],
    ),
    (
        "steps on a cohort",
        ["data.gene_ids", "data.tcga", "data.targets", "data.splits", "data.preprocess"],
    ),
    ("what readers and steps share", ["data.inputs", "data.scale", "data.batch"]),
    ("the package", ["data"]),
]

# (importer, imported): why this import may go up. Each must still exist.
EXCEPTIONS = {
    (ROOT, "omicsformer.api"): "the root's lazy public names (PEP 562 __getattr__)",
    (ROOT, "omicsformer.data.readers"): "the root's lazy public names (PEP 562 __getattr__)",
}


def _full(unit: str) -> str:
    return ROOT if unit == ROOT else f"{ROOT}.{unit}"


DEPTH = {_full(u): i for i, (_, units) in enumerate(LAYERS) for u in units}  # 0 = top
DATA = _full("data")
DATA_DEPTH = {_full(u): i for i, (_, units) in enumerate(DATA_LAYERS) for u in units}


def unit_of(
    module: str, depth: dict[str, int] = DEPTH, alone: tuple[str, ...] = (ROOT,)
) -> str | None:
    """The unit of ``module``: the longest unit name in ``depth`` (the layers, or the data
    layers) that is the module or a package above it; those in ``alone`` match themselves only."""
    matches = [u for u in depth if module == u or (u not in alone and module.startswith(u + "."))]
    return max(matches, key=len, default=None)


def data_unit_of(module: str) -> str | None:
    """The unit of a module of ``data`` in the data layers (``data``, the package file, matches
    itself only)."""
    return unit_of(module, DATA_DEPTH, (ROOT, DATA))


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
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
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


def edges() -> list[tuple[str, str]]:
    """(importer, imported): every import written in a module, and what the ``__init__`` of
    each package above an imported module imports (Python runs it first)."""
    found = modules()
    written = {m: imports(m, path, set(found)) for m, path in found.items()}
    pairs = set()
    for module, imported in written.items():
        for target in imported:
            pairs.add((module, target))
            for package in _packages_above(target, found):
                if not (module == package or module.startswith(package + ".")):
                    pairs |= {(module, d) for d in written[package]}
    return sorted(pairs)


def _packages_above(module: str, found: dict[str, Path]) -> list[str]:
    """The packages whose ``__init__`` runs before ``module`` (the root's is left out: every
    module is below it, and it imports lazily)."""
    parts = module.split(".")
    above = [".".join(parts[:n]) for n in range(2, len(parts))]
    return [p for p in above if p in found and found[p].name == "__init__.py"]


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


def test_data_modules_are_placed():
    inside = [m for m in modules() if unit_of(m) == DATA]
    unplaced = [m for m in inside if data_unit_of(m) is None]
    assert not unplaced, f"give these a row in DATA_LAYERS and docs/architecture.md: {unplaced}"
    missing = [u for u in DATA_DEPTH if u not in inside]
    assert not missing, f"units in DATA_LAYERS that are not modules of data: {missing}"


def test_data_imports_go_down_only():
    """data/ reads straight: the entry calls the readers, the readers the checks below them,
    never back up (no import moved into a function hides a circle: those count too)."""
    wrong = []
    for module, imported in edges():
        if unit_of(module) != DATA or unit_of(imported) != DATA:
            continue
        here, there = data_unit_of(module), data_unit_of(imported)
        if here != there and DATA_DEPTH[there] <= DATA_DEPTH[here]:
            side = "sideways" if DATA_DEPTH[there] == DATA_DEPTH[here] else "up"
            wrong.append(f"{module} -> {imported} ({side}: {here} -> {there})")
    assert not wrong, "imports against the data layers:\n" + "\n".join(wrong)


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
    """Function-level imports, ``from package import submodule``, imports under ``if
    TYPE_CHECKING:`` and what a package's ``__init__`` imports count."""
    found = edges_by_module()
    assert "omicsformer.pretrain.run" in found["omicsformer.compare"]  # inside a function
    assert "omicsformer.interpret.attention" in found["omicsformer.bench.interactions"]
    assert "omicsformer.data.preprocess" in found["omicsformer.models.base"]  # TYPE_CHECKING
    # the package nn.attention's __init__ imports the registry: so does whoever imports a backend
    assert "omicsformer.registry" in found["omicsformer.bench.attention"]


def test_the_docs_show_the_same_table():
    text = DOCS.read_text()
    for table in (LAYERS, DATA_LAYERS):
        for number, (name, units) in enumerate(table, start=1):
            row = f"| {number} | {name} | {', '.join(f'`{u}`' for u in units)} |"
            assert row in text, f"docs/architecture.md lacks the row {row!r}"
