"""Property-based tests of the readers (issue 24): damaged inputs end in a result or in one
:class:`~omicsformer.errors.OmicsformerError`, never in another exception.

Each test builds a plausible file of one kind (an expression matrix as CSV / TSV / Parquet, a
clinical table in each style, a GDC download folder with its sample sheet, a UCSC Xena matrix)
from generated cells, damages it (a truncation, another delimiter, binary junk, a broken gzip
stream, duplicated or missing headers, text, NaN and inf among the numbers, an empty file, ...)
and reads it through :func:`omicsformer.data.readers.load_data`, as the command line does.

The examples are bounded (``FUZZ_EXAMPLES``, 40 by default; ``OMICSFORMER_FUZZ_EXAMPLES=500``
explores more) and derandomized, so a run of the suite is fast and repeatable.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from omicsformer.data.readers import load_data
from omicsformer.errors import OmicsformerError
from tests.data.tcga_files import SHEET_COLUMNS, STAR_SUFFIX, star_text

FUZZ_EXAMPLES = int(os.environ.get("OMICSFORMER_FUZZ_EXAMPLES", "40"))
BOUNDED = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=5000,  # ms per example: a loaded machine is slow, never wrong
    derandomize=FUZZ_EXAMPLES <= 40,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# ------------------------------------------------------------------------------ the pieces
NUMBERS = st.one_of(
    st.integers(-1000, 10**6).map(str),
    st.floats(allow_nan=True, allow_infinity=True, width=32).map(repr),
)
ODD_CELLS = st.sampled_from(
    ["", "NA", "nan", "NaN", "inf", "-inf", "1e400", "abc", "1,5", "TRUE", "'--", "#N/A",
     "[Not Available]", '"', '""', "\x00", "é", "1 2", "\t", ",", "0x1F", "--"]
)  # fmt: skip
CELLS = st.one_of(NUMBERS, NUMBERS, NUMBERS, NUMBERS, ODD_CELLS, st.text(max_size=6))
BARCODES = st.sampled_from(
    [f"TCGA-AB-{p:04d}" for p in range(1, 5)]
    + [f"TCGA-AB-{p:04d}-{c}" for p in range(1, 5) for c in ("01A", "01B", "11A", "01")]
)
IDS = st.one_of(
    BARCODES,
    BARCODES,
    st.sampled_from(["s1", "s2", "s3", "", "1", "1.0", "NA"]),
    st.text(max_size=4),
)
GENES = st.one_of(
    st.sampled_from(["TP53", "BRCA1", "EGFR", "ENSG00000141510.17", "7157", "g1", "g2", ""]),
    st.text(max_size=5),
)
CLEAN_GENES = st.sampled_from(["TP53", "BRCA1", "EGFR", "A1BG", "ENSG00000141510.17", "7157"])
CLEAN_IDS = st.one_of(BARCODES, st.sampled_from([f"s{i}" for i in range(1, 9)]))
DELIMITERS = st.sampled_from([",", "\t", ";", " ", "|"])
ENDINGS = st.sampled_from(["\n", "\r\n", "\r"])


def table_text(header: list[str], rows: list[list[str]], sep: str, end: str) -> str:
    return end.join(sep.join(cells) for cells in [header, *rows]) + end


@st.composite
def tables(
    draw, header: st.SearchStrategy | None = None, first=IDS, clean: st.SearchStrategy | None = None
) -> tuple[list, list]:
    """A header and rows of cells. Half the tables are well formed (numbers, distinct IDs, every
    row as wide as the header), so that damage reaches past the first checks; the others may
    hold any cell, repeated IDs and rows shorter or longer than the header."""
    n_rows = draw(st.sampled_from([0, 1, 2, 3, 3, 4, 4, 5, 6]))
    if draw(st.booleans()):  # well formed
        clean_header = st.lists(CLEAN_GENES, min_size=1, max_size=5).map(lambda g: ["id", *g])
        head = draw(header if header is not None else clean_header)
        clean_ids = clean if clean is not None else CLEAN_IDS
        ids = draw(st.lists(clean_ids, min_size=n_rows, max_size=n_rows, unique=True))
        numbers = st.lists(NUMBERS, min_size=len(head) - 1, max_size=len(head) - 1)
        return head, [[i, *draw(numbers)] for i in ids]
    head = draw(
        header
        if header is not None
        else st.lists(GENES, min_size=0, max_size=5).map(lambda g: ["id", *g])
    )
    width = max(len(head), 1)
    rows = []
    for _ in range(n_rows):
        size = max(draw(st.sampled_from([width, width, width, width - 1, width + 1])) - 1, 0)
        rows.append([draw(first), *draw(st.lists(CELLS, min_size=size, max_size=size))])
    return head, rows


@st.composite
def damaged(draw, text: str, name: str = "") -> bytes:
    """``text`` as the bytes of a file called ``name`` (gzipped when it ends in ``.gz``) with
    one damage, or none."""
    data = text.encode("utf-8", errors="surrogatepass")
    if name.endswith(".gz"):
        data = gzip.compress(data)
    kind = draw(st.sampled_from(
        ["none"] * 8 + ["truncate", "truncate", "junk", "binary", "empty", "bom", "nul",
                        "header-only", "gzip", "gzip-truncated", "quote"]
    ))  # fmt: skip
    if kind == "truncate" and data:
        return data[: draw(st.integers(0, len(data) - 1))]
    if kind == "junk":
        return data + draw(st.binary(min_size=1, max_size=40))
    if kind == "binary":
        return draw(st.binary(min_size=1, max_size=200))
    if kind == "empty":
        return b""
    if kind == "bom":
        return b"\xef\xbb\xbf" + data
    if kind == "nul" and data:
        at = draw(st.integers(0, len(data)))
        return data[:at] + b"\x00" + data[at:]
    if kind == "header-only":
        return data.splitlines(keepends=True)[0] if data else data
    if kind == "gzip":
        return gzip.compress(data)
    if kind == "gzip-truncated":
        packed = gzip.compress(data)
        return packed[: draw(st.integers(0, max(len(packed) - 1, 0)))]
    if kind == "quote" and data:
        at = draw(st.integers(0, len(data)))
        return data[:at] + b'"' + data[at:]
    return data


def read_or_refuse(path: Path, **kwargs) -> None:
    """load_data either gives an AnnData or raises an OmicsformerError; anything else fails."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # library warnings are the CLI's to print, once each
        try:
            adata = load_data(str(path), **kwargs)
        except OmicsformerError as exc:
            assert str(exc).strip() and "\n" not in str(exc).strip(), "one line"
            event(f"refused: {re.sub(r'^[^:]*: ', '', str(exc))[:45]}")
            return
    event("read")
    assert adata.n_obs > 0 and adata.n_vars > 0
    assert adata.X.dtype == np.float32


def scratch() -> tempfile.TemporaryDirectory:
    """A fresh folder per example (pytest's tmp_path is one per test, not per example)."""
    return tempfile.TemporaryDirectory(prefix="omicsformer-fuzz-")


VALID_MATRIX = pd.DataFrame(
    np.arange(12, dtype=float).reshape(4, 3),
    index=[f"TCGA-AB-{p:04d}-01A" for p in range(1, 5)],
    columns=["TP53", "BRCA1", "EGFR"],
).rename_axis("sample")


# ------------------------------------------------------------------------------ matrices
@BOUNDED
@given(
    table=tables(),
    sep=DELIMITERS,
    end=ENDINGS,
    name=st.sampled_from(["m.csv", "m.tsv", "m.txt", "m.csv.gz", "m.tsv.gz", "m.h5ad"]),
    layout=st.sampled_from(["samples-by-genes", "genes-by-samples"]),
    gene_id=st.sampled_from(["keep", None, "symbol"]),
    data=st.data(),
)  # fmt: skip
def test_a_damaged_expression_matrix_is_read_or_refused(
    table, sep, end, name, layout, gene_id, data
):
    if data.draw(st.sampled_from([True, True, False])):  # the delimiter the name promises
        sep = "," if ".csv" in name else "\t"
    content = data.draw(damaged(table_text(*table, sep, end), name))
    with scratch() as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        read_or_refuse(path, layout=layout, gene_id=gene_id)


@BOUNDED
@given(
    values=st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=3),
                              st.none(), st.booleans(), st.integers(-5, 5)),
                    min_size=0, max_size=12),
    columns=st.lists(GENES, min_size=1, max_size=4),
    index=st.booleans(),
    cut=st.one_of(st.none(), st.integers(0, 400)),
)  # fmt: skip
def test_a_parquet_matrix_of_odd_columns_is_read_or_refused(values, columns, index, cut):
    n = len(values) // len(columns)
    frame = pd.DataFrame(
        {
            f"{c}#{j}": pd.Series(values[j * n : (j + 1) * n], dtype=object)
            for j, c in enumerate(columns)
        }
    )
    frame.columns = columns  # may repeat or be empty
    frame.insert(0, "sample", [f"s{i}" for i in range(n)])
    buffer = io.BytesIO()
    try:
        frame.set_index("sample").to_parquet(buffer) if index else frame.to_parquet(buffer)
    except Exception:  # pyarrow cannot store this frame at all: nothing to read
        return
    content = buffer.getvalue()
    if cut is not None:
        content = content[:cut]
    with scratch() as folder:
        path = Path(folder) / "m.parquet"
        path.write_bytes(content)
        read_or_refuse(path)


# ------------------------------------------------------------------------------ clinical tables
STYLES = {
    "gdc": ["case_submitter_id", "vital_status", "days_to_death", "days_to_last_follow_up"],
    "cdr": ["bcr_patient_barcode", "OS", "OS.time"],
    "cbioportal": ["PATIENT_ID", "OS_STATUS", "OS_MONTHS"],
    "xena": ["sample", "OS", "_PATIENT", "OS.time"],
    "matrix": ["sampleID", "_OS", "_OS_IND"],
    "plain": ["sample", "time", "event"],
}
CLINICAL_CELLS = st.one_of(
    CELLS, st.sampled_from(["Dead", "Alive", "dead", "1:DECEASED", "0:LIVING", "0", "1", "2"])
)


@st.composite
def clinical_tables(draw) -> tuple[str, str]:
    style = draw(st.sampled_from(sorted(STYLES)))
    header = list(STYLES[style])
    if draw(st.booleans()):  # a duplicated, missing or extra column
        change = draw(st.sampled_from(["duplicate", "drop", "extra"]))
        if change == "duplicate":
            header.append(draw(st.sampled_from(header)))
        elif change == "drop" and len(header) > 1:
            header.pop(draw(st.integers(0, len(header) - 1)))
        else:
            header.append(draw(GENES))
    rows = [
        [draw(BARCODES), *[draw(CLINICAL_CELLS) for _ in header[1:]]]
        for _ in range(draw(st.integers(0, 6)))
    ]
    sep = draw(st.sampled_from(["\t", "\t", ",", ";"]))
    text = table_text(header, rows, sep, "\n")
    if style == "cbioportal":
        text = "#Patient Identifier\tOverall\n#STRING\tSTRING\n" + text
    return text, draw(st.sampled_from(["c.tsv", "c.csv", "c.txt", "c.tsv.gz", "c.parquet"]))


@BOUNDED
@given(table=clinical_tables(), survival=st.booleans(), data=st.data())
def test_a_damaged_clinical_table_is_joined_or_refused(table, survival, data):
    text, name = table
    content = data.draw(damaged(text, name))
    with scratch() as folder:
        matrix = Path(folder) / "expr.csv"
        VALID_MATRIX.to_csv(matrix)
        labels = Path(folder) / name
        labels.write_bytes(content)
        wanted = ["os_time", "os_event"] if survival else ["time", "event", "vital_status"]
        read_or_refuse(matrix, labels=str(labels), obs_columns=wanted)


# ------------------------------------------------------------------------------ GDC folders
@st.composite
def sample_sheets(draw) -> tuple[str, list[tuple[str, str]]]:
    """A sample sheet (its header possibly damaged) and the (File ID, File Name) of its rows."""
    header = list(SHEET_COLUMNS)
    if draw(st.booleans()):
        change = draw(st.sampled_from(["drop", "duplicate", "rename"]))
        at = draw(st.integers(0, len(header) - 1))
        if change == "drop":
            header.pop(at)
        elif change == "duplicate":
            header.append(header[at])
        else:
            header[at] = draw(GENES)
    files = []
    rows = []
    for i in range(draw(st.integers(0, 4))):
        file_id = draw(st.sampled_from([f"{i:08x}-aaaa", "0000-aaaa", "", "../x"]))
        name = draw(st.sampled_from([f"f{i}{STAR_SUFFIX}", f"f0{STAR_SUFFIX}", "other.txt", ""]))
        sample = draw(st.one_of(BARCODES, st.just("TCGA-AB-0001-01A,TCGA-AB-0002-01A")))
        cells = {
            "File ID": file_id, "File Name": name, "Data Category": "Transcriptome Profiling",
            "Data Type": "Gene Expression Quantification", "Project ID": "TCGA-XX",
            "Case ID": sample[:12], "Sample ID": sample, "Sample Type": draw(CELLS),
        }  # fmt: skip
        rows.append([cells.get(c, draw(CELLS)) for c in header])
        files.append((file_id, name))
    sep = draw(st.sampled_from(["\t", "\t", ","]))
    return table_text(header, rows, sep, "\n"), files


@BOUNDED
@given(sheet=sample_sheets(), star_damage=st.booleans(), flat=st.booleans(), data=st.data())
def test_a_damaged_gdc_folder_is_read_or_refused(sheet, star_damage, flat, data):
    text, files = sheet
    content = data.draw(damaged(text))
    star = star_text(np.arange(5, dtype=float) * 10)
    with scratch() as folder:
        root = Path(folder) / "gdc"
        root.mkdir()
        (root / "gdc_sample_sheet.2024-05-01.tsv").write_bytes(content)
        for file_id, name in files:
            if not name or "/" in file_id or name == "other.txt":
                continue
            where = root if flat or not file_id else root / file_id
            where.mkdir(exist_ok=True)
            body = data.draw(damaged(star)) if star_damage else star.encode()
            (where / name).write_bytes(body)
        read_or_refuse(root, gdc_column=data.draw(st.sampled_from([None, "unstranded", "nope"])))


# ------------------------------------------------------------------------------ Xena matrices
@BOUNDED
@given(
    table=tables(
        header=st.lists(BARCODES, min_size=0, max_size=4).map(lambda s: ["sample", *s]),
        first=GENES,
        clean=CLEAN_GENES,
    ),
    name=st.sampled_from(["HiSeqV2", "TCGA-XX.star_tpm.tsv", "TCGA-XX.star_counts.tsv.gz",
                          "xena.tsv"]),
    sep=st.sampled_from(["\t", "\t", "\t", ","]),
    data=st.data(),
)  # fmt: skip
def test_a_damaged_xena_matrix_is_read_or_refused(table, name, sep, data):
    content = data.draw(damaged(table_text(*table, sep, "\n"), name))
    with scratch() as folder:
        path = Path(folder) / name
        path.write_bytes(content)
        read_or_refuse(path, gene_id=data.draw(st.sampled_from(["keep", "symbol"])))


ODD_COLUMNS = {
    "datetime": lambda n: pd.Series(pd.date_range("2020-01-01", periods=n)),
    "list": lambda n: pd.Series([[1.0, 2.0]] * n),
    "category": lambda n: pd.Series(["a", "b"] * (n // 2) + ["a"] * (n % 2), dtype="category"),
    "bytes": lambda n: pd.Series([b"\x00\x01"] * n),
    "nullable int": lambda n: pd.Series([1, None] * (n // 2) + [2] * (n % 2), dtype="Int64"),
    "bool": lambda n: pd.Series([True, False] * (n // 2) + [True] * (n % 2)),
    "float": lambda n: pd.Series(np.linspace(0.0, 1.0, n)),
}


@BOUNDED
@given(
    kinds=st.lists(st.sampled_from(sorted(ODD_COLUMNS)), min_size=1, max_size=4),
    n=st.integers(1, 5),
    int_names=st.booleans(),
    index=st.sampled_from(["column", "index", "numbers", "none"]),
)
def test_a_parquet_matrix_of_odd_types_is_read_or_refused(kinds, n, int_names, index):
    frame = pd.DataFrame({f"g{j}": ODD_COLUMNS[k](n) for j, k in enumerate(kinds)})
    if int_names:
        frame.columns = list(range(len(kinds)))
    if index == "column":
        frame.insert(0, "sample", [f"s{i}" for i in range(n)])
    elif index == "index":
        frame.index = [f"s{i}" for i in range(n)]
    elif index == "numbers":
        frame.index = np.arange(n) * 1.5
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pyarrow on mixed column-name types
            frame.to_parquet(buffer)
    except Exception:  # pyarrow cannot store this frame at all: nothing to read
        return
    with scratch() as folder:
        path = Path(folder) / "m.parquet"
        path.write_bytes(buffer.getvalue())
        read_or_refuse(path)


@BOUNDED
@given(
    dtype=st.sampled_from(["float32", "float64", "int64", "bool", "float16", "complex"]),
    sparse=st.booleans(),
    holes=st.sampled_from([None, np.nan, np.inf]),
    twice=st.booleans(),
    layer=st.sampled_from([None, "counts", "absent"]),
    cut=st.one_of(st.none(), st.integers(0, 2000)),
)
def test_an_odd_h5ad_is_read_or_refused(dtype, sparse, holes, twice, layer, cut):
    import anndata as ad
    import scipy.sparse

    x = np.arange(12, dtype=float).reshape(4, 3)
    if holes is not None:
        x[1, 2] = holes
    with np.errstate(invalid="ignore"):  # NaN or inf cast to int or bool: any value will do
        x = x.astype(complex) if dtype == "complex" else x.astype(dtype)
    names = ["s1", "s1", "s2", "s3"] if twice else ["s1", "s2", "s3", "s4"]
    matrix = scipy.sparse.csr_matrix(x) if sparse and dtype != "float16" else x
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # AnnData on repeated names
        adata = ad.AnnData(X=matrix, obs=pd.DataFrame(index=names))
        adata.var_names = ["TP53", "BRCA1", "EGFR"]
        if layer == "counts":
            adata.layers["counts"] = np.ones((4, 3))
        with scratch() as folder:
            path = Path(folder) / "m.h5ad"
            try:
                adata.write_h5ad(path)
            except Exception:  # anndata cannot write it: nothing to read
                return
            if cut is not None:
                path.write_bytes(path.read_bytes()[:cut])
            read_or_refuse(path, layer=layer)
