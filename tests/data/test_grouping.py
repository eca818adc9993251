import gzip
import re

import numpy as np
import pytest

from omicsformer.data.datasets.synthetic import make_synthetic
from omicsformer.data.grouping import (
    Grouping,
    gene_set_file,
    gene_set_membership,
    gmt_grouping,
    kmeans_grouping,
    make_grouping,
    random_grouping,
    read_gmt,
    shipped_gene_sets,
)
from omicsformer.errors import ConfigError, DataError
from omicsformer.nn.settings import AttentionSettings


def test_random_grouping_is_a_seeded_balanced_partition():
    g = random_grouping(103, 10, seed=0)
    everything = np.sort(np.concatenate(g.members))
    assert np.array_equal(everything, np.arange(103))
    assert set(g.sizes) == {10, 11}
    assert [m.tolist() for m in random_grouping(103, 10, 0).members] == [
        m.tolist() for m in g.members
    ]
    assert random_grouping(103, 10, 1).members[0].tolist() != g.members[0].tolist()


def test_kmeans_grouping_is_balanced_and_finds_modules():
    data = make_synthetic(
        n_samples=200, n_genes=120, n_modules=4, module_size=30, module_correlation=0.8, seed=0
    )
    x = np.asarray(data.adata.X)
    x = (x - x.mean(0)) / x.std(0)
    g = kmeans_grouping(x, 4, seed=0)
    assert np.array_equal(np.sort(np.concatenate(g.members)), np.arange(120))
    assert set(g.sizes) == {30}
    # co-expressed genes land together: groups are far more coherent than a random partition
    corr = np.corrcoef(x.T)

    def within(grouping):
        return np.mean(
            [corr[np.ix_(m, m)][np.triu_indices(len(m), 1)].mean() for m in grouping.members]
        )

    assert within(g) > within(random_grouping(120, 4, seed=0)) + 0.2


def test_kmeans_sizes_differ_by_at_most_one():
    x = np.random.default_rng(0).normal(size=(40, 101))
    assert set(kmeans_grouping(x, 7, seed=3).sizes) <= {14, 15}


def write_gmt(tmp_path, text):
    path = tmp_path / "sets.gmt"
    path.write_text(text)
    return path


def test_gmt_groups_keep_unknown_genes_out_and_ungrouped_in(tmp_path):
    genes = ["A", "B", "C", "D", "E", "F"]
    path = write_gmt(
        tmp_path,
        "SET1\tdesc\tA\tB\tZZZ\n"  # ZZZ is not in the data
        "SET2\thttp://x\tB\tC\n"  # B is in two sets
        "EMPTY\tdesc\tQQ\n",  # no gene in the data: dropped
    )
    g = gmt_grouping(path, genes)
    assert g.names == ["SET1", "SET2", "ungrouped"]
    assert [m.tolist() for m in g.members] == [[0, 1], [1, 2], [3, 4, 5]]
    dropped = gmt_grouping(path, genes, drop_ungrouped=True)
    assert dropped.names == ["SET1", "SET2"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SET1\tonly-description\n", "line 1 is not a GMT gene set"),
        ("SET1\td\tA\nSET1\td\tB\n", "line 2: gene set 'SET1' appears twice"),
        ("\n\n", "no gene sets found"),
        ("SET1\td\tX1\tX2\n", "no gene of any set is in the data"),
    ],
)
def test_bad_gmt_files_are_clear_errors(tmp_path, text, message):
    path = write_gmt(tmp_path, text)
    with pytest.raises(DataError, match=message):
        gmt_grouping(path, ["A", "B"])


def test_gmt_missing_file_and_unknown_strategy(tmp_path):
    with pytest.raises(DataError, match="gene-set file not found"):
        read_gmt(tmp_path / "none.gmt")
    with pytest.raises(ConfigError, match="unknown grouping 'pathways'"):
        make_grouping("pathways", ["A"], np.zeros((2, 1)), 1, 0)
    with pytest.raises(ConfigError, match="n_groups must be between"):
        random_grouping(5, 6, 0)


def test_gene_set_specs_share_the_option_language(tmp_path):
    path = write_gmt(tmp_path, "S1\td\tA\tB\nS2\td\tC\n")
    assert gene_set_file(f"gmt:{path}") == gene_set_file(f"gmt:path={path}") == path
    assert gene_set_file("go-bp").name == "go_bp.gmt.gz"
    assert gene_set_file("random") is None and gene_set_file("go-bp:path=x") is None
    with pytest.raises(ConfigError, match="gmt needs a file, gmt:PATH"):
        gene_set_file("gmt:")
    genes, x = ["A", "B", "C"], np.zeros((2, 3))
    short = make_grouping(f"gmt:{path}", genes, x, 1, 0)
    assert make_grouping(f"gmt:path={path}", genes, x, 1, 0).names == short.names == ["S1", "S2"]
    mask = AttentionSettings(attention_mask=f"gmt:path={path}")
    assert mask.gene_set_file() == path


def test_grouping_round_trips_through_json():
    g = random_grouping(20, 3, 0)
    again = Grouping.from_dict(g.to_dict())
    assert again.names == g.names and all(
        np.array_equal(a, b) for a, b in zip(again.members, g.members, strict=True)
    )


def test_msigdb_style_gzipped_gmt_is_read_as_is(tmp_path):
    path = tmp_path / "h.all.v2023.1.Hs.symbols.gmt.gz"
    with gzip.open(path, "wt") as handle:
        handle.write(
            "HALLMARK_P53_PATHWAY\thttps://www.gsea-msigdb.org/gsea/msigdb/human/geneset/"
            "HALLMARK_P53_PATHWAY\tTP53\tMDM2\tCDKN1A\n"
            "HALLMARK_DNA_REPAIR\thttps://www.gsea-msigdb.org/gsea/msigdb/human/geneset/"
            "HALLMARK_DNA_REPAIR\tBRCA1\tTP53\n"
        )
    assert read_gmt(path) == {
        "HALLMARK_P53_PATHWAY": ["TP53", "MDM2", "CDKN1A"],
        "HALLMARK_DNA_REPAIR": ["BRCA1", "TP53"],
    }
    g = make_grouping(f"gmt:{path}", ["TP53", "BRCA1", "GAPDH"], np.zeros((2, 3)), 2, 0)
    assert g.names == ["HALLMARK_P53_PATHWAY", "HALLMARK_DNA_REPAIR", "ungrouped"]
    broken = tmp_path / "broken.gmt.gz"
    broken.write_bytes(b"not gzip")
    with pytest.raises(DataError, match="cannot be read as a GMT file"):
        read_gmt(broken)


# genes of DNA repair (GO:0006281) and glycolysis, and two that are in no GO:BP set kept
REAL_SYMBOLS = ["TP53", "BRCA1", "BRCA2", "RAD51", "ATM", "XRCC1", "HK1", "PFKM", "PKM", "LDHA"]


def test_go_bp_grouping_on_real_symbols(capsys):
    genes = [*REAL_SYMBOLS, "MY_LNCRNA", "NOT_A_GENE"]
    g = make_grouping("go-bp", genes, np.zeros((2, len(genes))), 4, 0)
    assert g.strategy == "go-bp"
    repair = g.members[g.names.index("GO:0006281 DNA repair")]
    assert [genes[i] for i in repair] == ["TP53", "BRCA1", "BRCA2", "RAD51", "ATM", "XRCC1"]
    assert g.names[-1] == "ungrouped" and g.members[-1].tolist() == [10, 11]
    assert Grouping.from_dict(g.to_dict()).names == g.names
    err = " ".join(capsys.readouterr().err.split())
    assert re.search(r"gene sets \(go-bp\): 10 of 12 genes are in some set; \d+ of 4923 sets", err)
    dropped = make_grouping("go-bp", genes, np.zeros((2, 12)), 4, 0, drop_ungrouped=True)
    assert "ungrouped" not in dropped.names


def test_go_bp_on_data_named_otherwise_suggests_gene_id_symbol():
    with pytest.raises(DataError, match="go-bp names genes by human symbol.*--gene-id symbol"):
        make_grouping("go-bp", ["ENSG00000141510", "ENSG00000012048"], np.zeros((2, 2)), 1, 0)


def test_go_bp_attention_mask_membership(capsys):
    record = gene_set_membership(shipped_gene_sets("go-bp"), [*REAL_SYMBOLS, "NOT_A_GENE"])
    assert record["source"] == "go-bp"
    assert record["gene_sets"][-1] == [] and all(record["gene_sets"][:-1])
    assert "GO:0006281 DNA repair" in record["sets"]
    err = " ".join(capsys.readouterr().err.split())
    assert "attention mask: 10 of 11 genes are in some gene set" in err
