"""Build the shipped human gene-identifier table and GO biological-process gene sets.

Sources: the Bioconductor annotation packages ``org.Hs.eg.db`` (genome-wide annotation for
human, keyed by NCBI Entrez Gene ID; Carlson M., org.Hs.eg.db: Genome wide annotation for Human)
and ``GO.db`` (the Gene Ontology terms and their relations; Carlson M., GO.db: A set of
annotation maps describing the entire Gene Ontology), both Artistic-2.0, packaged for Debian as
``r-bioc-org.hs.eg.db`` and ``r-bioc-go.db``. Each ships its maps as one SQLite database
(``extdata/*.sqlite``), read here with Python's ``sqlite3``: R is not needed.

The data inside carry their own terms: NCBI Gene records are public domain (NCBI's data policy
places no restriction on use); Ensembl data are free to use without restriction; the Gene
Ontology and its annotations are CC BY 4.0 (cite: Gene Ontology Consortium, "The Gene Ontology
knowledgebase in 2023", Genetics 224(1):iyad031, and Ashburner M. et al., "Gene ontology: tool
for the unification of biology", Nat Genet 2000;25:25-29). ``provenance.json`` records them.

Outputs (``src/omicsformer/data/annotations/``):

- ``hs_gene_ids.parquet``: one row per (Entrez gene, Ensembl gene) pair exactly as the
  database's ``ENSEMBL`` map has them (many-to-many: an Entrez gene with two Ensembl IDs is two
  rows; a gene without an Ensembl ID is one row with a missing ``ensembl``). Columns ``entrez``
  (int32), ``symbol`` (the official NCBI symbol), ``ensembl`` (``ENSG...``, no version).
- ``hs_gene_aliases.parquet``: ``alias`` -> ``entrez`` for previous symbols and synonyms that
  are not the current symbol of any gene (so that an alias never shadows a current symbol);
  an alias of several genes keeps each row (ambiguous: :mod:`omicsformer.data.gene_ids` leaves
  it unmapped).
- ``go_bp.gmt.gz``: GO biological-process gene sets as gene symbols, one per line:
  ``GO:0006915 apoptotic process<TAB>http://amigo.geneontology.org/amigo/term/GO:0006915
  <TAB>SYMBOL...``. A gene annotated to a term belongs to the term and to every ancestor reached
  over ``is_a`` and ``part_of`` edges (the true-path rule; :data:`PROPAGATE_OVER`). GO.db's own
  offspring table also follows ``regulates`` edges, which would put every regulator of a process
  into the process itself; it is used here only as a check (our closure must lie inside it).
  Annotations with evidence :data:`EXCLUDED_EVIDENCE` (``ND``: no biological data available)
  are left out. Sets keep :data:`MIN_SET_SIZE` to :data:`MAX_SET_SIZE` distinct genes.
- ``provenance.json``: sources, versions, licences, rules, counts, sha256 of each output, date.

Run from the repository root::

    apt-get install -y r-bioc-org.hs.eg.db r-bioc-go.db
    python scripts/build_gene_tables.py
"""

from __future__ import annotations

import gzip
import hashlib
import json
import sqlite3
import subprocess
from collections import defaultdict
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

OUT_DIR = Path(__file__).resolve().parents[1] / "src/omicsformer/data/annotations"
SITE = Path("/usr/lib/R/site-library")
ORG_DB = SITE / "org.Hs.eg.db/extdata/org.Hs.eg.sqlite"
GO_DB = SITE / "GO.db/extdata/GO.sqlite"
PACKAGES = ("r-bioc-org.hs.eg.db", "r-bioc-go.db")

MIN_SET_SIZE = 15  # distinct genes; smaller sets are too specific to group genes usefully
MAX_SET_SIZE = 500  # larger ones ("metabolic process", ...) are too broad to mean anything
PROPAGATE_OVER = ("isa", "part of")  # go_bp_parents relationship types that pass genes upwards
EXCLUDED_EVIDENCE = ("ND",)  # "no biological data available": a placeholder, not an annotation
AMIGO = "http://amigo.geneontology.org/amigo/term/"


def _debian_version(package: str) -> str:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


def gene_ids(org: sqlite3.Connection) -> pa.Table:
    """(entrez, symbol, ensembl) rows, many-to-many as the ENSEMBL map has them."""
    rows = org.execute(
        "SELECT CAST(g.gene_id AS INTEGER), i.symbol, e.ensembl_id FROM genes g "
        "JOIN gene_info i ON i._id = g._id LEFT JOIN ensembl e ON e._id = g._id "
        "ORDER BY CAST(g.gene_id AS INTEGER), e.ensembl_id"
    ).fetchall()
    entrez, symbol, ensembl = zip(*rows, strict=True)
    return pa.table(
        {
            "entrez": pa.array(entrez, pa.int32()),
            "symbol": pa.array(symbol, pa.string()),
            "ensembl": pa.array(ensembl, pa.string()),
        }
    )


def aliases(org: sqlite3.Connection) -> pa.Table:
    """(alias, entrez) for aliases that are not any gene's current symbol."""
    rows = org.execute(
        "SELECT DISTINCT a.alias_symbol, CAST(g.gene_id AS INTEGER) FROM alias a "
        "JOIN genes g ON g._id = a._id "
        "WHERE a.alias_symbol NOT IN (SELECT symbol FROM gene_info) "
        "ORDER BY a.alias_symbol, CAST(g.gene_id AS INTEGER)"
    ).fetchall()
    alias, entrez = zip(*rows, strict=True)
    return pa.table({"alias": pa.array(alias, pa.string()), "entrez": pa.array(entrez, pa.int32())})


def _closure(parents: dict[int, set[int]]) -> dict[int, set[int]]:
    """Every term's ancestors (transitive closure of ``parents``), without recursion."""
    ancestors: dict[int, set[int]] = {}
    for start in parents:
        stack = [start]
        while stack:
            term = stack[-1]
            if term in ancestors:
                stack.pop()
                continue
            pending = [p for p in parents.get(term, ()) if p not in ancestors]
            if pending:
                stack.extend(pending)
                continue
            found: set[int] = set()
            for p in parents.get(term, ()):
                found |= {p} | ancestors[p]
            ancestors[term] = found
            stack.pop()
    return ancestors


def go_bp_sets(org: sqlite3.Connection, go: sqlite3.Connection) -> tuple[list[str], dict]:
    """GMT lines of the propagated, size-filtered GO:BP sets, and counts for the provenance."""
    terms = {i: (g, t) for i, g, t in go.execute("SELECT _id, go_id, term FROM go_term")}
    by_go = {g: i for i, (g, _) in terms.items()}
    parents: dict[int, set[int]] = defaultdict(set)
    marks = ",".join("?" * len(PROPAGATE_OVER))
    for child, parent in go.execute(
        f"SELECT _id, _parent_id FROM go_bp_parents WHERE relationship_type IN ({marks})",
        PROPAGATE_OVER,
    ):
        parents[child].add(parent)
    ancestors = _closure(parents)
    offspring_db: dict[int, set[int]] = defaultdict(set)
    for term, child in go.execute("SELECT _id, _offspring_id FROM go_bp_offspring"):
        offspring_db[child].add(term)  # as child -> its ancestors in GO.db's own closure
    outside = [t for t, a in ancestors.items() if not a <= offspring_db[t]]
    assert not outside, f"is_a/part_of ancestors missing from GO.db's closure: {outside[:3]}"

    symbol = dict(org.execute("SELECT _id, symbol FROM gene_info"))
    marks = ",".join("?" * len(EXCLUDED_EVIDENCE))
    annotations = org.execute(
        f"SELECT DISTINCT _id, go_id FROM go_bp WHERE evidence NOT IN ({marks})",
        EXCLUDED_EVIDENCE,
    ).fetchall()
    members: dict[int, set[str]] = defaultdict(set)
    unknown_terms = 0
    for gene, go_id in annotations:
        term = by_go.get(go_id)
        if term is None:  # annotated to a term GO.db no longer has (obsolete)
            unknown_terms += 1
            continue
        for t in {term} | ancestors.get(term, set()):
            members[t].add(symbol[gene])
    lines = []
    for term in sorted(members, key=lambda t: terms[t][0]):
        genes = members[term]
        if MIN_SET_SIZE <= len(genes) <= MAX_SET_SIZE:
            go_id, name = terms[term]
            lines.append("\t".join([f"{go_id} {name}", AMIGO + go_id, *sorted(genes)]))
    counts = {
        "annotations_used": len(annotations),
        "annotations_to_unknown_terms": unknown_terms,
        "terms_with_genes": len(members),
        "sets_kept": len(lines),
        "genes_in_kept_sets": len(
            {
                g
                for t in members
                for g in members[t]
                if MIN_SET_SIZE <= len(members[t]) <= MAX_SET_SIZE
            }
        ),
    }
    return lines, counts


def _metadata(connection: sqlite3.Connection) -> dict[str, str]:
    return dict(connection.execute("SELECT name, value FROM metadata"))


def main() -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    org, go = _connect(ORG_DB), _connect(GO_DB)
    ids = gene_ids(org)
    ids_path = OUT_DIR / "hs_gene_ids.parquet"
    parquet = {"compression": "zstd", "compression_level": 19}
    pq.write_table(ids, ids_path, **parquet)
    alias_table = aliases(org)
    alias_path = OUT_DIR / "hs_gene_aliases.parquet"
    pq.write_table(alias_table, alias_path, **parquet)

    lines, go_counts = go_bp_sets(org, go)
    gmt_path = OUT_DIR / "go_bp.gmt.gz"
    # mtime=0: the same input gives the same bytes (and checksum)
    with gzip.GzipFile(gmt_path, "wb", compresslevel=9, mtime=0) as handle:
        handle.write(("\n".join(lines) + "\n").encode())

    org_meta, go_meta = _metadata(org), _metadata(go)
    frame = ids.to_pandas()
    provenance = {
        "contents": "human gene identifiers (Entrez, symbol, Ensembl) and GO:BP gene sets",
        "citation": [
            "Carlson M. org.Hs.eg.db: Genome wide annotation for Human. Bioconductor.",
            "Carlson M. GO.db: A set of annotation maps describing the entire Gene Ontology. "
            "Bioconductor.",
            "Ashburner M, et al. Gene ontology: tool for the unification of biology. "
            "Nat Genet 2000;25(1):25-29.",
            "The Gene Ontology Consortium. The Gene Ontology knowledgebase in 2023. "
            "Genetics 2023;224(1):iyad031.",
        ],
        "source": {
            "org.Hs.eg.db": "https://bioconductor.org/packages/org.Hs.eg.db/",
            "GO.db": "https://bioconductor.org/packages/GO.db/",
        },
        "debian_packages": {p: _debian_version(p) for p in PACKAGES},
        "database_sources": {
            "entrez_gene": org_meta.get("EGSOURCEDATE"),
            "ensembl_map": "Entrez Gene gene2ensembl, " + str(org_meta.get("EGSOURCEDATE")),
            "gene_ontology": go_meta.get("GOSOURCEDATE"),
            "go_annotations": org_meta.get("GOEGSOURCEDATE"),
        },
        "licence": "Artistic-2.0 (the Bioconductor packages org.Hs.eg.db and GO.db)",
        "data_terms": {
            "NCBI Gene": "public domain (https://www.ncbi.nlm.nih.gov/home/about/policies/)",
            "Ensembl": "no restrictions (https://www.ensembl.org/info/about/legal/)",
            "Gene Ontology": "CC BY 4.0 (http://geneontology.org/docs/go-citation-policy/)",
        },
        "rules": {
            "gene_ids": "one row per (Entrez gene, Ensembl gene) pair of org.Hs.eg.db's ENSEMBL "
            "map; genes without Ensembl ID have ensembl = null",
            "aliases": "org.Hs.eg.db ALIAS2EG rows whose alias is not any gene's current symbol",
            "go_bp_propagation": f"annotations pass to every ancestor over {PROPAGATE_OVER} "
            "edges of GO.db's go_bp_parents (not over regulates edges)",
            "go_bp_excluded_evidence": list(EXCLUDED_EVIDENCE),
            "go_bp_set_size": [MIN_SET_SIZE, MAX_SET_SIZE],
            "go_bp_set_name": "GO ID, a space, the term name; description: the AmiGO URL",
        },
        "counts": {
            "gene_id_rows": len(frame),
            "entrez_genes": int(frame["entrez"].nunique()),
            "symbols": int(frame["symbol"].nunique()),
            "ensembl_genes": int(frame["ensembl"].nunique()),
            "alias_rows": alias_table.num_rows,
            **{f"go_bp_{k}": v for k, v in go_counts.items()},
        },
        "built_on": date.today().isoformat(),
        "built_by": "scripts/build_gene_tables.py",
        "sha256": {p.name: _sha256(p) for p in (ids_path, alias_path, gmt_path)},
    }
    (OUT_DIR / "provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")
    for path in (ids_path, alias_path, gmt_path):
        print(f"wrote {path.relative_to(OUT_DIR.parents[3])} ({path.stat().st_size / 1e6:.2f} MB)")
    print(json.dumps(provenance["counts"], indent=2))


if __name__ == "__main__":
    main()
