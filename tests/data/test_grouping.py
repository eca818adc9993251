import gzip
import re

import numpy as np
import pytest

from omicsformer.data.datasets.synthetic import make_synthetic
from omicsformer.data.grouping import (
    MAX_SETS,
    MIN_GROUP_SIZE,
    Grouping,
    GroupingOptions,
    auto_n_groups,
    gene_set_file,
    gene_set_membership,
    gmt_grouping,
    kmeans_grouping,
    make_grouping,
    random_grouping,
    read_gmt,
    select_gene_sets,
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
    found = r"gene sets \(go-bp\): 10 of 12 genes are in some set; [\d,]+ of 4,923 sets"
    assert re.search(found, err)
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


# ------------------------------------------------------------ groups that follow the gene count
@pytest.mark.parametrize(
    ("n_genes", "expected"), [(10, 2), (76, 2), (158, 4), (2000, 20), (60000, 20)]
)
def test_default_groups_follow_the_gene_count(n_genes, expected, capsys):
    assert auto_n_groups(n_genes) == expected == min(20, max(2, n_genes // MIN_GROUP_SIZE))
    notes = capsys.readouterr().err.splitlines()
    if n_genes < 2 * MIN_GROUP_SIZE:  # too few for groups of the minimum size: one line says so
        assert len(notes) == 1
        assert f"{n_genes} genes are too few for 2 groups of min_group_size=" in notes[0]
        assert f"using {expected} groups of about {n_genes // expected} genes" in notes[0]
    else:
        assert notes == []


def test_n_groups_zero_is_the_rule_and_an_explicit_count_is_kept():
    x = np.zeros((3, 76))
    genes = [f"g{i}" for i in range(76)]
    assert len(make_grouping("random", genes, x, 0, 0).members) == 2
    assert len(make_grouping("random", genes, x, 0, 0, min_group_size=8).members) == 9
    points = np.random.default_rng(0).normal(size=(5, 76))
    assert len(make_grouping("kmeans", genes, points, 0, 0).members) == 2
    assert len(make_grouping("random", genes, x, 20, 0).members) == 20  # an old model's 20
    assert len(GroupingOptions().make(genes, x, 0).members) == 2
    assert auto_n_groups(1) == 1


# ------------------------------------------------------------ gene sets: a bounded, greedy choice
# genes A..L; BIG covers the most, BIG_CHILD lies inside it, TWIN overlaps BIG (Jaccard 4/7),
# SMALL adds two new genes, LAST one
TINY_GMT = (
    "SMALL\td\tI\tJ\tA\n"
    "BIG\td\tA\tB\tC\tD\tE\n"
    "BIG_CHILD\td\tA\tB\n"
    "TWIN\td\tA\tB\tC\tD\tF\tG\n"
    "OTHER\td\tF\tG\tH\n"
    "LAST\td\tK\tA\n"
)
TINY_GENES = list("ABCDEFGHIJKL")


def tiny_members(tmp_path):
    sets = read_gmt(write_gmt(tmp_path, TINY_GMT))
    position = {g: i for i, g in enumerate(TINY_GENES)}
    return list(sets), [np.array(sorted(position[g] for g in s)) for s in sets.values()]


def test_greedy_selection_covers_most_genes_without_redundant_sets(tmp_path):
    names, members = tiny_members(tmp_path)
    kept = select_gene_sets(members, len(TINY_GENES), max_sets=10, max_overlap=0.5)
    # TWIN adds 6 genes; BIG overlaps it by 4/7 > 0.5 and is ruled out (its E is lost);
    # SMALL adds I, J; OTHER (H) and LAST (K) add one each, the first in file order first;
    # BIG_CHILD adds nothing
    assert [names[j] for j in kept] == ["TWIN", "SMALL", "OTHER", "LAST"]
    covered = {TINY_GENES[i] for j in kept for i in members[j]}
    assert covered == set("ABCDFGHIJK")
    for a in kept:  # no two kept sets overlap by more than max_overlap
        for b in kept:
            if a != b:
                shared = len(np.intersect1d(members[a], members[b]))
                assert shared / len(np.union1d(members[a], members[b])) <= 0.5
    assert select_gene_sets(members, len(TINY_GENES), 10, 0.5) == kept  # deterministic
    assert select_gene_sets(members, len(TINY_GENES), 2, 0.5) == kept[:2]  # the cap
    overlapping = [names[j] for j in select_gene_sets(members, len(TINY_GENES), 10, 1.0)]
    assert overlapping == ["TWIN", "SMALL", "BIG", "OTHER", "LAST"]  # E is BIG's alone


def test_capped_gene_set_grouping_says_what_it_kept(tmp_path, capsys):
    path = write_gmt(tmp_path, TINY_GMT)
    g = gmt_grouping(path, TINY_GENES, max_sets=2, max_overlap=0.5)
    assert g.names[:2] == ["TWIN", "SMALL"] and g.names[-1] == "ungrouped"
    assert sorted(TINY_GENES[i] for i in g.members[-1]) == ["E", "H", "K", "L"]
    err = " ".join(capsys.readouterr().err.split())
    assert (
        f"{path}: 2 of 6 sets kept (non-redundant, greedy coverage; -o max_sets=0 keeps all), "
        "covering 8 of 12 genes (67 %; 11 are in some set); 4 genes in 'ungrouped'"
    ) in err
    every = gmt_grouping(path, TINY_GENES, max_sets=0)
    assert every.names == [*read_gmt(path), "ungrouped"]  # 0: every set, as before the cap
    assert gmt_grouping(path, TINY_GENES, max_sets=6).names == every.names  # no more than cap
    dropped = gmt_grouping(path, TINY_GENES, drop_ungrouped=True, max_sets=2)
    assert dropped.names == ["TWIN", "SMALL"]
    assert "4 genes in no kept set dropped (drop_ungrouped)" in capsys.readouterr().err


def test_genes_left_out_of_the_kept_sets_are_dealt_into_groups_no_larger_than_a_set(
    tmp_path, capsys
):
    path = write_gmt(tmp_path, TINY_GMT)
    genes = TINY_GENES + [f"X{i}" for i in range(14)]  # 18 genes in no kept set, largest set 6
    g = gmt_grouping(path, genes, max_sets=2, seed=0)
    assert g.names == ["TWIN", "SMALL", "ungrouped_1", "ungrouped_2", "ungrouped_3"]
    left = {genes.index(x) for x in "EHKL"} | set(range(12, 26))
    assert sorted(np.concatenate(g.members[2:]).tolist()) == sorted(left)
    assert g.sizes[2:] == [6, 6, 6]
    assert "18 genes in 'ungrouped' (at random in 3 groups, none larger than the largest set)" in (
        " ".join(capsys.readouterr().err.split())
    )
    again, other = (
        gmt_grouping(path, genes, max_sets=2, seed=0),
        gmt_grouping(path, genes, max_sets=2, seed=1),
    )
    assert [m.tolist() for m in again.members] == [m.tolist() for m in g.members]  # seeded
    assert [m.tolist() for m in other.members[2:]] != [m.tolist() for m in g.members[2:]]
    assert gmt_grouping(path, genes, max_sets=0).names[-1] == "ungrouped"  # as before the cap


def test_go_bp_default_cap_keeps_a_bounded_number_of_sets():
    genes = [*REAL_SYMBOLS, "NOT_A_GENE"]
    g = GroupingOptions(grouping="go-bp").make(genes, np.zeros((2, len(genes))), 0)
    assert len(g.names) <= MAX_SETS + 1
    every = make_grouping("go-bp", genes, np.zeros((2, len(genes))), 0, 0)
    assert len(every.names) > len(g.names)
    assert set(np.concatenate(g.members).tolist()) == set(range(len(genes)))  # coverage kept
