import gzip
import hashlib
import json
import re
from importlib import resources

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from omicsformer.data.gene_ids import (
    aggregate_duplicates,
    apply_gene_ids,
    detect_id_kind,
    gene_table,
    id_kind_shares,
    map_genes,
    normalise_ids,
    strip_version,
)
from omicsformer.data.grouping import read_gmt, shipped_gene_sets
from omicsformer.data.readers import load_data
from omicsformer.errors import ConfigError, DataError

ANNOTATIONS = resources.files("omicsformer.data") / "annotations"
TP53, BRCA1, EGFR, CD99 = "ENSG00000141510", "ENSG00000012048", "ENSG00000146648", "ENSG00000002586"


def test_versions_are_stripped_from_ensembl_ids_only():
    assert strip_version("ENSG00000141510.17") == TP53
    assert strip_version(TP53) == TP53
    assert strip_version("ENSMUSG00000059552.14") == "ENSMUSG00000059552"  # any species
    assert strip_version("ENSG00000002586.20_PAR_Y") == CD99
    for other in ("RP11-34P13.7", "TP53", "7157", "1000_at", "ENSG0001.2"):
        assert strip_version(other) == other


def test_par_y_rows_are_dropped_when_their_x_copy_is_there_and_counted():
    ids = [f"{TP53}.17", f"{CD99}.20", f"{CD99}.20_PAR_Y", "ENSG00000124333.16_PAR_Y", "x.1"]
    n = normalise_ids(ids)
    # CD99's Y copy goes (its X copy is in the data); VAMP7's stays, as its plain ID
    assert n.ids == [TP53, CD99, "ENSG00000124333", "x.1"]
    assert n.keep.tolist() == [True, True, False, True, True]
    assert (n.n_par_y, n.n_versions) == (1, 2)


def test_id_kind_is_the_kind_most_ids_are():
    assert detect_id_kind([f"{TP53}.17", BRCA1, EGFR, "something"]) == "ensembl"
    assert detect_id_kind(["7157", "672", "1956"]) == "entrez"
    assert detect_id_kind(["TP53", "BRCA1", "P53", "EGFR"]) == "symbol"  # P53: an alias
    assert detect_id_kind(["1000_at", "1001_at", "TP53"]) is None  # microarray probes
    shares = id_kind_shares(["TP53", "1000_at", "7157", EGFR])
    assert shares == {"symbol": 0.25, "ensembl": 0.25, "entrez": 0.25}


@pytest.mark.parametrize(
    ("rule", "tp53"),
    [("mean", [2.0, 2.0]), ("sum", [4.0, 2.0]), ("max", [3.0, 2.0]), ("first", [1.0, 2.0])],
)
def test_duplicates_are_aggregated_per_sample_by_the_rule(rule, tp53):
    # two versions of TP53 (equal once normalised), BRCA1, and an Ensembl ID no gene has
    ids = [f"{TP53}.16", f"{TP53}.17", f"{BRCA1}.20", "ENSG99999999999.1"]
    x = np.array([[1.0, 3.0, 5.0, 7.0], [2.0, np.nan, 6.0, 8.0]], dtype=np.float32)  # (N=2, G=4)
    m = map_genes(x, ids, "symbol", rule)
    assert m.genes == ["TP53", "BRCA1"]
    np.testing.assert_array_equal(m.values[:, 0], tp53)  # NaN skipped
    np.testing.assert_array_equal(m.values[:, 1], [5.0, 6.0])
    assert (m.kind, m.n_input, m.n_mapped, m.n_merged) == ("ensembl", 4, 3, 1)
    assert m.unmapped == ["ENSG99999999999"]
    assert m.describe(rule) == (
        "mapped 3 of 4 genes to symbol (IDs read as ensembl); 1 unmapped (e.g. ENSG99999999999), "
        f"4 Ensembl versions stripped, 1 duplicates aggregated by {rule}"
    )


def test_all_missing_duplicates_stay_missing_and_unique_names_are_not_copied():
    x = np.array([[np.nan, np.nan, 1.0]], dtype=np.float32)
    for rule in ("mean", "sum", "max", "first"):
        out, names = aggregate_duplicates(x, ["A", "A", "B"], rule)
        assert names == ["A", "B"] and np.isnan(out[0, 0]) and out[0, 1] == 1.0
    unique = np.ones((2, 3), dtype=np.float32)
    assert aggregate_duplicates(unique, ["A", "B", "C"])[0] is unique


def test_mapping_between_every_kind():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert map_genes(x, ["7157", "672", "1956"], "symbol").genes == ["TP53", "BRCA1", "EGFR"]
    assert map_genes(x, ["TP53", "BRCA1", "EGFR"], "entrez").genes == ["7157", "672", "1956"]
    assert map_genes(x, ["TP53", "BRCA1", "EGFR"], "ensembl").genes == [TP53, BRCA1, EGFR]
    assert map_genes(x, [TP53, BRCA1, EGFR], "entrez").genes == ["7157", "672", "1956"]
    # ABCF1 has seven Ensembl IDs (MHC haplotypes): the first in ID order is kept, once
    abcf1 = gene_table().query("symbol == 'ABCF1'")["ensembl"]
    assert len(abcf1) == 7
    assert map_genes(x[:, :1], ["ABCF1"], "ensembl").genes == [min(abcf1)]


def test_ids_of_the_target_kind_keep_their_names_but_aliases_are_renamed():
    x = np.array([[1.0, 2.0, 3.0, 4.0]], dtype=np.float32)
    m = map_genes(x, ["TP53", "P53", "MY_LNCRNA", "BRCA1"], "symbol")
    assert m.genes == ["TP53", "MY_LNCRNA", "BRCA1"]  # unknown symbols are kept, not dropped
    assert (m.n_aliases, m.n_merged, m.unmapped) == (1, 1, [])
    np.testing.assert_array_equal(m.values, [[1.5, 3.0, 4.0]])
    # an Ensembl ID NCBI does not map stays an Ensembl ID
    assert map_genes(x[:, :2], [TP53, "ENSG99999999999"], "ensembl").genes == [
        TP53,
        "ENSG99999999999",
    ]


def test_nothing_mapping_is_one_line_error():
    x = np.zeros((2, 3), dtype=np.float32)
    with pytest.raises(DataError, match="none of the 3 gene IDs") as caught:
        map_genes(x, ["ENSG99999999991", "ENSG99999999992", "ENSG99999999993"], "symbol")
    assert "\n" not in str(caught.value)
    with pytest.raises(DataError) as caught:
        map_genes(x, ["1000_at", "1001_at", "1002_at"], "symbol")
    assert str(caught.value) == (
        "cannot map gene IDs to symbol: fewer than 50% of the 3 genes have a human gene ID (0 "
        "symbols, 0 Ensembl IDs, 0 Entrez IDs, 3 of no known kind; other e.g. 1000_at); "
        "--gene-id maps human symbols, Ensembl and Entrez IDs only (to train on the names as "
        "they are: --gene-id keep)"
    )
    with pytest.raises(ConfigError, match="unknown --duplicate-genes 'median'"):
        map_genes(x, ["TP53", "A2M", "A1BG"], "symbol", "median")


def test_mixed_but_valid_ids_are_called_mixed_with_their_counts():
    """Issue 24: a third symbols, a third Ensembl, a third Entrez were called "not human IDs"."""
    ids = ["TP53", "BRCA1", "EGFR", TP53, BRCA1, "1956", "7157", "672", "A1BG"]
    with pytest.raises(DataError) as caught:
        map_genes(np.zeros((2, len(ids)), dtype=np.float32), ids, "symbol")
    assert str(caught.value) == (
        "cannot map gene IDs to symbol: the 9 genes mix kinds of human ID (4 symbols, 2 Ensembl "
        "IDs, 3 Entrez IDs, 0 of no known kind; symbol e.g. TP53; ensembl e.g. "
        f"{TP53}; entrez e.g. 1956) and none is the kind of at least 50% of them; convert "
        "the IDs to one kind before reading them (to train on the names as they are: --gene-id "
        "keep)"
    )


def test_apply_gene_ids_keeps_obs_and_says_what_it_did(capsys):
    adata = ad.AnnData(
        X=np.ones((2, 3), dtype=np.float32),
        obs=pd.DataFrame({"label": ["a", "b"]}, index=["s1", "s2"]),
        var=pd.DataFrame(index=[f"{TP53}.17", f"{CD99}.20", f"{CD99}.20_PAR_Y"]),
    )
    out = apply_gene_ids(adata, "symbol", "sum")
    assert list(out.var_names) == ["TP53", "CD99"] and out.obs["label"].tolist() == ["a", "b"]
    err = " ".join(capsys.readouterr().err.split())
    assert "mapped 2 of 3 genes to symbol (IDs read as ensembl); 0 unmapped" in err
    assert "1 _PAR_Y rows dropped (duplicates of the X copy), 0 duplicates aggregated by sum" in err
    plain = ad.AnnData(X=np.ones((1, 2), dtype=np.float32), var=pd.DataFrame(index=["a", "b"]))
    assert apply_gene_ids(plain) is plain and capsys.readouterr().err == ""


def test_gene_annotations_are_carried_over_when_no_genes_are_merged(capsys):
    var = pd.DataFrame(
        {"gene_name": ["TP53", "CD99", "CD99", "BRCA1"], "gene_type": ["pc", "pc", "pc", "pc"]},
        index=[f"{TP53}.17", f"{CD99}.20", f"{CD99}.20_PAR_Y", f"{BRCA1}.3"],
    )
    adata = ad.AnnData(X=np.arange(8, dtype=np.float32).reshape(2, 4), var=var)
    kept = apply_gene_ids(adata)  # versions stripped, a _PAR_Y row dropped: one to one
    assert list(kept.var_names) == [TP53, CD99, BRCA1]
    assert kept.var["gene_name"].tolist() == ["TP53", "CD99", "BRCA1"]
    assert list(kept.var.columns) == ["gene_name", "gene_type"]
    mapped = apply_gene_ids(adata, "entrez")
    assert mapped.var["gene_name"].tolist() == ["TP53", "CD99", "BRCA1"]
    assert "not kept" not in capsys.readouterr().err
    adata.var_names = [f"{TP53}.17", f"{TP53}.18", f"{CD99}.20", f"{BRCA1}.3"]
    merged = apply_gene_ids(adata)
    assert list(merged.var_names) == [TP53, CD99, BRCA1] and merged.var.columns.empty
    err = " ".join(capsys.readouterr().err.split())
    assert (
        "1 duplicates aggregated by mean; gene annotations (gene_name, gene_type) not kept" in err
    )


def test_load_data_maps_genes_before_anything_else(tmp_path):
    path = tmp_path / "expr.csv"
    frame = pd.DataFrame(
        [[1.0, 2.0, 3.0]], index=["s1"], columns=[f"{TP53}.17", f"{BRCA1}.3", f"{TP53}.18"]
    )
    frame.to_csv(path)
    assert list(load_data(str(path)).var_names) == [TP53, BRCA1]
    adata = load_data(str(path), gene_id="entrez", duplicate_genes="max")
    assert list(adata.var_names) == ["7157", "672"] and adata.X.tolist() == [[3.0, 2.0]]
    assert list(load_data(str(path), gene_id=None).var_names) == list(frame.columns)


# ----------------------------------------------------------------------------- shipped tables
def test_shipped_files_match_their_provenance():
    provenance = json.loads((ANNOTATIONS / "provenance.json").read_text())
    assert set(provenance["sha256"]) == {
        "hs_gene_ids.parquet",
        "hs_gene_aliases.parquet",
        "go_bp.gmt.gz",
    }
    for name, digest in provenance["sha256"].items():
        assert hashlib.sha256((ANNOTATIONS / name).read_bytes()).hexdigest() == digest, name
    assert provenance["licence"].startswith("Artistic-2.0")
    assert set(provenance["debian_packages"]) == {"r-bioc-org.hs.eg.db", "r-bioc-go.db"}
    counts = provenance["counts"]
    table = pd.read_parquet(ANNOTATIONS / "hs_gene_ids.parquet")
    assert len(table) == counts["gene_id_rows"]
    assert table["entrez"].nunique() == counts["entrez_genes"]
    assert list(table.columns) == ["entrez", "symbol", "ensembl"]
    assert table.query("symbol == 'TP53'")[["entrez", "ensembl"]].values.tolist() == [[7157, TP53]]


def test_go_bp_sets_are_named_size_filtered_and_propagated():
    provenance = json.loads((ANNOTATIONS / "provenance.json").read_text())
    low, high = provenance["rules"]["go_bp_set_size"]
    sets = read_gmt(shipped_gene_sets("go-bp"))
    assert len(sets) == provenance["counts"]["go_bp_sets_kept"]
    assert all(re.fullmatch(r"GO:\d{7} .+", name) for name in sets)
    assert all(low <= len(genes) <= high for genes in sets.values())
    # double-strand break repair is_a DNA repair: every gene of the child is in the parent
    assert set(sets["GO:0006302 double-strand break repair"]) <= set(sets["GO:0006281 DNA repair"])
    assert "BRCA1" in sets["GO:0006302 double-strand break repair"]
    with gzip.open(shipped_gene_sets("go-bp"), "rt") as handle:
        fields = handle.readline().rstrip("\n").split("\t")
    assert fields[1] == "http://amigo.geneontology.org/amigo/term/" + fields[0].split()[0]
