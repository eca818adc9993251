"""Gene identifiers: normalise them, tell their kind, and map a matrix's genes to another kind.

Researchers' matrices name genes by Ensembl gene ID (GDC / GENCODE, usually with a version:
``ENSG00000141510.17``), by NCBI Entrez Gene ID (``7157``) or by symbol (``TP53``). Whatever the
``--gene-id`` choice, IDs are first normalised:

- Ensembl versions are stripped (``ENSG00000141510.17`` -> ``ENSG00000141510``): versions change
  with every annotation release while the gene stays the same.
- GENCODE's ``_PAR_Y`` rows (``ENSG00000002586.20_PAR_Y``) are the Y-chromosome copies of the
  pseudo-autosomal genes, whose reads the X copy already counts (the Y rows are zero in GDC's
  STAR counts): a ``_PAR_Y`` row is dropped when its X copy is in the data, and counted; without
  its X copy it is kept under the plain ID.

``--gene-id symbol|ensembl|entrez`` then maps the genes through the shipped human table
(``annotations/hs_gene_ids.parquet``, built by ``scripts/build_gene_tables.py`` from
org.Hs.eg.db): the input's kind is detected (:func:`detect_id_kind`), every ID is linked to its
Entrez gene(s) and on to the target kind. Rules:

- An ID with several targets keeps the first in (Entrez ID, Ensembl ID) order (the oldest gene
  record; read-through and newer records have larger IDs), so its values are never copied.
- An ID with no target is dropped and counted (``unmapped``); nothing mapped at all is an error.
- IDs already of the target kind keep their names (an Ensembl ID absent from NCBI's map stays);
  for symbols, an alias (previous symbol, synonym) of exactly one gene becomes its current symbol.
- Several IDs with one target (and IDs equal after normalisation or repeated in the file, such
  as the symbols Xena's HiSeqV2 repeats) are aggregated by ``--duplicate-genes``
  (:data:`DUPLICATE_RULES`), sample by sample, missing values skipped:
  ``mean`` (default: it keeps the values on their scale, counts or logs alike), ``sum`` (the
  natural choice for raw counts), ``max`` or ``first`` (the first in file order).

Notation: N samples, G genes read, T genes after mapping.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import anndata as ad
import numpy as np
import pandas as pd

from omicsformer.console import note
from omicsformer.errors import ConfigError, DataError

ID_KINDS = ("symbol", "ensembl", "entrez")
GENE_ID_CHOICES = ("keep", *ID_KINDS)  # keep: normalise only
DUPLICATE_RULES = ("mean", "sum", "max", "first")
MIN_SHARE = 0.5  # a kind is recognised when at least half the IDs are of it
EXAMPLES = 3  # unmapped IDs named in the note

# Ensembl gene IDs of any species (ENSG, ENSMUSG, ...), with version and GENCODE's PAR_Y suffix
ENSEMBL = re.compile(r"^(ENS[A-Z]*G\d{11})(?:\.\d+)?(_PAR_Y)?$")
HUMAN_ENSEMBL = re.compile(r"^ENSG\d{11}$")


# ----------------------------------------------------------------------------- normalising
@dataclass
class Normalised:
    """Normalised IDs of the kept genes and what normalising did."""

    ids: list[str]  # (G',) normalised ID of each kept gene
    keep: np.ndarray  # (G,) bool: False for a dropped _PAR_Y row
    n_versions: int = 0  # IDs whose version was stripped
    n_par_y: int = 0  # _PAR_Y rows dropped


def normalise_ids(ids: Sequence[str]) -> Normalised:
    """Strip Ensembl versions and resolve GENCODE ``_PAR_Y`` rows (see the module docstring).

    Parameters
    ----------
    ids
        Gene IDs as read (G).

    Returns
    -------
    :class:`Normalised`: the kept genes' normalised IDs, the mask of kept genes, and counts.
    """
    base, par_y = [], []
    for gene in map(str, ids):
        match = ENSEMBL.match(gene)
        base.append(match.group(1) if match else gene)
        par_y.append(bool(match and match.group(2)))
    plain = {b for b, p in zip(base, par_y, strict=True) if not p}
    keep = np.array([not (p and b in plain) for b, p in zip(base, par_y, strict=True)], dtype=bool)
    n_versions = sum(
        1
        for gene, b, p in zip(map(str, ids), base, par_y, strict=True)
        if gene != b and not p and gene.startswith(b + ".")
    )
    kept = [b for b, k in zip(base, keep, strict=True) if k]
    return Normalised(kept, keep, n_versions=n_versions, n_par_y=int((~keep).sum()))


def strip_version(gene_id: str) -> str:
    """``ENSG00000141510.17`` -> ``ENSG00000141510`` (and ``_PAR_Y`` removed); other IDs as is."""
    match = ENSEMBL.match(gene_id)
    return match.group(1) if match else gene_id


# ----------------------------------------------------------------------------- the table
@lru_cache(maxsize=1)
def gene_table() -> pd.DataFrame:
    """The shipped human table: ``entrez`` (str), ``symbol``, ``ensembl`` (None when absent);
    one row per (Entrez gene, Ensembl gene) pair, sorted by Entrez ID then Ensembl ID."""
    table = _read_annotation("hs_gene_ids.parquet")
    table = table.sort_values(["entrez", "ensembl"], kind="stable", na_position="last")
    table["entrez"] = table["entrez"].astype(str)
    return table.reset_index(drop=True)


@lru_cache(maxsize=1)
def alias_table() -> pd.DataFrame:
    """Aliases of exactly one gene (ambiguous ones left out): ``alias`` -> ``entrez`` (str)."""
    aliases = _read_annotation("hs_gene_aliases.parquet")
    aliases = aliases[~aliases["alias"].duplicated(keep=False)].copy()
    aliases["entrez"] = aliases["entrez"].astype(str)
    return aliases.reset_index(drop=True)


def _read_annotation(name: str) -> pd.DataFrame:
    with resources.as_file(resources.files("omicsformer.data") / "annotations" / name) as path:
        return pd.read_parquet(path)


@lru_cache(maxsize=1)
def _known() -> dict[str, frozenset[str]]:
    table = gene_table()
    return {
        "symbol": frozenset(table["symbol"]) | frozenset(alias_table()["alias"]),
        "entrez": frozenset(table["entrez"]),
    }


# ----------------------------------------------------------------------------- detecting
def id_kind_shares(ids: Sequence[str]) -> dict[str, float]:
    """Share of ``ids`` that are of each kind: human Ensembl gene IDs (by pattern, versions
    allowed), Entrez IDs (numbers in the table), symbols (current symbols or aliases)."""
    ids = [strip_version(str(g)) for g in ids]
    if not ids:
        return dict.fromkeys(ID_KINDS, 0.0)
    known = _known()
    counts = {
        "ensembl": sum(1 for g in ids if HUMAN_ENSEMBL.match(g)),
        "entrez": sum(1 for g in ids if g.isdigit() and g in known["entrez"]),
        "symbol": sum(1 for g in ids if g in known["symbol"]),
    }
    return {kind: counts[kind] / len(ids) for kind in ID_KINDS}


def detect_id_kind(ids: Sequence[str]) -> str | None:
    """The kind (``symbol``, ``ensembl``, ``entrez``) most of ``ids`` are, or None when no kind
    reaches :data:`MIN_SHARE` of them."""
    shares = id_kind_shares(ids)
    kind = max(ID_KINDS, key=lambda k: shares[k])
    return kind if shares[kind] >= MIN_SHARE else None


def _no_kind_message(names: Sequence[str], to: str) -> str:
    """Why IDs of no one kind cannot be mapped: how many of each kind were found, and what to
    do. Human IDs of mixed kinds are told from IDs that are not human IDs."""
    shares = id_kind_shares(names)
    counts = {k: round(shares[k] * len(names)) for k in ID_KINDS}
    other = len(names) - sum(counts.values())
    words = {"symbol": "symbol", "ensembl": "Ensembl ID", "entrez": "Entrez ID"}
    found = ", ".join(f"{n} {words[k]}{'s' * (n != 1)}" for k, n in counts.items())
    found += f", {other} of no known kind"
    examples = {
        k: next((g for g in names if k in _kinds_of(g)), None) for k in (*ID_KINDS, "other")
    }
    shown = "; ".join(f"{k} e.g. {g}" for k, g in examples.items() if g is not None)
    if sum(counts.values()) >= MIN_SHARE * len(names):
        return (
            f"cannot map gene IDs to {to}: the {len(names)} genes mix kinds of human ID ({found}; "
            f"{shown}) and none is the kind of at least {MIN_SHARE:.0%} of them; convert the "
            "IDs to one kind before reading them (to train on the names as they are: --gene-id "
            "keep)"
        )
    return (
        f"cannot map gene IDs to {to}: fewer than {MIN_SHARE:.0%} of the {len(names)} genes have "
        f"a human gene ID ({found}; {shown}); --gene-id maps human symbols, Ensembl and Entrez "
        "IDs only (to train on the names as they are: --gene-id keep)"
    )


def _kinds_of(gene: str) -> set[str]:
    """The kinds of one ID (:func:`id_kind_shares` for one), ``{"other"}`` for none."""
    shares = id_kind_shares([gene])
    return {k for k in ID_KINDS if shares[k]} or {"other"}


# ----------------------------------------------------------------------------- mapping
@dataclass
class GeneMapping:
    """A matrix whose genes were normalised and mapped, and what was done."""

    values: np.ndarray  # (N, T)
    genes: list[str]  # (T,)
    to: str  # keep, symbol, ensembl or entrez
    kind: str | None  # the detected kind of the input IDs (None with ``keep``)
    n_input: int  # G
    n_mapped: int  # genes with a target (renamed or kept)
    n_merged: int  # mapped genes folded into another gene's target: n_mapped - T
    n_versions: int = 0
    n_par_y: int = 0
    n_aliases: int = 0  # symbols renamed from an alias to the current symbol
    unmapped: list[str] = field(default_factory=list)
    # (T,) input position of each output gene when each comes from exactly one input gene
    sources: np.ndarray | None = None

    def describe(self, duplicates: str) -> str:
        """One line: ``mapped X of Y genes to symbol; Z unmapped (e.g. ...), W duplicates
        aggregated by mean``, plus versions, _PAR_Y rows and aliases when there were any."""
        parts = []
        if self.to != "keep":
            parts.append(
                f"mapped {self.n_mapped} of {self.n_input} genes to {self.to} (IDs read as "
                f"{self.kind}); {len(self.unmapped)} unmapped"
                + (f" (e.g. {', '.join(self.unmapped[:EXAMPLES])})" if self.unmapped else "")
            )
        if self.n_versions:
            parts.append(f"{self.n_versions} Ensembl versions stripped")
        if self.n_par_y:
            parts.append(f"{self.n_par_y} _PAR_Y rows dropped (duplicates of the X copy)")
        if self.n_aliases:
            parts.append(f"{self.n_aliases} aliases renamed to the current symbol")
        if self.n_merged or self.to != "keep":
            parts.append(f"{self.n_merged} duplicates aggregated by {duplicates}")
        return ", ".join(parts)


def map_genes(
    values: np.ndarray, ids: Sequence[str], to: str = "keep", duplicates: str = "mean"
) -> GeneMapping:
    """Normalise gene IDs, map them to ``to`` and aggregate duplicates.

    Parameters
    ----------
    values
        Expression (N, G), samples x genes.
    ids
        The G gene IDs, as read.
    to
        ``keep`` (normalise only), ``symbol``, ``ensembl`` or ``entrez``.
    duplicates
        How genes with one name are combined: ``mean``, ``sum``, ``max`` or ``first``.

    Returns
    -------
    :class:`GeneMapping` with the (N, T) values and T gene names, in the order of each name's
    first gene in the input; ``sources`` gives each one's input position when no genes were
    merged.

    Raises
    ------
    DataError
        The IDs are of no recognisable kind, or none of them maps to ``to``.
    """
    _check_choices(to, duplicates)
    ids = [str(g) for g in ids]
    normalised = normalise_ids(ids)
    x = np.asarray(values)
    if not normalised.keep.all():
        x = x[:, normalised.keep]  # (N, G') without the dropped _PAR_Y rows
    names = normalised.ids
    positions = np.flatnonzero(normalised.keep)  # (G',) input position of each kept gene
    kind, n_aliases, unmapped = None, 0, []
    if to != "keep":
        kind = detect_id_kind(names)
        if kind is None:
            raise DataError(_no_kind_message(names, to))
        targets, n_aliases = _targets(names, kind, to)
        mapped = np.array([t is not None for t in targets], dtype=bool)
        unmapped = [n for n, m in zip(names, mapped, strict=True) if not m]
        if not mapped.any():
            raise DataError(
                f"none of the {len(ids)} gene IDs (read as {kind}, e.g. "
                f"{', '.join(ids[:EXAMPLES])}) maps to a human {to} ID"
            )
        x = x[:, mapped]
        positions = positions[mapped]
        names = [t for t in targets if t is not None]
    out, genes = aggregate_duplicates(x, names, duplicates)
    one_to_one = len(genes) == len(names)  # nothing merged: genes keep their input order
    return GeneMapping(
        values=out,
        genes=genes,
        to=to,
        kind=kind,
        n_input=len(ids),
        n_mapped=len(names),
        n_merged=len(names) - len(genes),
        n_versions=normalised.n_versions,
        n_par_y=normalised.n_par_y,
        n_aliases=n_aliases,
        unmapped=unmapped,
        sources=positions if one_to_one else None,
    )


def _targets(ids: list[str], kind: str, to: str) -> tuple[list[str | None], int]:
    """The target ID of each of ``ids`` (None: unmapped) and how many aliases were renamed."""
    table = gene_table()
    if kind == to:  # already the target kind: names stay, but for aliases of one gene
        if kind != "symbol":
            return list(ids), 0
        current = frozenset(table["symbol"])
        alias_of = alias_table().merge(table[["entrez", "symbol"]].drop_duplicates(), on="entrez")
        renamed = dict(zip(alias_of["alias"], alias_of["symbol"], strict=True))
        targets = [g if g in current else renamed.get(g, g) for g in ids]
        return targets, sum(1 for g, t in zip(ids, targets, strict=True) if g != t)
    if kind == "symbol":  # current symbols, then aliases of one gene
        link = pd.concat(
            [
                table[["symbol", "entrez"]].rename(columns={"symbol": "id"}),
                alias_table().rename(columns={"alias": "id"}),
            ]
        )
    elif kind == "entrez":
        link = pd.DataFrame({"id": table["entrez"], "entrez": table["entrez"]})
    else:
        link = table[["ensembl", "entrez"]].dropna().rename(columns={"ensembl": "id"})
    target = pd.DataFrame({"entrez": table["entrez"], "target": table[to]}).dropna()
    source = pd.DataFrame({"position": np.arange(len(ids)), "id": ids})
    pairs = source.merge(link.drop_duplicates(), on="id").merge(
        target.drop_duplicates(), on="entrez"
    )
    pairs["order"] = pd.to_numeric(pairs["entrez"])
    pairs = pairs.sort_values(["position", "order", "target"], kind="stable")
    first = pairs.drop_duplicates("position").set_index("position")["target"]
    targets: list[str | None] = [None] * len(ids)
    for position, value in first.items():
        targets[int(position)] = str(value)
    return targets, 0


def aggregate_duplicates(
    values: np.ndarray, names: Sequence[str], rule: str = "mean"
) -> tuple[np.ndarray, list[str]]:
    """Combine the columns of ``values`` (N, G) that share a name, sample by sample.

    ``mean``, ``sum``, ``max`` skip missing values (all missing gives NaN); ``first`` takes the
    first non-missing value in column order. Returns (N, T) float32 values and the T names in
    order of first appearance.
    """
    _check_choices("keep", rule)
    codes, uniques = pd.factorize(pd.Index(list(names), dtype=object))
    x = np.asarray(values, dtype=np.float32)
    counts = np.bincount(codes, minlength=len(uniques))
    if (counts == 1).all():  # codes are 0..G-1 in column order: nothing to combine
        return x, [str(u) for u in uniques]
    out = np.empty((x.shape[0], len(uniques)), dtype=np.float32)  # (N, T)
    single = counts[codes] == 1  # (G,)
    out[:, codes[single]] = x[:, single]
    grouped = pd.DataFrame(x[:, ~single].T).groupby(codes[~single], sort=True)  # (G_dup, N)
    if rule == "sum":
        combined = grouped.sum(min_count=1)
    else:
        combined = getattr(grouped, rule)()
    out[:, combined.index.to_numpy()] = combined.to_numpy(dtype=np.float32).T
    return out, [str(u) for u in uniques]


def _check_choices(to: str, duplicates: str) -> None:
    if to not in GENE_ID_CHOICES:
        raise ConfigError(f"unknown --gene-id {to!r}; choose from: {', '.join(GENE_ID_CHOICES)}")
    if duplicates not in DUPLICATE_RULES:
        raise ConfigError(
            f"unknown --duplicate-genes {duplicates!r}; choose from: {', '.join(DUPLICATE_RULES)}"
        )


def apply_gene_ids(adata: ad.AnnData, to: str = "keep", duplicates: str = "mean") -> ad.AnnData:
    """:func:`map_genes` on an AnnData's ``X`` and ``var_names``.

    Parameters
    ----------
    adata
        Samples x genes, gene IDs as read in ``var_names`` (they may repeat).
    to
        ``keep`` (normalise only), ``symbol``, ``ensembl`` or ``entrez``.
    duplicates
        How genes with one name are combined (:data:`DUPLICATE_RULES`).

    Returns
    -------
    ``adata`` itself when nothing changed; otherwise a new AnnData with ``obs`` and ``uns``
    kept and ``var`` indexed by the new gene names. The ``var`` columns (a GDC folder's
    ``gene_name``, ``gene_type``) are carried over when every output gene comes from one input
    gene; when genes were merged they are left out, and the note says so. One note line is
    printed when anything changed (always when mapping to another kind).
    """
    mapping = map_genes(np.asarray(adata.X), list(adata.var_names), to, duplicates)
    changed = mapping.genes != list(adata.var_names) or mapping.n_merged or mapping.n_par_y
    message = mapping.describe(duplicates)
    columns = list(adata.var.columns)
    if mapping.sources is not None:
        var = adata.var.iloc[mapping.sources].copy()
    else:
        var = pd.DataFrame(index=np.arange(len(mapping.genes)))
        if columns:
            message += f"; gene annotations ({', '.join(columns)}) not kept: genes were merged"
    var.index = pd.Index(mapping.genes, dtype=str, name=None)
    if to != "keep" or changed:
        note(message)
    if not changed:
        return adata
    return ad.AnnData(X=mapping.values, obs=adata.obs.copy(), var=var, uns=dict(adata.uns))
