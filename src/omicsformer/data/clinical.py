"""Clinical tables of TCGA-style cohorts: joined by patient or sample barcode, with overall
survival derived as ``os_time`` (days) and ``os_event`` (1 = death, 0 = censored).

Styles recognised from the header (``--labels FILE``), by ID column and survival columns:

- **GDC clinical** (the portal cart's ``clinical.tsv``, ``omicsformer fetch tcga``): ID
  ``case_submitter_id`` (``cases.submitter_id`` in the 2024 portal's), survival from
  ``vital_status``, ``days_to_death`` and the follow-up times ``days_to_follow_up`` (the current
  ``follow_ups.days_to_follow_up``, one row per visit) and ``days_to_last_follow_up`` (older
  exports), also with ``demographic.`` / ``diagnoses.`` / ``follow_ups.`` prefixes.
- **TCGA-CDR** (Liu et al. 2018, saved as CSV/TSV): ID ``bcr_patient_barcode``, ``OS`` (0/1)
  and ``OS.time`` (days).
- **cBioPortal** ``data_clinical_patient.txt`` (its ``#`` header lines skipped): ID
  ``PATIENT_ID``, ``OS_STATUS`` (``1:DECEASED`` / ``0:LIVING``), ``OS_MONTHS`` (x 30.4375 days).
- **UCSC Xena** survival (``*.survival.tsv``: ``sample``, ``OS``, ``OS.time``, ``_PATIENT``),
  the TCGA hub's ``clinicalMatrix`` (``sampleID``, ``_OS`` in days, ``_OS_IND`` 0/1) and
  phenotype tables (``sample`` with the GDC columns, e.g. ``vital_status.demographic``).

Missing values: empty, ``'--`` (GDC), ``NA``, ``#N/A``, ``[Not Available]`` and other bracketed
TCGA codes, ``Not Reported``, ``Unknown``.

Rules, stated in what is printed:

- *Several rows per ID* (the GDC's one row per case x treatment or follow-up): rows equal in
  every column are merged and counted; the rest are merged into one, the first non-missing value
  of each column; for GDC survival, ``dead`` if any row says so, the largest ``days_to_death``
  and the largest follow-up time over all rows and follow-up columns; for ``OS`` / ``OS.time``
  styles, time and event of the first row that has both (never one row's event with another's
  time). Rows of one ID that disagree on a column the run uses are an error naming the IDs
  (overall survival: a dead and an alive row, two death times, two different OS / OS.time
  pairs; later follow-up visits are not a disagreement).
- *Overall survival*: dead -> event 1 at ``days_to_death``; alive -> event 0 at the largest
  follow-up time. A patient whose vital status is unknown, who is dead without
  ``days_to_death``, alive without follow-up, or has a negative time, gets none (counted, by
  reason).
- *Join*: a patient-level table (patient barcodes) gives each expression sample its patient's
  row (``TCGA-06-2559-01A`` -> ``TCGA-06-2559``, or the GDC sheet's ``Case ID``); a sample-level
  table matches sample IDs, with or without the vial letter. Table rows that become one sample
  once the vial letter is dropped (``-01A``, ``-01B``) are counted and the first kept; if they
  differ on a column the run uses (``wanted``), that is an error. How many samples and patients
  were joined, and how many on either side were not, is printed. TCGA samples get ``patient``
  and ``tss`` (tissue source site) columns, for grouped splits. When the target is ``os_time`` /
  ``os_event``, samples without overall survival are dropped (counted by reason).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from omicsformer.console import note
from omicsformer.data import tcga
from omicsformer.data.inputs import check_file, file_kind
from omicsformer.errors import DataError
from omicsformer.fileio import first_line, read_header, refuse_nul_bytes

OS_TIME, OS_EVENT = "os_time", "os_event"
# GDC follow-up times: the older per-case column and the newer one per follow-up visit
# (``follow_ups.days_to_follow_up``, one row per visit); a patient's largest is the censoring time
FOLLOW_UPS = ("days_to_last_follow_up", "days_to_follow_up")
DAYS_PER_MONTH = 30.4375  # 365.25 / 12, cBioPortal's month

SAMPLE_IDS = ("sample", "xena_sample", "submitter_id.samples", "SAMPLE_ID", "sampleID")
PATIENT_IDS = (
    "bcr_patient_barcode",
    "case_submitter_id",
    "cases.submitter_id",
    "PATIENT_ID",
    "_PATIENT",
    "submitter_id",
)
MISSING = {
    "",
    "'--",
    "--",
    "na",
    "n/a",
    "#n/a",
    "nan",
    "none",
    "null",
    "not reported",
    "unknown",
}
BRACKETED = re.compile(r"^\[.*\]$")  # TCGA's [Not Available], [Unknown], [Discrepancy], ...


def _base(column: str) -> str:
    """``demographic.vital_status`` / ``vital_status.demographic`` -> ``vital_status``."""
    name = column.strip()
    for part in ("demographic", "diagnoses", "cases", "follow_ups"):
        if name.startswith(part + "."):
            name = name[len(part) + 1 :]
        if name.endswith("." + part):
            name = name[: -len(part) - 1]
    return name


@dataclass
class ClinicalStyle:
    """How a clinical table is read: its name, ID column and level, and survival columns."""

    name: str
    id_column: str
    level: str  # "patient" or "sample"
    survival: str | None  # "gdc", "os" (0/1 + days), "months" (cBioPortal), or None
    columns: dict[str, str] = field(default_factory=dict)  # role -> column
    skiprows: int = 0
    sep: str = "\t"


def _read_header(path: Path) -> tuple[list[str], int, str]:
    """The header cells, the number of ``#`` lines before it, and the separator."""
    check_file(path)
    kind = file_kind(path)
    if kind not in ("csv", "tsv"):
        return [], 0, ""
    sep = "," if kind == "csv" else "\t"
    cells, skip = read_header(path, sep, comment="#")
    return [c.strip().strip('"') for c in cells], skip, sep


def detect_style(path: str | Path, *, sample_id: str | None = None) -> ClinicalStyle | None:
    """The clinical style of a labels table from its header, or None for a plain one.

    A table is clinical when it has overall-survival columns of a known style, or a patient
    barcode column of a known name. ``sample_id`` names its ID column instead of the known ones.
    """
    path = Path(path)
    cells, skip, sep = _read_header(path)
    if not cells:
        return None
    bases = {_base(c): c for c in reversed(cells)}  # the first column of a base name wins
    survival, roles = None, {}
    if "OS" in cells and "OS.time" in cells:
        survival, roles = "os", {"event": "OS", "time": "OS.time"}
    elif "_OS_IND" in cells and "_OS" in cells:  # the Xena TCGA hub's clinicalMatrix
        survival, roles = "os", {"event": "_OS_IND", "time": "_OS"}
    elif "OS_STATUS" in cells and "OS_MONTHS" in cells:
        survival, roles = "months", {"event": "OS_STATUS", "time": "OS_MONTHS"}
    elif "vital_status" in bases and any(c in bases for c in ("days_to_death", *FOLLOW_UPS)):
        survival = "gdc"
        roles = {
            role: bases[role]
            for role in ("vital_status", "days_to_death", *FOLLOW_UPS)
            if role in bases
        }
    if sample_id is not None:
        if sample_id not in cells:
            if survival is None:
                return None  # a plain table: the usual reader names the missing column
            raise DataError(f"{path}: no sample-ID column {sample_id!r}; columns: {_few(cells)}")
        id_column = sample_id
    else:
        id_column = next((c for c in SAMPLE_IDS if c in cells), None)
        patient = next((c for c in PATIENT_IDS if c in cells), None)
        if survival is None and (patient is None or patient == "submitter_id"):
            return None
        # no ID column of a known name: the first column, as for any labels table
        id_column = id_column or patient or cells[0]
    level = "patient" if id_column in PATIENT_IDS else "sample"
    xena = "UCSC Xena clinicalMatrix" if roles.get("time") == "_OS" else "UCSC Xena survival"
    name = {
        "gdc": "GDC clinical" if level == "patient" else "UCSC Xena phenotype",
        "os": "TCGA-CDR" if id_column == "bcr_patient_barcode" else xena,
        "months": "cBioPortal clinical",
        None: "clinical",
    }[survival]
    if survival == "os" and id_column not in ("bcr_patient_barcode", *SAMPLE_IDS):
        name = f"clinical ({roles['event']}, {roles['time']})"
    return ClinicalStyle(name, id_column, level, survival, roles, skip, sep)


def _few(cells: list[str], limit: int = 12) -> str:
    return ", ".join(cells[:limit]) + (f", ... ({len(cells)} in all)" if len(cells) > limit else "")


@dataclass
class ClinicalTable:
    """A clinical table with one row per ID (``table``, with ``os_time`` / ``os_event`` when
    the style has survival), and what reading it found."""

    path: Path
    style: ClinicalStyle
    table: pd.DataFrame
    n_rows: int
    no_survival: dict[str, int]  # reason -> IDs without overall survival
    # rows that repeat an earlier row in every column (dropped, counted)
    identical: int = 0
    # column (os_time / os_event for overall survival) -> ID -> the values its rows disagree on
    conflicts: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def level(self) -> str:
        # a table of patient barcodes is patient-level whatever its column is called
        ids = self.table.index
        if self.style.level == "sample" and len(ids) and all(map(tcga.is_patient_barcode, ids)):
            return "patient"
        return self.style.level


def _missing(frame: pd.DataFrame) -> pd.DataFrame:
    """Every missing-value spelling -> NA."""

    def clean(column: pd.Series) -> pd.Series:
        text = column.astype("string").str.strip()
        lowered = text.str.lower()
        gone = text.isna() | lowered.isin(MISSING) | text.str.match(BRACKETED.pattern).fillna(False)
        return text.mask(gone)

    return frame.apply(clean)


def _numbers(column: pd.Series) -> pd.Series:
    """Numbers as float64 with NaN (not the nullable Float64 that text columns convert to)."""
    numbers = pd.to_numeric(column, errors="coerce")
    return pd.Series(numbers.to_numpy(dtype=float, na_value=np.nan), index=column.index)


def read_clinical(path: str | Path, style: ClinicalStyle) -> ClinicalTable:
    """Read a clinical table of ``style``: one row per ID, ``os_time`` / ``os_event`` added.

    Returns
    -------
    :class:`ClinicalTable`; its ``table`` is indexed by patient or sample ID, numeric columns
    are numbers, and ``os_time`` (days, float) / ``os_event`` (1.0 / 0.0) are NaN where overall
    survival cannot be derived (``no_survival`` says why, per reason).
    """
    path = Path(path)
    refuse_nul_bytes(path)
    try:
        raw = pd.read_csv(
            path,
            sep=style.sep,
            skiprows=style.skiprows,
            dtype=str,
            keep_default_na=False,
            low_memory=False,
        )
    except pd.errors.EmptyDataError:
        raise DataError(f"{path}: file has no data") from None
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError, ValueError) as exc:
        raise DataError(f"{path}: cannot be read as a clinical table: {first_line(exc)}") from None
    raw.columns = [str(c).strip() for c in raw.columns]
    absent = [c for c in (style.id_column, *style.columns.values()) if c not in raw.columns]
    if absent:  # the header pandas read is not the one the style was told from: damaged
        raise DataError(
            f"{path}: cannot be read as a {style.name} table: no column "
            f"{', '.join(map(repr, absent))} in the header pandas reads (a damaged header?)"
        )
    raw = _missing(raw)
    raw = raw[raw[style.id_column].notna()]
    if raw.empty:
        raise DataError(f"{path}: clinical table has no rows with a {style.id_column!r}")
    n_rows = len(raw)
    repeated = raw.duplicated()  # a row equal to an earlier one in every column: merged
    raw = raw[~repeated]
    ids = raw[style.id_column].astype(str)
    conflicts = _conflicts(raw.drop(columns=[style.id_column]), ids)

    survival = _survival(raw, ids, style)
    table = raw.drop(columns=[style.id_column]).groupby(ids.to_numpy(), sort=False).first()
    table.index = table.index.astype(str)
    table.index.name = None
    for column in table.columns:
        present = table[column].notna()
        numbers = _numbers(table[column])
        if present.any() and numbers.notna().sum() == present.sum():
            table[column] = numbers
        else:  # plain text with NaN for missing, as the labels reader gives
            table[column] = table[column].astype(object).where(present, np.nan)
    no_survival: dict[str, int] = {}
    if survival is not None:
        time, event, reason, disagree = survival
        table[OS_TIME] = time.reindex(table.index).astype(float)
        table[OS_EVENT] = event.reindex(table.index).astype(float)
        counts = reason.reindex(table.index).dropna().value_counts()
        no_survival = {str(k): int(v) for k, v in counts.items()}
        if disagree:
            conflicts[OS_TIME] = conflicts[OS_EVENT] = disagree
    return ClinicalTable(path, style, table, n_rows, no_survival, int(repeated.sum()), conflicts)


def _conflicts(raw: pd.DataFrame, ids: pd.Series) -> dict[str, dict[str, str]]:
    """Per column, the IDs whose rows hold two different (non-missing) values, with them."""
    shared = ids.duplicated(keep=False).to_numpy()
    if not shared.any():
        return {}
    rows, keys = raw[shared], ids[shared].to_numpy()
    varies = rows.groupby(keys, sort=False).nunique(dropna=True) > 1
    found: dict[str, dict[str, str]] = {}
    for column in varies.columns[varies.any().to_numpy()]:
        found[column] = {
            str(key): _values(rows.loc[keys == key, column])
            for key in varies.index[varies[column].to_numpy()]
        }
    return found


def _values(column: pd.Series) -> str:
    """The distinct values of one ID's rows, for a message: ``'100' vs '9999'``."""
    return " vs ".join(repr(v) for v in pd.unique(column.dropna())[:3])


def _survival(
    raw: pd.DataFrame, ids: pd.Series, style: ClinicalStyle
) -> tuple[pd.Series, pd.Series, pd.Series, dict[str, str]] | None:
    """Per ID: time (days), event (0/1) and, where neither can be had, the reason; and the IDs
    whose rows disagree on overall survival, with what each row says. Rows that only add a
    later follow-up (GDC: one row per visit) do not disagree; a dead and an alive row, two
    death times, or (``OS`` styles) two different (event, time) pairs do."""
    roles = style.columns
    if style.survival is None:
        return None
    groups = ids.to_numpy()
    if style.survival == "gdc":
        vital = raw[roles["vital_status"]].str.lower()
        follow_ups = [role for role in FOLLOW_UPS if role in roles]
        follow = (  # the largest of a row's follow-up columns, then of the patient's rows
            pd.concat([_numbers(raw[roles[role]]) for role in follow_ups], axis=1).max(axis=1)
            if follow_ups
            else np.nan
        )
        per_id = pd.DataFrame(
            {
                "dead": vital.eq("dead").fillna(False),
                "alive": vital.eq("alive").fillna(False),
                "death": _numbers(raw[roles["days_to_death"]])
                if "days_to_death" in roles
                else np.nan,
                "follow": follow,
            },
            index=raw.index,
        ).groupby(groups, sort=False)
        merged = per_id.agg({"dead": "any", "alive": "any", "death": "max", "follow": "max"})
        deaths = per_id["death"].nunique()
        clash = (merged["dead"].astype(bool) & merged["alive"].astype(bool)) | (deaths > 1)
        disagree = {
            str(key): _gdc_rows(raw.loc[groups == key], roles)
            for key in merged.index[clash.to_numpy()]
        }
        dead = merged["dead"].astype(bool)
        alive = merged["alive"].astype(bool) & ~dead
        time = merged["death"].where(dead, merged["follow"].where(alive))
        event = pd.Series(np.where(dead, 1.0, np.where(alive, 0.0, np.nan)), index=merged.index)
        reason = pd.Series(pd.NA, index=merged.index, dtype="string")
        reason[~dead & ~alive] = "vital status unknown"
        reason[dead & merged["death"].isna()] = "dead without days_to_death"
        without = " or ".join(follow_ups) if follow_ups else "a follow-up time"
        reason[alive & merged["follow"].isna()] = f"alive without {without}"
    else:
        status = raw[roles["event"]].str.upper().str.strip()
        if style.survival == "months":
            event_raw = status.map(_cbioportal_status)
            time_raw = _numbers(raw[roles["time"]]) * DAYS_PER_MONTH
        else:
            event_raw = _numbers(status).where(lambda v: v.isin([0, 1]))
            time_raw = _numbers(raw[roles["time"]])
        # one row per ID, time and event from the same row: the first row that has both
        # (a per-column first non-missing could pair one row's event with another's time)
        rows = pd.DataFrame({"id": groups, "event": event_raw, "time": time_raw})
        complete = (rows["event"].notna() & rows["time"].notna()).to_numpy()
        pairs = rows[complete].drop_duplicates()
        clash = pairs["id"][pairs["id"].duplicated()].unique()
        disagree = {
            str(key): " vs ".join(
                f"{roles['event']} {raw[roles['event']][i]} at {raw[roles['time']][i]}"
                for i in pairs.index[pairs["id"] == key][:3]
            )
            for key in clash
        }
        merged = (
            rows.iloc[np.argsort(~complete, kind="stable")]
            .drop_duplicates("id")
            .set_index("id")
            .reindex(pd.unique(groups))
        )
        event, time = merged["event"].astype(float), merged["time"].astype(float)
        reason = pd.Series(pd.NA, index=merged.index, dtype="string")
        reason[time.isna()] = f"{roles['time']} missing"
        reason[event.isna()] = f"{roles['event']} missing"
    negative = time < 0
    reason[negative & reason.isna()] = "negative time"
    usable = reason.isna()
    time, event = time.where(usable), event.where(usable)
    for series in (time, event, reason):
        series.index = series.index.astype(str)
    return time, event, reason, disagree


def _gdc_rows(rows: pd.DataFrame, roles: dict[str, str]) -> str:
    """What a patient's GDC rows say about survival: ``Dead at 100 vs Alive at 9999``."""
    said = []
    for _, row in rows.iterrows():
        vital = row[roles["vital_status"]]
        days = row.get(roles.get("days_to_death", ""), np.nan)
        if pd.isna(days) or str(vital).lower() != "dead":
            follow = [row[roles[r]] for r in FOLLOW_UPS if r in roles and pd.notna(row[roles[r]])]
            days = follow[0] if follow else "?"
        said.append(f"{vital} at {days}")
    return " vs ".join(dict.fromkeys(said))


def _cbioportal_status(text: object) -> float:
    """``1:DECEASED`` / ``DECEASED`` -> 1; ``0:LIVING`` / ``LIVING`` / ``ALIVE`` -> 0."""
    if not isinstance(text, str):
        return np.nan
    word = text.split(":", 1)[-1].strip()
    if text.startswith("1:") or word in ("DECEASED", "DEAD"):
        return 1.0
    if text.startswith("0:") or word in ("LIVING", "ALIVE"):
        return 0.0
    return np.nan


# ------------------------------------------------------------------------------------- join
def _keys(adata: ad.AnnData, clinical: ClinicalTable) -> tuple[pd.Series, pd.Index, str]:
    """Each expression sample's key into the table, the table's keys, and how they match."""
    samples = pd.Series(adata.obs_names.astype(str), index=adata.obs_names)
    table_ids = clinical.table.index
    if clinical.level == "patient":
        if "patient" in adata.obs.columns and adata.obs["patient"].notna().all():
            keys = adata.obs["patient"].astype(str)
            return keys, table_ids, "the sample sheet's Case ID"
        return samples.map(tcga.patient_of), table_ids.map(tcga.patient_of), "patient barcode"
    exact = samples.isin(table_ids).sum()
    short = samples.map(tcga.sample_of)
    short_ids = table_ids.map(tcga.sample_of)
    if short.isin(short_ids).sum() > exact:
        return short, short_ids, "sample barcode (without the vial letter)"
    return samples, table_ids, "sample ID"


def join_clinical(
    adata: ad.AnnData, clinical: ClinicalTable, *, wanted: list[str] | None = None
) -> ad.AnnData:
    """Left-join ``clinical`` onto ``adata.obs`` by patient or sample, and say what happened.

    Parameters
    ----------
    adata
        Expression, samples as ``obs_names`` (barcodes, or any IDs with ``obs["patient"]``).
    clinical
        From :func:`read_clinical`.
    wanted
        The columns the run uses (target, batch, group); when ``os_time`` or ``os_event`` is
        among them, samples without overall survival are dropped (counted). Vial duplicates
        of the table that differ on one of them are a :class:`DataError`.

    Returns
    -------
    A copy of ``adata`` with the table's columns in ``obs``, and ``patient`` / ``tss`` when the
    samples are TCGA barcodes (:func:`omicsformer.data.tcga.add_barcode_columns`).
    """
    path, style = clinical.path, clinical.style
    level = clinical.level
    ids_word = "patients" if level == "patient" else "samples"
    table = clinical.table
    said = []
    if clinical.identical:
        n = clinical.identical
        said.append(
            f"{n} repeat{'s' * (n == 1)} an earlier row exactly and "
            f"{'is' if n == 1 else 'are'} merged"
        )
    if clinical.n_rows - clinical.identical > len(table):
        how_merged = {
            "gdc": ", dead if any row says so, the longest times",
            None: "",
        }.get(style.survival, ", survival time and event from the first row that has both")
        said.append(
            f"the rows of one {level} merged: first non-missing value per column{how_merged}"
        )
    merged = f" ({clinical.n_rows} rows; {'; '.join(said)})" if said else ""
    note(f"{path.name}: {style.name} table, {len(table)} {ids_word}{merged}")
    if style.survival is not None:
        usable = int(table[OS_TIME].notna().sum())
        why = ", ".join(f"{n} {reason}" for reason, n in clinical.no_survival.items())
        lacking = sum(clinical.no_survival.values())
        note(
            f"overall survival (os_time in days, os_event 1 = death) for {usable} of "
            f"{len(table)} {ids_word}" + (f"; none for {lacking}: {why}" if why else "")
        )

    keys, table_keys, how = _keys(adata, clinical)
    _refuse_conflicts(clinical, set(table.index[table_keys.isin(keys)]), wanted or [], level)
    table = table.copy()
    table.index = table_keys
    checked = [c for c in dict.fromkeys(wanted or []) if c in table.columns]
    table = _one_row_per_key(table, clinical.table.index, how, checked, path)
    matched = keys.isin(table.index).to_numpy()
    n_matched, n_total = int(matched.sum()), adata.n_obs
    if n_matched == 0:
        raise DataError(
            f"{path}: none of the {n_total} expression samples match the {len(table)} "
            f"{ids_word} of the clinical table by {how} (samples e.g. "
            f"{', '.join(map(str, adata.obs_names[:3]))}; table e.g. "
            f"{', '.join(map(str, clinical.table.index[:3]))})"
        )
    joined_keys = set(keys[matched])
    unmatched = adata.obs_names[~matched]
    patients = f" ({len(joined_keys)} {ids_word})" if level == "patient" else ""
    text = f"joined {n_matched} of {n_total} samples{patients} to the table by {how}"
    if len(unmatched):
        text += f"; {len(unmatched)} samples have no row (e.g. {', '.join(unmatched[:3])})"
    spare = len(set(table.index) - joined_keys)
    if spare:
        text += f"; {spare} {ids_word} of the table have no expression sample"
    note(text)
    if level == "patient":
        per_patient = keys[matched].value_counts()
        several = per_patient[per_patient > 1]
        if len(several):
            note(
                f"{len(several)} patients have several samples (e.g. {several.index[0]}: "
                f"{', '.join(keys[keys == several.index[0]].index[:3])}); they share one "
                "clinical row; --sample-types 01 keeps primary tumours only"
            )

    rows = table.reindex(keys.to_numpy())
    rows.index = adata.obs_names
    clashes = [c for c in rows.columns if c in adata.obs.columns]
    out = adata.copy()
    out.obs = adata.obs.drop(columns=clashes).join(rows, how="left")
    tcga.add_barcode_columns(out)  # patient and tss, for grouped splits
    if wanted and {OS_TIME, OS_EVENT} & set(wanted):
        if style.survival is None:
            raise DataError(
                f"{path}: this {style.name} table has no overall-survival columns to derive "
                f"{OS_TIME} / {OS_EVENT} from"
            )
        out = _drop_without_survival(out, matched)
    return out


def _refuse_conflicts(
    clinical: ClinicalTable, joined: set[str], wanted: list[str], level: str
) -> None:
    """Refuse rows of one patient (or sample) that disagree on a column the run uses (the
    target, overall survival, the batch or group), naming them; only the IDs joined to an
    expression sample count."""
    for column in dict.fromkeys(wanted):
        clashing = {k: v for k, v in clinical.conflicts.get(column, {}).items() if k in joined}
        if not clashing:
            continue
        what = "overall survival" if column in (OS_TIME, OS_EVENT) else repr(column)
        shown = "; ".join(f"{k}: {v}" for k, v in list(clashing.items())[:3])
        more = f" (and {len(clashing) - 3} more)" if len(clashing) > 3 else ""
        n = len(clashing)
        raise DataError(
            f"{clinical.path}: {n} {level}{'s' * (n > 1)} {'have' if n > 1 else 'has'} rows that "
            f"disagree on {what}: {shown}{more}; keep one row per {level}, or correct the table"
        )


def _one_row_per_key(
    table: pd.DataFrame, ids: pd.Index, how: str, checked: list[str], path: Path
) -> pd.DataFrame:
    """``table`` (indexed by join key; ``ids`` its own IDs) with one row per key: rows that
    share a key (01A and 01B of one sample once the vial letter is dropped) are counted and the
    first kept; an error if they differ on a ``checked`` column (one the run uses)."""
    shared = table.index.duplicated(keep=False)
    if not shared.any():
        return table
    ids = pd.Index(ids.astype(str))
    varies = table[shared].groupby(level=0, sort=False).nunique(dropna=False) > 1
    for column in checked:
        if varies[column].any():
            key = varies.index[varies[column].to_numpy()][0]
            at = table.index == key
            shown = " vs ".join(map(str, table.loc[at, column].iloc[:3]))
            raise DataError(
                f"{path}: rows {', '.join(ids[at][:3])} are one sample by {how} but differ in "
                f"{column!r} ({shown}); keep one row per sample in the table"
            )
    first = table.index[shared][0]
    differ = [c for c in varies.columns if varies[c].any()]
    text = (
        f"{int(table.index.duplicated().sum())} rows of the table repeat a sample by {how} "
        f"(e.g. {', '.join(ids[table.index == first][:3])}); the first row of each is used"
    )
    if differ:
        text += f" (their values differ in {len(differ)} columns, e.g. {', '.join(differ[:3])})"
    note(text)
    return table[~table.index.duplicated()]


def _drop_without_survival(adata: ad.AnnData, matched: np.ndarray) -> ad.AnnData:
    usable = adata.obs[OS_TIME].notna().to_numpy() & adata.obs[OS_EVENT].notna().to_numpy()
    if not usable.any():
        raise DataError("no sample has overall survival (os_time, os_event) after the join")
    if not usable.all():
        no_row = int((~matched).sum())
        no_os = int((~usable & matched).sum())
        parts = [f"{no_row} without a clinical row"] if no_row else []
        parts += [f"{no_os} whose patient has no usable survival"] if no_os else []
        note(
            f"dropped {int((~usable).sum())} of {adata.n_obs} samples without overall survival "
            f"({', '.join(parts)})"
        )
        adata = adata[usable].copy()
    return adata
