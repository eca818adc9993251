"""The gene-expression cohorts of SurvSet, read through the installed ``survset`` package.

SurvSet (Drysdale 2022, arXiv:2203.03094; https://github.com/ErikinBC/SurvSet; GPL-3.0) ships
77 survival data sets as pickled DataFrames with the columns ``pid``, ``event`` (1 = event),
``time``, categorical ``fac_*`` and numeric ``num_*``. Most are clinical tables; the 13 in
:data:`COHORTS` are gene-expression cohorts, and only they are read here
(``--data survset:NAME`` or ``--data survset:name=NAME``). The package is an optional extra
(``pip install 'omicsformer[survset]'``), imported when a cohort is loaded.

Which ``num_`` columns are genes: all of them except the clinical covariates each cohort names
(``clinical``), found by reading every cohort's columns and its source's documentation:
``num_age`` (gse1992, gse4335, phpl04K8a), ``num_Age`` (nki70), ``num_size`` (gse1992),
``num_grade`` (gse4335) and ``num_erlev`` (gse3143). SurvSet also writes an ordinal covariate
a second time as a factor (``fac_size`` beside ``num_size``); the factor copy is dropped. The
other SurvSet data sets were left out: clinical tables, cell-nucleus image features (wpbc),
immunohistochemistry cell densities (hepatoCellular), microsatellite markers (micro.censure)
and Bergamaschi (10 cDNA clones from a copy-number study, whose modality is not documented
beyond "gene expression" in RCASPAR).

What a loaded cohort holds:

- ``X``: the gene columns as shipped (float32), genes named without the ``num_`` prefix. The
  symbol cohorts (dataOvarian1, gse1992, gse3143, gse4335) get their HGNC symbols back: the
  survJamda ``HS_`` prefix is dropped and ``_`` turned back into ``-`` (R wrote ``HLA-A`` as
  ``HLA.A`` and SurvSet every ``.`` as ``_``; approved symbols never hold ``_``). Other
  cohorts keep SurvSet's names (probe, clone or contig IDs), except that the merely numbered
  genes of DBCD, NSBCD, DLBCL and AML_Bull (``gene_1``...) get the cohort's name in front
  (``DLBCL_gene_1``): their numbers mean different genes in each.
- ``uns["value_scale"]`` (:data:`SCALE_KEY`): every cohort is already on a log scale, so
  ``--transform none`` (the default) is right and a log transform is refused. Three scales:
  dataOvarian1 ``log, standardized per gene and study`` (mean 0, sd 1 within each study, as
  joint.Cox ships it); ``log ratio`` against a reference for the two-colour arrays (gse1992,
  gse4335, nki70, vdv, DBCD, NSBCD, DLBCL, MCLcleaned, AML_Bull); ``log2 intensity`` for the
  single-channel Affymetrix ones (gse3143, chop, phpl04K8a). A run trained on one scale
  refuses data on another (:func:`~omicsformer.data.scale.check_trained_scale`).
- ``obs``: ``time`` (in the cohort's unit, also in ``uns["time_unit"]``), ``event`` (0/1),
  and the clinical covariates under readable names; SurvSet's missing-value codes
  (``missing``, ``na``; gse4335's nodal stage ``x``) become missing values. Raw meanings:

  - dataOvarian1: ``study`` = ``fac_group``, joint.Cox's study number (4, 9, 13, 16; of 84,
    58, 260, 510 patients), ``debulking`` = ``fac_debulk`` (0/1 as joint.Cox codes it).
  - gse1992: ``age``; ``size`` = ``num_size``, tumour size code (1: <= 2 cm, 2: 2-5 cm,
    3: > 5 cm, 4: extension to chest wall or skin); ``er`` (1/0 -> positive/negative);
    ``node_status`` (1: one or more positive nodes); ``grade``.
  - gse3143: ``er_level`` = ``num_erlev``, oestrogen-receptor level 0-3.
  - gse4335: ``age``; ``grade`` = ``num_grade``; ``er`` (1/0 -> positive/negative);
    ``node_status``, ``metastasis``, ``tumor_size`` = the N, M and T stages; ``histology``.
  - nki70: ``age``; ``diameter`` (<= 2 cm, > 2 cm); ``nodes`` (1-3, >= 4 positive nodes);
    ``er``; ``grade``.
  - phpl04K8a: ``age``, ``sex``. chop: ``treatment`` (below).
- ``obs_names``: SurvSet's patient IDs as text; where the source had none, SurvSet's row
  numbers with the cohort's name in front (``DLBCL-0``), so that cohorts never share an ID.
- A grouping for ``--group-by``: ``study`` (dataOvarian1's four studies) and ``treatment``
  (chop: SurvSet concatenated bujar's ``chop`` table, 181 patients treated with CHOP, and its
  ``rchop`` table, 233 treated with R-CHOP, in that order, numbering the rows 0-413).

The shapes and columns were validated with SurvSet 0.2.11; another version whose cohort has
another shape is noted, and missing columns are an error naming the version.
"""

from __future__ import annotations

import dataclasses
import difflib
import warnings
from dataclasses import dataclass, field
from functools import lru_cache

import anndata as ad
import numpy as np
import pandas as pd

from omicsformer.config import bounded
from omicsformer.console import note
from omicsformer.data.datasets.spec import DatasetSpec
from omicsformer.data.scale import SCALE_KEY
from omicsformer.errors import ConfigError, DataError, MissingDependencyError, optional_import

NAME = "survset"
VALIDATED_WITH = "0.2.11"
MISSING_CODES = ("missing", "na")  # SurvSet's fill for a missing factor; survJamda's "na"

# value scales (uns[SCALE_KEY]); named scales are compared by name when a run meets new data
LOG_RATIO = "log ratio"  # two-colour arrays: sample against a reference
LOG_INTENSITY = "log2 intensity"  # single-channel (Affymetrix) arrays
STANDARDIZED = "log, standardized per gene and study"  # dataOvarian1: mean 0, sd 1 by study


@dataclass(frozen=True)
class Cohort:
    """One SurvSet expression cohort and what its columns mean.

    Attributes
    ----------
    description
        One line: disease, platform, outcome.
    source
        The data's origin as SurvSet documents it (R package or site) and the publication.
    shape
        (patients, genes) as validated.
    time_unit
        Unit of ``time``.
    scale
        Value scale of the genes (``uns["value_scale"]``).
    clinical
        SurvSet column -> obs name; every other ``num_`` column is a gene.
    codes
        obs name -> {SurvSet code: label}; a code mapped to None is missing.
    drop
        SurvSet columns that repeat a clinical column (a factor copy of a numeric one).
    prefix
        What SurvSet's gene names carry after ``num_`` that is not part of the name
        (survJamda's ``HS_``, OpenML's ``g_``).
    symbols
        The genes are HGNC symbols whose ``-`` R and SurvSet wrote as ``_``.
    anonymous
        The genes are only numbered (``gene_1``...): they get the cohort's name in front, so
        that two cohorts' ``gene_1`` (different genes) are never matched by name.
    arms
        Consecutive row blocks (label, rows) that SurvSet concatenated from separate source
        tables, written to ``obs["treatment"]``.
    """

    description: str
    source: str
    shape: tuple[int, int]
    time_unit: str
    scale: str
    clinical: dict[str, str] = field(default_factory=dict)
    codes: dict[str, dict[str, str | None]] = field(default_factory=dict)
    drop: tuple[str, ...] = ()
    prefix: str = ""
    symbols: bool = False
    anonymous: bool = False
    arms: tuple[tuple[str, int], ...] = ()

    @property
    def columns(self) -> list[str]:
        """The obs columns besides time and event."""
        return [*self.clinical.values(), *(["treatment"] if self.arms else [])]


ER = {"1": "positive", "0": "negative"}
SURVJAMDA = "R survJamda.data"
REDDY = "Wang, Li & Reddy 2019 survey data"

COHORTS: dict[str, Cohort] = {
    "dataOvarian1": Cohort(
        "ovarian cancer, 4 studies; time to recurrence",
        "Emura et al. 2018 via R joint.Cox, from curatedOvarianData",
        (912, 158),
        "days",
        STANDARDIZED,
        clinical={"fac_group": "study", "fac_debulk": "debulking"},
        symbols=True,
    ),
    "gse1992": Cohort(
        "breast cancer, Agilent arrays; relapse-free survival",
        f"GEO GSE1992, Hu et al. 2006 BMC Genomics, via {SURVJAMDA}",
        (124, 15528),
        "months",
        LOG_RATIO,
        clinical={
            "num_age": "age",
            "num_size": "size",
            "fac_er_positive": "er",
            "fac_node_status": "node_status",
            "fac_grade": "grade",
        },
        codes={"er": ER},
        drop=("fac_size",),
        prefix="HS_",
        symbols=True,
    ),
    "gse3143": Cohort(
        "breast cancer, Affymetrix HuGeneFL; overall survival",
        f"GEO GSE3143, Bild et al. 2006 Nature, via {SURVJAMDA}",
        (158, 8659),
        "months",
        LOG_INTENSITY,
        clinical={"num_erlev": "er_level"},
        drop=("fac_erlev",),
        prefix="HS_",
        symbols=True,
    ),
    "gse4335": Cohort(
        "breast cancer, Stanford cDNA arrays; overall survival",
        f"GEO GSE4335, Sorlie et al. 2003 PNAS, via {SURVJAMDA}",
        (115, 12793),
        "months",
        LOG_RATIO,
        clinical={
            "num_age": "age",
            "num_grade": "grade",
            "fac_er_status": "er",
            "fac_node_status": "node_status",
            "fac_metastasis": "metastasis",
            "fac_tumor_size": "tumor_size",
            "fac_histology": "histology",
        },
        codes={"er": ER, "node_status": {"x": None}},
        drop=("fac_grade",),
        prefix="HS_",
        symbols=True,
    ),
    "nki70": Cohort(
        "breast cancer, node-positive, NKI 70-gene signature; metastasis-free survival",
        "van de Vijver et al. 2002 NEJM, via R penalized",
        (144, 70),
        "years",
        LOG_RATIO,
        clinical={
            "num_Age": "age",
            "fac_Diam": "diameter",
            "fac_N": "nodes",
            "fac_ER": "er",
            "fac_Grade": "grade",
        },
    ),
    "vdv": Cohort(
        "breast cancer, node-negative; metastasis-free survival",
        "van 't Veer et al. 2002 Nature, via R randomForestSRC",
        (78, 4705),
        "years",
        LOG_RATIO,
    ),
    "DBCD": Cohort(
        "breast cancer, NKI (Dutch breast cancer data); survival",
        f"van Houwelingen et al. 2006 Stat Med, via {REDDY}",
        (295, 4919),
        "years",
        LOG_RATIO,
        anonymous=True,
    ),
    "NSBCD": Cohort(
        "breast cancer, Norway/Stanford (gse4335's patients); survival",
        f"Sorlie et al. 2003 PNAS, via {REDDY}",
        (115, 549),
        "months",
        LOG_RATIO,
        anonymous=True,
    ),
    "DLBCL": Cohort(
        "diffuse large B-cell lymphoma, Lymphochip; overall survival",
        f"Rosenwald et al. 2002 NEJM, via {REDDY}",
        (240, 7399),
        "years",
        LOG_RATIO,
        anonymous=True,
    ),
    "chop": Cohort(
        "diffuse large B-cell lymphoma, CHOP or R-CHOP; overall survival",
        "GEO GSE10846, Lenz et al. 2008 NEJM, via R bujar (chop, rchop)",
        (414, 3833),
        "years",
        LOG_INTENSITY,
        arms=(("CHOP", 181), ("R-CHOP", 233)),
    ),
    "MCLcleaned": Cohort(
        "mantle cell lymphoma, Lymphochip; overall survival",
        "Rosenwald et al. 2003 Cancer Cell, via R AdapEnetClass",
        (92, 574),
        "years",
        LOG_RATIO,
    ),
    "AML_Bull": Cohort(
        "acute myeloid leukemia, cDNA arrays; overall survival",
        f"Bullinger et al. 2004 NEJM, via {REDDY}",
        (116, 6283),
        "days",
        LOG_RATIO,
        anonymous=True,
    ),
    "phpl04K8a": Cohort(
        "lung cancer, 17 Affymetrix probes + 2 GAPDH controls; overall survival",
        "OpenML data set 1245",
        (442, 19),
        "years",
        LOG_INTENSITY,
        clinical={"num_age": "age", "fac_sex": "sex"},
        prefix="g_",
    ),
}


@dataclass(frozen=True)
class SurvSetOptions:
    """``--data survset:NAME``: which cohort (checked against :data:`COHORTS` when built)."""

    name: str = bounded("", help="the SurvSet gene-expression cohort (omicsformer datasets)")

    def __post_init__(self) -> None:
        check_cohort(self.name)


def check_cohort(name: str) -> Cohort:
    """The cohort called ``name``; anything else is one line listing the valid names."""
    if name in COHORTS:
        return COHORTS[name]
    valid = ", ".join(COHORTS)
    if not name:
        raise ConfigError(f"survset needs a cohort: --data survset:NAME; choose from: {valid}")
    if "=" in name or "," in name:
        raise ConfigError(
            f"survset takes one parameter, the cohort (survset:NAME or survset:name=NAME), "
            f"got {name!r}; choose from: {valid}"
        )
    close = difflib.get_close_matches(name, list(COHORTS), n=1, cutoff=0.8)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    if name in _survset_names():
        raise ConfigError(
            f"survset data set {name!r} has no gene expression; the expression cohorts are: {valid}"
        )
    raise ConfigError(f"unknown survset cohort {name!r}{hint}; choose from: {valid}")


def _survset_names() -> frozenset[str]:
    """Every SurvSet data set name, when the package is installed (else none)."""
    try:
        return frozenset(_loader().df_ds["ds"])
    except MissingDependencyError:
        return frozenset()


@lru_cache(maxsize=1)
def _loader():  # -> SurvSet.data.SurvLoader
    data = optional_import(
        "SurvSet.data", "survset", extra="survset", feature="--data survset:NAME"
    )
    return data.SurvLoader()


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("survset")
    except PackageNotFoundError:
        return "unknown"


def _gene_name(column: str, name: str, cohort: Cohort) -> str:
    gene = column.removeprefix("num_").removeprefix(cohort.prefix)
    if cohort.anonymous:
        return f"{name}_{gene}"
    return gene.replace("_", "-") if cohort.symbols else gene


def _patient_ids(pid: pd.Series, name: str) -> pd.Index:
    """SurvSet's patient IDs as text; row numbers (SurvSet's own, where the source had no IDs)
    get the cohort's name in front, so that two cohorts never share an ID."""
    if pd.api.types.is_integer_dtype(pid):
        return pd.Index([f"{name}-{p}" for p in pid])
    return pd.Index(pid.astype(str).to_numpy())


def _clinical(frame: pd.DataFrame, cohort: Cohort) -> pd.DataFrame:
    obs = pd.DataFrame(index=frame.index)
    for column, name in cohort.clinical.items():
        values = frame[column]
        if column.startswith("num_"):
            obs[name] = pd.to_numeric(values, errors="coerce").astype(float)
            continue
        text = values.astype(str)
        text = text.where(~text.isin(MISSING_CODES))
        codes = cohort.codes.get(name, {})
        text = text.map(lambda v, codes=codes: codes.get(v, v) if isinstance(v, str) else v)
        obs[name] = text.where(text.notna())  # a code mapped to None: missing, as NaN
    if cohort.arms:
        labels = [label for label, rows in cohort.arms for _ in range(rows)]
        obs["treatment"] = labels
    return obs


def load(options: SurvSetOptions) -> ad.AnnData:
    """The cohort ``options.name`` as AnnData: genes in ``X``, time, event and the clinical
    covariates in ``obs`` (see the module docstring)."""
    name = options.name
    cohort = check_cohort(name)
    with warnings.catch_warnings():  # pickled under numpy 1: numpy 2 warns of numpy.core
        warnings.simplefilter("ignore", DeprecationWarning)
        frame = _loader().load_dataset(name)["df"]
    version = _version()
    expected = {"pid", "time", "event", *cohort.clinical, *cohort.drop}
    absent = sorted(expected - set(frame.columns))
    if absent:
        raise DataError(
            f"survset {version}: {name} lacks the column(s) {', '.join(absent)}; omicsformer "
            f"reads it as SurvSet {VALIDATED_WITH} shipped it"
        )
    skip = set(cohort.clinical) | set(cohort.drop)
    genes = [c for c in frame.columns if c.startswith("num_") and c not in skip]
    shape = (len(frame), len(genes))
    if shape != cohort.shape:
        note(
            f"survset {version}: {name} has {shape[0]} patients x {shape[1]} genes; omicsformer "
            f"was validated with {cohort.shape[0]} x {cohort.shape[1]} (SurvSet {VALIDATED_WITH})"
        )
        if cohort.arms and shape[0] != sum(rows for _, rows in cohort.arms):
            cohort = dataclasses.replace(cohort, arms=())  # the row blocks are no longer known
    frame = frame.reset_index(drop=True)
    obs = _clinical(frame, cohort)
    obs.insert(0, "time", frame["time"].astype(float).to_numpy())
    obs.insert(1, "event", frame["event"].astype(int).to_numpy())
    obs.index = _patient_ids(frame["pid"], name)
    var = pd.DataFrame(index=pd.Index([_gene_name(c, name, cohort) for c in genes]))
    values = frame[genes].to_numpy(dtype=np.float32)  # (patients, genes)
    adata = ad.AnnData(X=values, obs=obs, var=var)
    adata.uns[SCALE_KEY] = cohort.scale
    adata.uns["source"] = f"SurvSet {name}"
    adata.uns["time_unit"] = cohort.time_unit
    return adata


def _listing() -> dict[str, str]:
    """One line per cohort for ``omicsformer datasets``."""
    lines = {}
    for name, c in COHORTS.items():
        extra = f"; obs {', '.join(c.columns)}" if c.columns else ""
        lines[name] = (
            f"{c.shape[0]} x {c.shape[1]}, {c.description} ({c.time_unit}); {c.scale}"
            f"{extra}; {c.source}"
        )
    return lines


def _span(values: list[int]) -> str:
    return f"{min(values)}-{max(values)}"


SPEC = DatasetSpec(
    name=NAME,
    description="SurvSet's gene-expression survival cohorts: --data survset:NAME",
    source=f"SurvSet {VALIDATED_WITH} (Drysdale 2022, arXiv:2203.03094); per cohort below",
    licence="GPL-3.0 (SurvSet); each cohort as its R package or study publishes it",
    targets={"time, event": "survival as each cohort defines it (unit and event below)"},
    default_targets={"survival": ("time", "event")},
    load=load,
    shape=(
        _span([c.shape[0] for c in COHORTS.values()]),
        _span([c.shape[1] for c in COHORTS.values()]),
    ),
    options=SurvSetOptions,
    positional="name",
    choices=_listing(),
)
