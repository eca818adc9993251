"""Build the bundled ``all-leukemia`` dataset from Bioconductor's ``ALL`` data package.

Source: Chiaretti S. et al. (2004) "Gene expression profile of adult T-cell acute lymphocytic
leukemia identifies distinct subsets of patients with different response to therapy and
survival", Blood 103(7):2771-2778, distributed as the Bioconductor experiment-data package
``ALL`` (Artistic-2.0), packaged for Debian as ``r-bioc-all``.

The script asks R (Debian packages ``r-base-core``, ``r-bioc-biobase``, ``r-bioc-all``) to write
the ExpressionSet's expression matrix (12,625 HG-U95Av2 probes x 128 patients, RMA, log2) and its
phenotype table to temporary CSV files, then stores them in the package:

- ``all_leukemia.expr.parquet``: probes x patients, float32, zstd with byte-stream-split
  (the float32 rounding error is below 5e-7 on values between 2 and 13),
- ``all_leukemia.pheno.csv``: the phenotype table (21 columns), one row per patient,
- ``all_leukemia.provenance.json``: source, versions, licence, checksums.

Run from the repository root::

    apt-get install -y r-base-core r-bioc-biobase r-bioc-all
    python scripts/build_all_leukemia.py
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

OUT_DIR = Path(__file__).resolve().parents[1] / "src/omicsformer/data/datasets/files"

R_EXPORT = r"""
suppressMessages(library(Biobase))
data(ALL, package = "ALL")
args <- commandArgs(trailingOnly = TRUE)
x <- exprs(ALL)
write.csv(format(x, digits = 17), args[1], quote = FALSE)
write.csv(pData(ALL), args[2], row.names = TRUE)
cat(annotation(ALL), as.character(packageVersion("ALL")), R.version.string,
    sep = "\n", file = args[3])
"""


def _debian_version(package: str) -> str:
    out = subprocess.run(
        ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> None:
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        tmp_dir = Path(tmp)
        expr_csv, pheno_csv, info_txt = (tmp_dir / n for n in ("expr.csv", "pheno.csv", "info.txt"))
        script = tmp_dir / "export.R"
        script.write_text(R_EXPORT)
        subprocess.run(
            ["Rscript", str(script), str(expr_csv), str(pheno_csv), str(info_txt)], check=True
        )
        annotation, package_version, r_version = info_txt.read_text().splitlines()[:3]
        expr = pd.read_csv(expr_csv, index_col=0, dtype={0: str})
        pheno = pd.read_csv(pheno_csv, index_col=0, dtype=str, keep_default_na=False)

    expr.index.name = "probe"
    expr.columns = expr.columns.astype(str)
    pheno.index = pheno.index.astype(str)
    pheno.index.name = "sample_id"
    assert list(pheno.index) == list(expr.columns), "phenotype rows must follow matrix columns"
    assert expr.shape == (12625, 128), expr.shape

    values = expr.to_numpy(dtype=np.float64)
    stored = values.astype(np.float32)
    max_rounding = float(np.abs(stored - values).max())

    table = pa.table(
        {"probe": expr.index.to_numpy(), **{c: stored[:, i] for i, c in enumerate(expr.columns)}}
    )
    expr_path = OUT_DIR / "all_leukemia.expr.parquet"
    pq.write_table(
        table,
        expr_path,
        compression="zstd",
        compression_level=19,
        use_dictionary=["probe"],
        use_byte_stream_split=list(expr.columns),
    )
    pheno_path = OUT_DIR / "all_leukemia.pheno.csv"
    pheno.to_csv(pheno_path)

    provenance = {
        "dataset": "all-leukemia",
        "citation": (
            "Chiaretti S, Li X, Gentleman R, Vitale A, Vignetti M, Mandelli F, Ritz J, Foa R. "
            "Gene expression profile of adult T-cell acute lymphocytic leukemia identifies "
            "distinct "
            "subsets of patients with different response to therapy and survival. "
            "Blood 2004;103(7):2771-2778."
        ),
        "source": "Bioconductor experiment-data package ALL (https://bioconductor.org/packages/ALL/)",
        "licence": "Artistic-2.0",
        "debian_package": f"r-bioc-all {_debian_version('r-bioc-all')}",
        "bioconductor_package_version": package_version,
        "r_version": r_version,
        "platform": f"Affymetrix {annotation} (HG-U95Av2)",
        "values": "RMA-normalised log2 expression, stored as float32",
        "float32_max_rounding_error": max_rounding,
        "shape": {"probes": int(expr.shape[0]), "patients": int(expr.shape[1])},
        "built_on": date.today().isoformat(),
        "built_by": "scripts/build_all_leukemia.py",
        "sha256": {p.name: _sha256(p) for p in (expr_path, pheno_path)},
    }
    (OUT_DIR / "all_leukemia.provenance.json").write_text(json.dumps(provenance, indent=2) + "\n")
    print(f"wrote {expr_path} ({expr_path.stat().st_size / 1e6:.1f} MB), {pheno_path}")


if __name__ == "__main__":
    main()
