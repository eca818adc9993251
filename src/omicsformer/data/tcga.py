"""TCGA (and TARGET) barcodes: patient, sample and sample-type code, and the filter on it.

A barcode such as ``TCGA-06-2559-01A-01R-1849-01`` reads project ``TCGA``, tissue source site
``06``, participant ``2559``, then ``01A``: sample-type code ``01`` (primary tumour) and vial
``A``; the rest names the portion, analyte, plate and centre of an aliquot. Here:

- the *patient* is the first three fields (``TCGA-06-2559``), the key of clinical tables;
- the *sample* is the first four fields with the vial (``TCGA-06-2559-01A``, GDC) or without
  (``TCGA-06-2559-01``, the UCSC Xena TCGA hub); both compare equal on their first 15 characters;
- the *tissue source site* (``tss``) is the second field (``06``), the centre that collected it;
- the *sample-type code* is the first two characters of the fourth field: 01 primary tumour,
  02 recurrent tumour, 06 metastatic, 10 blood-derived normal, 11 solid tissue normal, ...
  (the GDC's code table, :data:`SAMPLE_TYPES`).
"""

from __future__ import annotations

import re

import anndata as ad
import pandas as pd

from omicsformer.console import note
from omicsformer.errors import DataError

# TCGA and TARGET: PROJECT-TSS-PARTICIPANT[-TYPE+VIAL[-...]]
BARCODE = re.compile(r"^(TCGA|TARGET)-[A-Za-z0-9]{2}-[A-Za-z0-9]{4,6}(-\d{2}[A-Z]?)?(-.*)?$")
SAMPLE_FIELD = re.compile(r"^(\d{2})([A-Z]?)$")

# the GDC's sample-type codes (https://gdc.cancer.gov/resources-tcga-users/tcga-code-tables)
SAMPLE_TYPES: dict[str, str] = {
    "01": "Primary Tumor",
    "02": "Recurrent Tumor",
    "03": "Primary Blood Derived Cancer - Peripheral Blood",
    "04": "Recurrent Blood Derived Cancer - Bone Marrow",
    "05": "Additional - New Primary",
    "06": "Metastatic",
    "07": "Additional Metastatic",
    "08": "Human Tumor Original Cells",
    "09": "Primary Blood Derived Cancer - Bone Marrow",
    "10": "Blood Derived Normal",
    "11": "Solid Tissue Normal",
    "12": "Buccal Cell Normal",
    "13": "EBV Immortalized Normal",
    "14": "Bone Marrow Normal",
    "15": "Sample Type 15",
    "16": "Sample Type 16",
    "20": "Control Analyte",
    "40": "Recurrent Blood Derived Cancer - Peripheral Blood",
    "50": "Cell Lines",
    "60": "Primary Xenograft Tissue",
    "61": "Cell Line Derived Xenograft Tissue",
    "99": "Sample Type 99",
}


def is_barcode(text: object) -> bool:
    """True for a TCGA / TARGET barcode (patient, sample or aliquot)."""
    return isinstance(text, str) and BARCODE.match(text.strip()) is not None


def patient_of(barcode: str) -> str:
    """``TCGA-06-2559-01A-01R-1849-01`` -> ``TCGA-06-2559``; anything else unchanged."""
    text = barcode.strip()
    return "-".join(text.split("-")[:3]) if is_barcode(text) else text


def _sample_fields(barcode: str) -> list[str] | None:
    """The dash-separated fields of a sample or aliquot barcode (four or more: project,
    tissue source site, participant, sample type and vial, ...); None for anything else."""
    text = barcode.strip()
    fields = text.split("-")
    return fields if is_barcode(text) and len(fields) >= 4 else None


def sample_of(barcode: str) -> str:
    """The sample without its vial letter (``TCGA-06-2559-01``), the form both the GDC
    (``-01A``) and the Xena TCGA hub (``-01``) reduce to; a patient barcode is unchanged."""
    fields = _sample_fields(barcode)
    return barcode.strip() if fields is None else "-".join([*fields[:3], fields[3][:2]])


def is_patient_barcode(text: object) -> bool:
    """True for a barcode of exactly three fields (a patient, not a sample)."""
    return is_barcode(text) and len(str(text).strip().split("-")) == 3


def tss_of(barcode: str) -> str | None:
    """The tissue source site of a TCGA barcode (``TCGA-06-2559-01A`` -> ``06``): the centre
    that collected the sample; None for anything else (TARGET's second field is a project)."""
    text = barcode.strip()
    if not is_barcode(text) or not text.startswith("TCGA-"):
        return None
    return text.split("-")[1]


def add_barcode_columns(adata: ad.AnnData) -> None:
    """Write ``obs["patient"]`` (``TCGA-06-2559``) and ``obs["tss"]`` (``06``) from the sample
    barcodes, in place, when every sample ID is a TCGA / TARGET barcode (``tss``: TCGA only).

    A ``patient`` column already there (the GDC sample sheet's Case ID, a user's) is kept and
    only its missing values are filled; a ``tss`` column already there is kept. They let splits
    keep a patient's samples together and ``--group-by tss`` hold out whole centres.
    """
    names = [str(s) for s in adata.obs_names]
    if not names or not all(map(is_barcode, names)):
        return
    patients = pd.Series([patient_of(s) for s in names], index=adata.obs_names, dtype=object)
    if "patient" in adata.obs.columns:
        given = adata.obs["patient"].astype(object)
        adata.obs["patient"] = given.where(given.notna(), patients)
    else:
        adata.obs["patient"] = patients
    sites = [tss_of(s) for s in names]
    if "tss" not in adata.obs.columns and all(site is not None for site in sites):
        adata.obs["tss"] = pd.Series(sites, index=adata.obs_names, dtype=object)


def sample_type_code(barcode: str) -> str | None:
    """The two-digit sample-type code of a sample or aliquot barcode (None if it has none)."""
    fields = _sample_fields(barcode)
    if fields is None:
        return None
    match = SAMPLE_FIELD.match(fields[3])
    return match.group(1) if match else None


def code_for_name(name: str) -> str | None:
    """The code of a sample-type name (``Solid Tissue Normal`` -> ``11``), case-insensitive."""
    wanted = name.strip().lower()
    return next((code for code, text in SAMPLE_TYPES.items() if text.lower() == wanted), None)


def sample_type_codes(adata: ad.AnnData) -> pd.Series:
    """Each sample's type code: the ``sample_type_code`` obs column when the reader set one (GDC
    folders), else the code in the sample barcode; missing where neither says."""
    if "sample_type_code" in adata.obs.columns:
        codes = adata.obs["sample_type_code"]
        return pd.Series(codes.to_numpy(), index=adata.obs_names, dtype="string")
    codes = [sample_type_code(str(s)) for s in adata.obs_names]
    return pd.Series(codes, index=adata.obs_names, dtype="string")


def parse_sample_types(items: list[str] | str) -> list[str]:
    """``01,11`` or names (``Primary Tumor``) -> two-digit codes; an unknown one is an error."""
    if isinstance(items, str):
        items = items.split(",")
    codes = []
    for item in (i.strip() for i in items):
        if not item:
            continue
        if item.isdigit() and len(item) <= 2:
            codes.append(item.zfill(2))
            continue
        code = code_for_name(item)
        if code is None:
            known = ", ".join(f"{c} {n}" for c, n in list(SAMPLE_TYPES.items())[:11])
            raise DataError(
                f"unknown sample type {item!r}; give two-digit codes or GDC names, e.g. {known}"
            )
        codes.append(code)
    return list(dict.fromkeys(codes))


def filter_sample_types(adata: ad.AnnData, wanted: list[str] | str) -> ad.AnnData:
    """Keep the samples whose type code is in ``wanted`` (codes or names); print the count.

    Works on any matrix whose sample IDs are TCGA / TARGET barcodes, and on GDC folders (whose
    sample sheet gives the type). Samples of no known type are an error: they cannot be
    filtered.
    """
    codes = parse_sample_types(wanted)
    if not codes:
        return adata
    present = sample_type_codes(adata)
    unknown = present.isna().to_numpy()
    if unknown.any():
        shown = ", ".join(map(str, adata.obs_names[unknown][:3]))
        raise DataError(
            f"--sample-types needs TCGA / TARGET sample barcodes (or a GDC sample sheet); "
            f"{int(unknown.sum())} of {adata.n_obs} sample IDs have no sample-type code, "
            f"e.g. {shown}"
        )
    keep = present.isin(codes).to_numpy()
    if not keep.any():
        raise DataError(
            f"no sample of type {', '.join(codes)}; the data has: {describe_types(present)}"
        )
    note(
        f"kept {int(keep.sum())} of {adata.n_obs} samples of type {', '.join(codes)} "
        f"(the data has: {describe_types(present)})"
    )
    return adata[keep].copy()


def describe_types(codes: pd.Series) -> str:
    """``01 Primary Tumor: 12, 11 Solid Tissue Normal: 3``."""
    counts = codes.value_counts().sort_index()
    return ", ".join(f"{c} {SAMPLE_TYPES.get(c, '?')}: {n}" for c, n in counts.items())
