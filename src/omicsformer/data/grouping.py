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

How many groups (random, kmeans): ``n_groups=0`` (the default) follows the gene count, ``k = min(20,
G // m)`` with ``m = min_group_size`` (32), and at least 2 (:func:`auto_n_groups`; a note says so
when the genes are too few for 2 groups of ``m``): the paper's 20 groups from 640 genes on; 76 genes
make 2 groups of 38, not 20 of 3-4. ``m`` was chosen on validation parts only
(``scripts/tune_defaults.py --grid n_groups=...``, 5 folds x 6-10 split seeds, attomics): mean
validation C-index on breast-gse7390 (76 genes) 0.566 with 20 groups, 0.547 with 4, 0.653 with 3 and
0.652 with 2; on SurvSet dataOvarian1 (158 genes) 0.639 with 20, 0.602 with 9, 0.618 with 6 and
0.623 with 4; all-leukemia subtype on 2,000 genes flat (balanced accuracy 0.91-0.94 for 2 to 20
groups). The sum over the two cohorts is highest, and flat, for m from 25 to 52; 32 is in its
middle. An explicit ``n_groups`` is used as given (models saved before the rule hold their
``n_groups=20``).

How many gene sets (go-bp, gmt): every set found in the data makes a group token, and the
shipped GO sets make ~4,800 on 3,000 genes (hours per run on a CPU). By default at most
``max_sets=50`` are kept when there are more (the paper's GO-slim grouping had 46):
:func:`select_gene_sets` chooses them greedily for gene coverage, each next set the one adding
the most genes not yet covered, skipping sets whose Jaccard overlap with a chosen one is above
``max_overlap``. It reads the gene lists only, so it is deterministic and sees no values. The
genes in no kept set are dealt at random into groups no larger than the largest kept set
(``ungrouped_1``, ...; one ``ungrouped`` when they fit in one): a single ``ungrouped`` group of
1,000+ genes would set the padded group width, and so the cost, of the hybrid's gene path. One
line says what was kept. ``max_sets=0`` keeps every set and one ``ungrouped`` group, as before
(what models saved before the cap mean, through ``GroupingOptions.SAVED_DEFAULTS``).
:class:`GroupingOptions` declares these options once for both models (attomics, hybrid).

:func:`gene_set_membership` reads a GMT file the other way round, as the sets of each gene, for
the gene-set attention masks of the gene-level models (``attention_mask=gmt:PATH`` or
``attention_mask=go-bp``). Both report how many of the data's genes fall in some set. The masks
keep every set: their cost is that of the genes each gene may attend to, not of the number of
sets, and dropping sets would cut a gene off from genes it shares a set with.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from scipy import sparse
from sklearn.cluster import kmeans_plusplus

from omicsformer.config import bounded, parse_spec
from omicsformer.console import note
from omicsformer.errors import ConfigError, DataError
from omicsformer.tuning.space import Int

SHIPPED_GENE_SETS = {"go-bp": "go_bp.gmt.gz"}  # name -> file in omicsformer/data/annotations
GMT = "gmt"  # gmt:PATH, a user's gene-set file
MAX_AUTO_GROUPS = 20  # the paper's selected mRNA models (56,902 genes in 20 groups)
MIN_GROUP_SIZE = 32  # n_groups=0: chosen on validation parts (scripts/tune_defaults.py)
MAX_SETS = 50  # the paper's GO-slim grouping had 46 sets
MAX_OVERLAP = 0.5


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


def _sets_in_data(
    path: str | Path, genes: list[str]
) -> tuple[str, int, list[str], list[np.ndarray]]:
    """The sets of a GMT file matched to ``genes`` by name: (the file's source name, how many
    sets it has, the names of those with a gene in the data, and each one's sorted (n,) gene
    positions). A set's genes absent from the data are ignored; no set in the data is an error.
    """
    source = _source_name(path)
    sets = read_gmt(path)
    position = {g: i for i, g in enumerate(genes)}
    names, members = [], []
    for name, set_genes in sets.items():
        found = sorted({position[g] for g in set_genes if g in position})
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
    return source, len(sets), names, members


def gmt_grouping(
    path: str | Path,
    genes: list[str],
    drop_ungrouped: bool = False,
    max_sets: int = 0,
    max_overlap: float = MAX_OVERLAP,
    seed: int = 0,
) -> Grouping:
    """Groups from a GMT file, matched to ``genes`` by name.

    ``max_sets`` 0: every set found in the data, and the genes in none as one group
    ``ungrouped``. ``max_sets`` > 0: at most that many sets, chosen by :func:`select_gene_sets`
    when there are more, and the genes in no kept set dealt at random (``seed``) into groups no
    larger than the largest kept set (``ungrouped_1``, ...; one ``ungrouped`` when they fit), so
    that no group dwarfs the others (the hybrid pads every group to the largest). With
    ``drop_ungrouped`` those genes are dropped instead. One line says what was kept.
    """
    source, n_sets, names, members = _sets_in_data(path, genes)
    found_sets = len(members)
    in_some_set = _covered(members, len(genes))
    if 0 < max_sets < found_sets:
        kept = select_gene_sets(members, len(genes), max_sets, max_overlap)
        names, members = [names[j] for j in kept], [members[j] for j in kept]
    covered = _covered(members, len(genes))
    left = np.flatnonzero(~covered)
    parts = 1
    if max_sets > 0:
        parts = -(-len(left) // max(len(m) for m in members))
    rest = ""
    if len(left) and drop_ungrouped:
        rest = f"; {len(left):,} genes in no kept set dropped (drop_ungrouped)"
    elif len(left):
        rest = f"; {len(left):,} genes in 'ungrouped'"
        if parts > 1:
            rest += f" (at random in {parts} groups, none larger than the largest set)"
    if len(members) < found_sets:
        note(
            f"{source}: {len(members):,} of {found_sets:,} sets kept (non-redundant, greedy "
            f"coverage; -o max_sets=0 keeps all), covering {int(covered.sum()):,} of "
            f"{len(genes):,} genes ({100 * covered.mean():.0f} %; {int(in_some_set.sum()):,} are "
            f"in some set){rest}"
        )
    else:
        note(
            f"gene sets ({source}): {int(covered.sum()):,} of {len(genes):,} genes are in some "
            f"set; {found_sets:,} of {n_sets:,} sets found in the data{rest}"
        )
    if len(left) and not drop_ungrouped:
        if parts == 1:
            names.append("ungrouped")
            members.append(left)
        else:
            shuffled = np.random.default_rng(seed).permutation(left)
            names += [f"ungrouped_{j + 1}" for j in range(parts)]
            members += [np.sort(chunk) for chunk in np.array_split(shuffled, parts)]
    strategy = source if source in SHIPPED_GENE_SETS else f"{GMT}:{path}"
    return Grouping(strategy, names, members)


def _covered(members: list[np.ndarray], n_genes: int) -> np.ndarray:
    """(G,) true at the genes in some group."""
    covered = np.zeros(n_genes, dtype=bool)
    for m in members:
        covered[m] = True
    return covered


def select_gene_sets(
    members: list[np.ndarray], n_genes: int, max_sets: int, max_overlap: float = MAX_OVERLAP
) -> list[int]:
    """At most ``max_sets`` non-redundant sets that cover the most genes, greedily.

    Each step keeps the set that adds the most genes not yet covered (ties: the first in file
    order), then rules out every set whose Jaccard overlap with it, |A ∩ B| / |A ∪ B|, is above
    ``max_overlap``; it stops at ``max_sets`` or when no set adds a gene. Greedy selection
    covers at least 1 - 1/e of what the best ``max_sets`` sets could (Nemhauser et al. 1978).
    Only the gene lists are read (no values): deterministic, and free of any leakage.

    Parameters
    ----------
    members
        Each set's gene positions (sorted, unique) among ``n_genes``.

    Returns
    -------
    The indices of the kept sets, in the order they were chosen.
    """
    lengths = np.array([len(m) for m in members])
    rows = np.repeat(np.arange(len(members)), lengths)
    matrix = sparse.csr_matrix(  # (S, G) set membership
        (np.ones(len(rows), dtype=np.float64), (rows, np.concatenate(members))),
        shape=(len(members), n_genes),
    )
    uncovered = np.ones(n_genes)
    eligible = np.ones(len(members), dtype=bool)
    kept: list[int] = []
    while len(kept) < max_sets:
        gain = np.where(eligible, matrix @ uncovered, 0.0)  # (S,) new genes each set adds
        best = int(np.argmax(gain))
        if gain[best] < 1:
            break
        kept.append(best)
        eligible[best] = False
        shared = matrix @ matrix[best].toarray().ravel()  # (S,) |A ∩ best|
        jaccard = shared / (lengths + lengths[best] - shared)
        eligible &= jaccard <= max_overlap
        uncovered[members[best]] = 0.0
    return kept


def gene_set_membership(path: str | Path, genes: list[str]) -> dict[str, Any]:
    """Which sets of a GMT file each of ``genes`` belongs to, for gene-set attention masks.

    Returns a JSON-able record, saved with the model so that it is rebuilt without the file:
    ``{"source": path, "sets": [set names found in the data], "gene_sets": [[set indices of
    gene 0], [..of gene 1], ...]}`` (an empty list: the gene is in no set). Genes of a set that
    are absent from the data are ignored; a file with no set in the data is an error.
    """
    source, n_sets, names, members = _sets_in_data(path, genes)
    gene_sets: list[list[int]] = [[] for _ in genes]
    for j, found in enumerate(members):
        for gene in found.tolist():
            gene_sets[gene].append(j)
    covered = sum(1 for s in gene_sets if s)
    note(
        f"attention mask: {covered} of {len(genes)} genes are in some gene set ({len(names)} of "
        f"{n_sets} sets of {source} found in the data); a gene in no set attends only to "
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


def auto_n_groups(n_genes: int, min_group_size: int = MIN_GROUP_SIZE) -> int:
    """The default number of groups for ``n_genes`` genes: ``min(20, G // m)`` with
    ``m = min_group_size``, and at least 2 (1 for a single gene).

    When the genes are too few for 2 groups of ``m`` genes, one line says so with the number
    chosen.
    """
    k = min(MAX_AUTO_GROUPS, n_genes // min_group_size)
    if k < 2:
        k = min(2, n_genes)
        note(
            f"groups: {n_genes} genes are too few for 2 groups of min_group_size="
            f"{min_group_size}; using {k} group{'s' if k > 1 else ''} of about "
            f"{n_genes // k} genes (set -o n_groups=N to choose)"
        )
    return k


def make_grouping(
    strategy: str,
    genes: list[str],
    x_train: np.ndarray,
    n_groups: int,
    seed: int,
    drop_ungrouped: bool = False,
    *,
    min_group_size: int = MIN_GROUP_SIZE,
    max_sets: int = 0,
    max_overlap: float = MAX_OVERLAP,
) -> Grouping:
    """Build the grouping named by ``strategy`` (``random``, ``kmeans``, ``go-bp`` or
    ``gmt:PATH``).

    ``n_groups`` (random, kmeans) 0: :func:`auto_n_groups` of the genes. ``max_sets`` and
    ``max_overlap`` (gene sets): see :func:`gmt_grouping`.
    """
    if strategy in ("random", "kmeans") and n_groups == 0:
        n_groups = auto_n_groups(len(genes), min_group_size)
    if strategy == "random":
        return random_grouping(len(genes), n_groups, seed)
    if strategy == "kmeans":
        return kmeans_grouping(x_train, n_groups, seed)
    path = gene_set_file(strategy, "grouping")
    if path is not None:
        return gmt_grouping(path, genes, drop_ungrouped, max_sets, max_overlap, seed)
    raise ConfigError(
        f"unknown grouping {strategy!r}; choose from: random, kmeans, "
        f"{', '.join(SHIPPED_GENE_SETS)}, gmt:PATH"
    )


@dataclass
class GroupingOptions:
    """How an AttOmics-style model groups its genes (a base of the attomics and hybrid options).

    Old model records (model.json, pretrained.json) hold every option they had; an option added
    since takes the value in ``SAVED_DEFAULTS`` when such a record is read back, so that it means
    what it meant (``max_sets=0``: every set, as before the cap existed).
    """

    SAVED_DEFAULTS: ClassVar[dict[str, Any]] = {"max_sets": 0}

    grouping: str = bounded(
        "random",
        help="gene groups: random, kmeans (size-balanced, fitted on the training split), go-bp "
        "(shipped GO biological-process sets) or gmt:PATH",
    )
    n_groups: int = bounded(
        0,
        low=0,
        search=Int(5, 50, log=True),
        help=f"groups (random, kmeans); 0: min({MAX_AUTO_GROUPS}, genes // min_group_size), at "
        "least 2",
    )
    min_group_size: int = bounded(
        MIN_GROUP_SIZE,
        low=1,
        help="n_groups=0: the fewest genes a group holds (when there are "
        "enough genes for 2 groups)",
    )
    max_sets: int = bounded(
        MAX_SETS,
        low=0,
        help="go-bp, gmt: at most this many sets (greedy gene coverage) when more are in the "
        "data, the genes in none in groups no larger than a set; 0: every set, one 'ungrouped'",
    )
    max_overlap: float = bounded(
        MAX_OVERLAP,
        low=0,
        high=1,
        help="go-bp, gmt, choosing max_sets: skip a set whose Jaccard overlap with a chosen set "
        "is above this",
    )
    drop_ungrouped: bool = bounded(
        False, help="go-bp, gmt: drop the genes in no (kept) set instead of grouping them"
    )

    def make(self, genes: list[str], x_train: np.ndarray, seed: int) -> Grouping:
        """The grouping these options name, for ``genes`` (``x_train``: training rows only,
        read by ``kmeans``)."""
        return make_grouping(
            self.grouping,
            genes,
            x_train,
            self.n_groups,
            seed,
            self.drop_ungrouped,
            min_group_size=self.min_group_size,
            max_sets=self.max_sets,
            max_overlap=self.max_overlap,
        )


def _check_n_groups(n_genes: int, n_groups: int) -> None:
    if not 1 <= n_groups <= n_genes:
        raise ConfigError(
            f"n_groups must be between 1 and the number of genes ({n_genes}), got {n_groups}"
        )
