"""GSE7390 breast cancer (Desmedt et al., Clin Cancer Res 2007), as shipped by scikit-survival.

198 untreated node-negative patients; 76 genes (Affymetrix HG-U133A probes of the 76-gene
signature of Wang et al. 2005) plus clinical variables; distant-metastasis-free survival
(``t.tdm`` days, ``e.tdm`` event). scikit-survival is already a core dependency (survival metrics
and baselines), so the data are read from its package (``sksurv.datasets.load_breast_cancer``)
instead of keeping a second copy; the file's checksum is checked against the one this dataset
was validated with, and a different file is reported rather than silently used.

Expression goes to ``X`` (probe IDs restored from R's ``X200726_at`` to ``200726_at``); the
clinical columns ``age``, ``size`` (tumour size, cm), ``grade`` and ``er`` (oestrogen receptor)
and the survival target go to ``obs``. Patients have no IDs in the source; they are numbered
``GSE7390_001`` ... in file order.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import resources

import anndata as ad
import numpy as np
import pandas as pd

from omicsformer.console import note
from omicsformer.data.datasets.spec import DatasetSpec

ARFF = "breast_cancer_GSE7390-metastasis.arff"
EXPECTED_SHA256 = "233f4c1c06b2ee299fffcba0f9881f6ed66a3566ccbec30b5004f0d298b52570"
CLINICAL = ("age", "size", "grade", "er")


@lru_cache(maxsize=1)
def _read() -> tuple[pd.DataFrame, np.ndarray]:
    from sksurv.datasets import load_breast_cancer

    with resources.as_file(resources.files("sksurv.datasets") / "data" / ARFF) as path:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != EXPECTED_SHA256:
        note(
            f"{ARFF} in this scikit-survival differs from the validated copy (sha256 {digest[:12]})"
        )
    x, y = load_breast_cancer()
    return x, y


def load() -> ad.AnnData:
    x, y = _read()
    ids = [f"GSE7390_{i + 1:03d}" for i in range(len(x))]
    genes = [c for c in x.columns if c not in CLINICAL]
    obs = x[list(CLINICAL)].copy()
    obs["t.tdm"] = y["t.tdm"]
    obs["e.tdm"] = y["e.tdm"].astype(int)
    obs.index = ids
    var = pd.DataFrame(index=[g[1:] if g[:1] == "X" and g[1:2].isdigit() else g for g in genes])
    values = x[genes].to_numpy(dtype=np.float32)
    return ad.AnnData(X=values, obs=obs, var=var)


SPEC = DatasetSpec(
    name="breast-gse7390",
    description="Node-negative breast cancer, 76-gene signature, metastasis-free survival",
    source="Desmedt et al. 2007, Clin Cancer Res 13:3207 (GEO GSE7390), via scikit-survival",
    licence="GEO public data; BSD-licensed packaging (scikit-survival)",
    targets={
        "t.tdm, e.tdm": "distant-metastasis-free survival: days, event (51 events of 198)",
        "er": "oestrogen receptor status (positive / negative)",
        "grade": "tumour grade",
        "size": "tumour size in cm (regression)",
    },
    default_targets={
        "survival": ("t.tdm", "e.tdm"),
        "classification": "er",
        "regression": "size",
    },
    load=load,
    shape=(198, 76),
)
