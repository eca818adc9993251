"""The Chiaretti et al. (2004) adult acute lymphoblastic leukemia cohort (Bioconductor ``ALL``).

128 patients x 12,625 probes (Affymetrix HG-U95Av2, RMA, log2), shipped in ``files/`` and built
by ``scripts/build_all_leukemia.py`` from the Debian package ``r-bioc-all`` (Artistic-2.0);
``files/all_leukemia.provenance.json`` records the source, versions and checksums.

Named targets added to ``obs``:

- ``lineage``: B or T cell lineage, the first letter of ``BT`` (B, B1-B4 -> B; T, T1-T4 -> T).
- ``subtype``: molecular subtype from ``mol.biol`` restricted to the four classes large enough to
  learn (BCR/ABL 37, NEG 74, ALL1/AF4 10, E2A/PBX1 5); NUP-98 and p15/p16 (one patient each) are
  set missing, so they are dropped when ``subtype`` is the target.

All raw phenotype columns (``BT``, ``mol.biol``, ``relapse``, ``remission``, ``sex``, ``age``, ...)
are kept in ``obs`` and can be used as targets as well.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import anndata as ad
import numpy as np
import pandas as pd

from omicsformer.data.datasets.spec import DatasetSpec

SUBTYPES = ("BCR/ABL", "NEG", "ALL1/AF4", "E2A/PBX1")


@lru_cache(maxsize=1)
def _read() -> tuple[np.ndarray, pd.Index, pd.DataFrame]:
    files = resources.files("omicsformer.data.datasets") / "files"
    with resources.as_file(files / "all_leukemia.expr.parquet") as path:
        expr = pd.read_parquet(path).set_index("probe")
    with resources.as_file(files / "all_leukemia.pheno.csv") as path:
        pheno = pd.read_csv(path, index_col=0, dtype={"sample_id": str})
    pheno.index = pheno.index.astype(str)
    values = expr.to_numpy(dtype=np.float32).T  # (patients, probes)
    return values, pd.Index(expr.index.astype(str)), pheno


def load() -> ad.AnnData:
    """Return the cohort as AnnData (128 x 12,625) with ``lineage`` and ``subtype`` in obs."""
    values, probes, pheno = _read()
    obs = pheno.copy()
    obs["lineage"] = obs["BT"].astype(str).str[0].where(obs["BT"].notna())
    obs["subtype"] = obs["mol.biol"].where(obs["mol.biol"].isin(SUBTYPES))
    return ad.AnnData(X=values.copy(), obs=obs, var=pd.DataFrame(index=probes))


SPEC = DatasetSpec(
    name="all-leukemia",
    description="Adult acute lymphoblastic leukemia, HG-U95Av2 microarray (RMA log2)",
    source="Chiaretti et al. 2004, Blood 103:2771; Bioconductor ALL 1.40.0 (Debian r-bioc-all)",
    licence="Artistic-2.0",
    targets={
        "subtype": "molecular subtype: BCR/ABL, NEG, ALL1/AF4, E2A/PBX1 (126 patients)",
        "lineage": "B vs T cell lineage from BT (128 patients)",
    },
    default_targets={"classification": "subtype"},
    load=load,
    shape=(128, 12625),
)
