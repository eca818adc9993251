"""Gene groupings for AttOmics-style models (Beaudé et al., Bioinformatics 2023).

Three strategies, each returning a :class:`Grouping` (group names and the gene positions in each):

- ``random``: a seeded permutation of the genes cut into ``n_groups`` groups of equal size (+-1).
- ``kmeans``: size-balanced k-means with genes as points (each gene a vector of its standardized
  training values): k-means++ centroids, then alternating capacity-constrained assignment (every
  group holds ``G // k`` or ``G // k + 1`` genes) and centroid updates. Fitted on the training
  split only.
- ``gmt:PATH`` (short for ``gmt:path=PATH``, the one option language of
  :func:`omicsformer.config.parse_spec`; the whole rest is the path): knowledge-based groups
  from a gene-set file in GMT format (one set per line:
  name, description, genes, tab-separated; MSigDB's files as they are; ``.gz`` read too). Genes
  absent from the data are ignored; a gene in several sets goes to each; genes in no set form
  one extra group ``ungrouped`` unless ``drop_ungrouped``.
- ``go-bp``: the same with the shipped GO biological-process sets (``annotations/go_bp.gmt.gz``,
  4,923 sets of 15 to 500 human gene symbols, built by ``scripts/build_gene_tables.py``; data
  named otherwise need ``--gene-id symbol``).

:func:`gene_set_membership` reads a GMT file the other way round, as the sets of each gene, for
the gene-set attention masks of the gene-level models (``attention_mask=gmt:PATH`` or
``attention_mask=go-bp``). Both report how many of the data's genes fall in some set.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.cluster import kmeans_plusplus

from omicsformer.config import parse_spec
from omicsformer.console import note
from omicsformer.errors import ConfigError, DataError

SHIPPED_GENE_SETS = {"go-bp": "go_bp.gmt.gz"}  # name -> file in omicsformer/data/annotations
GMT = "gmt"  # gmt:PATH, a user's gene-set file


def shipped_gene_sets(name: str) -> Path:
    """The path of a shipped GMT file by name (``go-bp``)."""
    if name not in SHIPPED_GENE_SETS:
        raise ConfigError(
            f"unknown gene sets {name!r}; shipped: {', '.join(SHIPPED_GENE_SETS)}, or gmt:PATH"
        )
    return Path(str(resources.files("omicsformer.data") / "annotations" / SHIPPED_GENE_SETS[name]))


def gene_set_file(spec: str, what: str = "gene sets") -> Path | None:
    """The GMT file a gene-set spec names: ``gmt:PATH`` (``gmt:path=PATH``) or a shipped name
    (``go-bp``); None if ``spec`` names no gene sets (``random``, ``none``, ...)."""
    name, params = parse_spec(spec, positional="path", what=what)
    if name in SHIPPED_GENE_SETS and not params:
        return shipped_gene_sets(name)
    if name != GMT:
        return None
    if "path" not in params:
        raise ConfigError(f"{what} {spec!r}: gmt needs a file, gmt:PATH")
    return Path(params["path"])


def _source_name(path: str | Path) -> str:
    """``go-bp`` for a shipped file, else the path as given (for notes and saved records)."""
    for name in SHIPPED_GENE_SETS:
        if Path(path) == shipped_gene_sets(name):
            return name
    return str(path)


def _identifier_hint(source: str) -> str:
    if source in SHIPPED_GENE_SETS:
        return f"{source} names genes by human symbol; map the data's IDs with --gene-id symbol"
    return "are the gene identifiers of the same kind? (--gene-id maps human IDs)"


@dataclass
class Grouping:
    """Groups of genes: ``members[j]`` holds sorted positions into the model's gene list."""

    strategy: str
    names: list[str]
    members: list[np.ndarray]

    @property
    def sizes(self) -> list[int]:
        return [len(m) for m in self.members]

    def to_dict(self) -> dict:
        """The grouping as plain JSON types, for the model's saved architecture record.

        Returns
        -------
        ``{"strategy": str, "names": [str], "members": [[int]]}``: members as lists of gene
        positions, one list per group.
        """
        return {
            "strategy": self.strategy,
            "names": self.names,
            "members": [m.tolist() for m in self.members],
        }

    @classmethod
    def from_dict(cls, data: dict) -> Grouping:
        """Rebuild a grouping from :meth:`to_dict`'s record.

        Parameters
        ----------
        data
            ``strategy``, ``names`` and ``members`` (lists of gene positions).

        Returns
        -------
        The grouping, members as int64 arrays.
        """
        members = [np.asarray(m, dtype=np.int64) for m in data["members"]]
        return cls(strategy=data["strategy"], names=list(data["names"]), members=members)


def random_grouping(n_genes: int, n_groups: int, seed: int) -> Grouping:
    """A seeded random partition into ``n_groups`` groups of equal size (+-1)."""
    _check_n_groups(n_genes, n_groups)
    order = np.random.default_rng(seed).permutation(n_genes)
    members = [np.sort(chunk) for chunk in np.array_split(order, n_groups)]
    return Grouping("random", [f"random_{j}" for j in range(n_groups)], members)


def kmeans_grouping(
    x_train: np.ndarray, n_groups: int, seed: int, iterations: int = 20
) -> Grouping:
    """Size-balanced k-means of genes (columns of ``x_train``, samples x genes)."""
    n_genes = x_train.shape[1]
    _check_n_groups(n_genes, n_groups)
    points = np.ascontiguousarray(x_train.T, dtype=np.float64)  # (G, N) one point per gene
    points = (points - points.mean(1, keepdims=True)) / (points.std(1, keepdims=True) + 1e-8)
    rng = np.random.default_rng(seed)
    centroids, _ = kmeans_plusplus(points, n_groups, random_state=int(rng.integers(2**31)))
    capacity = np.full(n_groups, n_genes // n_groups) + (np.arange(n_groups) < n_genes % n_groups)
    assignment = np.full(n_genes, -1)
    for _ in range(iterations):
        new = _balanced_assignment(_sq_distances(points, centroids), capacity)
        if np.array_equal(new, assignment):
            break
        assignment = new
        centroids = np.stack([points[assignment == j].mean(0) for j in range(n_groups)])
    members = [np.flatnonzero(assignment == j) for j in range(n_groups)]
    return Grouping("kmeans", [f"cluster_{j}" for j in range(n_groups)], members)


def _sq_distances(points: np.ndarray, centroids: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances (G, k)."""
    d = (points**2).sum(1)[:, None] - 2 * points @ centroids.T + (centroids**2).sum(1)[None, :]
    return np.maximum(d, 0)


def _balanced_assignment(distances: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Capacity-constrained assignment in rounds.

    Each unassigned gene proposes to its nearest group that still has room; a group accepts its
    closest proposers up to its room. Every round fills a group or assigns every proposer, so
    there are at most k + 1 rounds.
    """
    assignment = np.full(distances.shape[0], -1)
    room = capacity.copy()
    while (assignment < 0).any():
        free = np.flatnonzero(assignment < 0)
        d = distances[free]
        d = np.where(room[None, :] > 0, d, np.inf)  # (F, k) full groups are out
        choice = d.argmin(axis=1)
        best = d[np.arange(len(free)), choice]
        for group in np.unique(choice):
            mine = choice == group
            closest = free[mine][np.argsort(best[mine], kind="stable")[: room[group]]]
            assignment[closest] = group
            room[group] -= len(closest)
    return assignment


def read_gmt(path: str | Path) -> dict[str, list[str]]:
    """Parse a GMT file into {set name: genes}; malformed lines are an error naming the line."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: gene-set file not found")
    sets: dict[str, list[str]] = {}
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip() or line.startswith("#"):
                    continue
                fields = line.rstrip("\n\r").split("\t")
                name = fields[0].strip()
                genes = [g.strip() for g in fields[2:] if g.strip()]
                if len(fields) < 3 or not name or not genes:
                    raise DataError(
                        f"{path}: line {number} is not a GMT gene set (expected: name<TAB>"
                        "description<TAB>gene<TAB>gene...)"
                    )
                if name in sets:
                    raise DataError(f"{path}: line {number}: gene set {name!r} appears twice")
                sets[name] = list(dict.fromkeys(genes))
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{path}: cannot be read as a GMT file: {exc}") from None
    if not sets:
        raise DataError(f"{path}: no gene sets found")
    return sets


def gmt_grouping(path: str | Path, genes: list[str], drop_ungrouped: bool = False) -> Grouping:
    """Groups from a GMT file, matched to ``genes`` by name."""
    source = _source_name(path)
    sets = read_gmt(path)
    position = {g: i for i, g in enumerate(genes)}
    names, members = [], []
    for name, set_genes in sets.items():
        found = sorted(position[g] for g in set_genes if g in position)
        if found:
            names.append(name)
            members.append(np.asarray(found, dtype=np.int64))
    if not members:
        example = next(iter(sets.values()))[:3]
        raise DataError(
            f"{source}: no gene of any set is in the data (data genes e.g. "
            f"{', '.join(genes[:3])}; set genes e.g. {', '.join(example)}); "
            f"{_identifier_hint(source)}"
        )
    covered = np.zeros(len(genes), dtype=bool)
    for m in members:
        covered[m] = True
    note(
        f"gene sets ({source}): {int(covered.sum())} of {len(genes)} genes are in some set; "
        f"{len(members)} of {len(sets)} sets found in the data"
    )
    if not covered.all():
        if drop_ungrouped:
            note(f"{int((~covered).sum())} genes in no set are dropped (drop_ungrouped)")
        else:
            names.append("ungrouped")
            members.append(np.flatnonzero(~covered))
    strategy = source if source in SHIPPED_GENE_SETS else f"{GMT}:{path}"
    return Grouping(strategy, names, members)


def gene_set_membership(path: str | Path, genes: list[str]) -> dict[str, Any]:
    """Which sets of a GMT file each of ``genes`` belongs to, for gene-set attention masks.

    Returns a JSON-able record, saved with the model so that it is rebuilt without the file:
    ``{"source": path, "sets": [set names found in the data], "gene_sets": [[set indices of
    gene 0], [..of gene 1], ...]}`` (an empty list: the gene is in no set). Genes of a set that
    are absent from the data are ignored; a file with no set in the data is an error.
    """
    source = _source_name(path)
    sets = read_gmt(path)
    position = {g: i for i, g in enumerate(genes)}
    names: list[str] = []
    gene_sets: list[list[int]] = [[] for _ in genes]
    for name, set_genes in sets.items():
        found = sorted({position[g] for g in set_genes if g in position})
        if found:
            for gene in found:
                gene_sets[gene].append(len(names))
            names.append(name)
    if not names:
        example = next(iter(sets.values()))[:3]
        raise DataError(
            f"{source}: no gene of any set is in the data (data genes e.g. "
            f"{', '.join(genes[:3])}; set genes e.g. {', '.join(example)}); "
            f"{_identifier_hint(source)}"
        )
    covered = sum(1 for s in gene_sets if s)
    note(
        f"attention mask: {covered} of {len(genes)} genes are in some gene set ({len(names)} of "
        f"{len(sets)} sets of {source} found in the data); a gene in no set attends only to "
        "itself (and to global tokens, if any)"
    )
    return {"source": source, "sets": names, "gene_sets": gene_sets}


def saved_gene_sets(attention_mask: str, arch: dict[str, Any]) -> list[list[int]] | None:
    """The per-gene set indices a model's architecture record saved for its attention mask
    (:func:`gene_set_membership`), or None when the model has no mask."""
    if attention_mask == "none":
        return None
    if "gene_sets" not in arch:
        raise ConfigError(
            f"attention_mask={attention_mask}: the model's architecture has no gene sets (it was "
            "built without a mask)"
        )
    return arch["gene_sets"]["gene_sets"]


def make_grouping(
    strategy: str,
    genes: list[str],
    x_train: np.ndarray,
    n_groups: int,
    seed: int,
    drop_ungrouped: bool = False,
) -> Grouping:
    """Build the grouping named by ``strategy`` (``random``, ``kmeans``, ``go-bp`` or
    ``gmt:PATH``)."""
    if strategy == "random":
        return random_grouping(len(genes), n_groups, seed)
    if strategy == "kmeans":
        return kmeans_grouping(x_train, n_groups, seed)
    path = gene_set_file(strategy, "grouping")
    if path is not None:
        return gmt_grouping(path, genes, drop_ungrouped)
    raise ConfigError(
        f"unknown grouping {strategy!r}; choose from: random, kmeans, "
        f"{', '.join(SHIPPED_GENE_SETS)}, gmt:PATH"
    )


def _check_n_groups(n_genes: int, n_groups: int) -> None:
    if not 1 <= n_groups <= n_genes:
        raise ConfigError(
            f"n_groups must be between 1 and the number of genes ({n_genes}), got {n_groups}"
        )
