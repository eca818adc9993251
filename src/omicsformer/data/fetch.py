"""``omicsformer fetch tcga``: download a TCGA project's expression files and clinical table from
the GDC API into a folder that ``--data`` reads.

The GDC API (https://docs.gdc.cancer.gov/API/Users_Guide/Getting_Started/):

- ``POST /files`` with ``filters`` (project, data type, workflow, open access), ``fields``,
  ``size`` and ``from``: the file list with each file's ``md5sum``, ``file_size`` and samples,
  page by page (``{"data": {"hits": [...], "pagination": {...}}, "warnings": {}}``); an unknown
  project is an empty list, not an error, so then ``POST /projects`` tells which it was;
- ``GET /data/<file_id>``: one file's bytes (``Range`` requests continue a partial download);
- ``POST /cases``: the project's cases with their vital status and follow-up (the case's
  ``diagnoses`` and ``follow_ups`` come as lists of objects, ``demographic`` as one).

The folder it makes looks like a gdc-client download, plus what the portal's cart would give::

    DIR/<file_id>/<file_name>      one file each, moved into place only once its MD5 matched
    DIR/gdc_sample_sheet.tsv       File ID, File Name, ..., Case ID, Sample ID, Sample Type
    DIR/gdc_manifest.txt           id, filename, md5, size, state (the gdc-client's manifest)
    DIR/clinical.tsv               one row per case, GDC clinical columns, '-- for missing
                                   (follow-up time both as days_to_last_follow_up, the largest
                                   over the diagnoses, and days_to_follow_up, the largest over
                                   the follow-up records where later TCGA releases keep it)
    DIR/fetch.json                 what was asked, and whether it finished

The file list is asked for (and each hit checked for ``file_id``, ``file_name``,
``file_size``, ``md5sum``) before the folder is made, so a wrong project or an unreachable API
leaves nothing behind. Safe to interrupt and run again: a file is downloaded to a hidden
``.NAME.part`` beside its place (continued where it stopped), checked against the MD5 and size
the files endpoint gives, and only then renamed; a file already in place is checked and
skipped. Network errors are retried with back-off; a local one (a full disk) is not, and names
the file. Every wait is bounded: a request (a page of a list, or one file) gives up once the
server has sent nothing for ``timeout`` seconds in all, connecting, reading, retries and
back-off included (:class:`Patience`), or after ``retries`` further attempts; the one line
then says what the server did (no answer, refused, reset, cut short, answered 5xx). A
checksum mismatch deletes the partial file and stops with one line; any failure once the
folder exists says it is an unfinished fetch that the same command continues. The sample sheet
and clinical table are written last, so a folder that is still being fetched is not read as a
finished download. One ``fetch`` at a time per folder (a lock); a non-empty folder not made by
``fetch`` is refused, and so is a folder of an earlier fetch of another project, data type or
workflow (``fetch.json`` records the request; sample types may widen).
"""

from __future__ import annotations

import difflib
import hashlib
import http.client
import json
import os
import re
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omicsformer.console import err, note
from omicsformer.errors import ConfigError, FetchError
from omicsformer.fileio import write_json, write_text

API = "https://api.gdc.cancer.gov"
# Seconds a request may wait for the server in all (connect, answer, next bytes of a download,
# retries and back-off), so that a hanging or refusing server is one line within half a minute.
TIMEOUT = 20.0
# What a request or a download from the network fails with, retried with back-off: no answer
# (URLError, which wraps DNS and refused connections), a broken answer (http.client), a
# connection reset or closed early, a timeout, a TLS failure mid-stream. Not OSError as a
# whole: a full disk or a refused write of the .part file is local and final.
NETWORK_ERRORS = (
    urllib.error.URLError,
    http.client.HTTPException,
    ConnectionError,
    TimeoutError,  # socket.timeout is TimeoutError since Python 3.10
    ssl.SSLError,
)
DATA_TYPE = "Gene Expression Quantification"
WORKFLOW = "STAR - Counts"  # the augmented STAR gene counts (GENCODE v36) since GDC release 32
MARKER = "fetch.json"
LOCK = ".fetch.lock"
CHUNK = 1 << 20
FILE_FIELDS = (
    "file_id",
    "file_name",
    "md5sum",
    "file_size",
    "data_category",
    "data_type",
    "cases.submitter_id",
    "cases.project.project_id",
    "cases.samples.submitter_id",
    "cases.samples.sample_type",
    "cases.samples.tumor_descriptor",
    "cases.samples.specimen_type",
)
CASE_FIELDS = (
    "case_id",
    "submitter_id",
    "project.project_id",
    "demographic.vital_status",
    "demographic.days_to_death",
    "demographic.gender",
    "diagnoses.days_to_last_follow_up",  # older releases kept follow-up time here
    "follow_ups.days_to_follow_up",  # TCGA moved it to follow-up records, one per contact
    "diagnoses.age_at_diagnosis",
    "diagnoses.primary_diagnosis",
    "diagnoses.ajcc_pathologic_stage",
    "diagnoses.tumor_grade",
)
CLINICAL_COLUMNS = (
    "case_id",
    "case_submitter_id",
    "project_id",
    "vital_status",
    "days_to_death",
    "days_to_last_follow_up",
    "days_to_follow_up",
    "gender",
    "age_at_diagnosis",
    "primary_diagnosis",
    "ajcc_pathologic_stage",
    "tumor_grade",
)
# The full header of the sample sheet fetch writes: the portal's sample-sheet columns plus
# Tumor Descriptor and Specimen Type. Not gdc.SHEET_COLUMNS, which is the least a sheet must
# hold to be found and read (File ID, File Name, Sample ID); this header holds all of those.
SAMPLE_SHEET_HEADER = (
    "File ID",
    "File Name",
    "Data Category",
    "Data Type",
    "Project ID",
    "Case ID",
    "Sample ID",
    "Sample Type",
    "Tumor Descriptor",
    "Specimen Type",
)
# The one spelling fetch writes for a missing value, the GDC's in its TSV files. Not
# clinical.MISSING, the set of spellings a reader takes for missing (this one among them).
MISSING_TEXT = "'--"


# ------------------------------------------------------------------------------------- client
def check_api(api: str) -> str:
    """``api`` without a trailing slash, once it is an http(s) URL with a host.

    Raises
    ------
    ConfigError
        Another scheme (``ftp:``), no host, or a malformed port: refused at once, not retried.
    """
    try:
        parsed = urllib.parse.urlparse(api)
        ok = parsed.scheme.lower() in ("http", "https") and bool(parsed.hostname)
        parsed.port  # noqa: B018  (a port that is not a number raises ValueError)
    except ValueError:
        ok = False
    if not ok:
        raise ConfigError(f"--api {api}: not an http(s) URL of the GDC API (its own: {API})")
    return api.rstrip("/")


class CutShort(ConnectionError):
    """The server closed the connection before sending the bytes it announced."""

    def __init__(self, got: int, size: int) -> None:
        super().__init__(f"{got} of {size} bytes received")
        self.got, self.size = got, size


class Stalled(TimeoutError):
    """A download stopped: the server sent some bytes, then nothing within the wait left."""

    def __init__(self, got: int, size: int) -> None:
        super().__init__(f"{got} of {size} bytes received, then nothing")
        self.got, self.size = got, size


@dataclass
class Patience:
    """What one request may still wait for the server: ``seconds`` in all, spent while nothing
    arrives (connecting, waiting for an answer, a stalled download, back-off between attempts);
    the time bytes flow in is free, so a long download is not cut by it."""

    seconds: float
    waited: float = 0.0
    idle_since: float = field(default_factory=time.monotonic)

    @property
    def left(self) -> float:
        return self.seconds - self.waited

    def start(self) -> None:
        """An attempt begins: the wait for its answer starts now."""
        self.idle_since = time.monotonic()

    def progress(self) -> None:
        """Bytes arrived: the wait so far was not idle."""
        self.idle_since = time.monotonic()

    def failed(self) -> None:
        """An attempt failed: the time since its last bytes was spent waiting."""
        self.waited += time.monotonic() - self.idle_since


class GDCClient:
    """A small client of the GDC API over ``urllib`` (no extra dependency).

    Parameters
    ----------
    api
        The API root (``https://api.gdc.cancer.gov``; tests use a local server): an http(s)
        URL, checked here.
    timeout
        Seconds one request (a page of a list, or one file) may wait for the server in all:
        to connect, for an answer, for the next bytes of a download, and between attempts. A
        hanging server is given up on after ``timeout`` seconds; bytes flowing in do not count.
    retries
        Further attempts after a failed request (connection error, 429, 5xx, a response cut
        short), waiting ``backoff``, 2 x ``backoff``, ... seconds while ``timeout`` allows; a
        download continues where it stopped.
    page_size
        Hits per page of ``/files`` and ``/cases``.
    """

    def __init__(
        self,
        api: str = API,
        *,
        timeout: float = TIMEOUT,
        retries: int = 4,
        backoff: float = 1.0,
        page_size: int = 500,
    ) -> None:
        if not timeout > 0:
            raise ConfigError(f"--timeout {timeout}: must be more than 0 seconds")
        self.api = check_api(api)
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.page_size = page_size

    # ---------------------------------------------------------------------------- requests
    def _retrying(self, what: str, attempt: Callable[[Patience], Any]) -> Any:
        """``attempt(patience)`` until it succeeds, retrying network errors, 429 and 5xx
        answers while attempts and ``patience`` are left; each attempt waits at most what is
        left (``patience.left`` as its socket timeout)."""
        patience = Patience(self.timeout)
        began = time.monotonic()
        attempts = 0
        while True:
            attempts += 1
            patience.start()
            try:
                return attempt(patience)
            except urllib.error.HTTPError as exc:
                patience.failed()
                if exc.code != 429 and exc.code < 500:
                    raise FetchError(self._answered(what, exc)) from None
                error: BaseException = exc
            except NETWORK_ERRORS as exc:  # not every OSError: a full disk is not retried
                patience.failed()
                error = exc
            pause = self.backoff * 2 ** (attempts - 1)
            # another attempt only with time left to connect and hear back
            if attempts > self.retries or patience.left - pause < min(1.0, self.timeout / 2):
                seconds = time.monotonic() - began
                tries = f"{attempts} attempt{'s' * (attempts > 1)} in {seconds:.0f} s"
                raise FetchError(self._failure(what, error, tries)) from None
            time.sleep(pause)
            patience.waited += pause

    def _answered(self, what: str, exc: urllib.error.HTTPError) -> str:
        return f"{what}: the GDC API answered {exc.code} {exc.reason}{_error_detail(exc)}"

    def _failure(self, what: str, error: BaseException, tries: str) -> str:
        """What the server did, in words, on the last failed attempt of a request."""
        if isinstance(error, urllib.error.HTTPError):
            return f"{self._answered(what, error)} ({tries})"
        reason = error.reason if isinstance(error, urllib.error.URLError) else error
        if isinstance(reason, Stalled):
            return (
                f"{what}: {self.api} stopped sending: {reason.got} of {reason.size} bytes "
                f"received, then nothing within the {self.timeout:g} s timeout ({tries}); try "
                "again later, or wait longer with --timeout"
            )
        if isinstance(reason, TimeoutError):
            return (
                f"{what}: no answer from {self.api} within {self.timeout:g} s ({tries}); the "
                "GDC API may be down or slow: try again later, or wait longer with --timeout"
            )
        if isinstance(reason, CutShort):
            return (
                f"{what}: {self.api} cut the download short: {reason.got} of {reason.size} bytes "
                f"received ({tries})"
            )
        if isinstance(reason, http.client.IncompleteRead):
            got = len(reason.partial)
            size = got + (reason.expected or 0)
            return f"{what}: {self.api} cut its answer short: {got} of {size} bytes ({tries})"
        if isinstance(reason, http.client.RemoteDisconnected):
            return f"{what}: {self.api} closed the connection without an answer ({tries})"
        if isinstance(reason, ConnectionResetError):
            return f"{what}: {self.api} reset the connection ({tries})"
        if isinstance(reason, ConnectionRefusedError):
            return f"{what}: cannot reach {self.api}: connection refused ({tries})"
        return f"{what}: cannot reach {self.api} ({reason}; {tries})"

    def _post_json(self, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            f"{self.api}/{endpoint}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json"},
            method="POST",
        )

        def attempt(patience: Patience) -> dict[str, Any]:
            with urllib.request.urlopen(request, timeout=patience.left) as response:
                return json.loads(response.read().decode())

        try:
            return self._retrying(f"/{endpoint}", attempt)
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise FetchError(f"/{endpoint}: the GDC API sent a response that is not JSON") from None

    def search(
        self, endpoint: str, filters: dict[str, Any] | None, fields: tuple[str, ...]
    ) -> list:
        """Every hit of ``endpoint`` (``files``, ``cases``, ``projects``) matching ``filters``
        (None: all), all pages."""
        hits: list[dict[str, Any]] = []
        start = 0
        while True:
            body: dict[str, Any] = {
                "fields": ",".join(fields),
                "format": "JSON",
                "size": self.page_size,
                "from": start,
            }
            if filters is not None:
                body["filters"] = filters
            page = self._post_json(endpoint, body)
            try:
                data = page["data"]
                batch, total = data["hits"], int(data["pagination"]["total"])
                if not isinstance(batch, list):
                    raise TypeError(batch)
            except (KeyError, TypeError, ValueError):
                raise FetchError(f"/{endpoint}: unexpected response from the GDC API") from None
            hits.extend(batch)
            start += len(batch)
            if not batch or start >= total:
                return hits

    def download(
        self,
        file_id: str,
        dest: Path,
        *,
        md5: str,
        size: int,
        on_bytes: Callable[[int], None] = lambda n: None,
    ) -> None:
        """Download ``/data/<file_id>`` to ``dest`` through ``.<name>.part``: continued with a
        ``Range`` request if a partial file is there, checked against ``md5`` and ``size``, then
        renamed. A mismatch removes the partial file and raises :class:`FetchError`."""
        part = dest.parent / f".{dest.name}.part"
        with local_file(dest.parent):
            dest.parent.mkdir(parents=True, exist_ok=True)

        def attempt(patience: Patience) -> None:
            with local_file(part):
                offset = part.stat().st_size if part.exists() else 0
                if offset > size:
                    part.unlink()
                    offset = 0
            if offset == size:
                return
            headers = {"Range": f"bytes={offset}-"} if offset else {}
            request = urllib.request.Request(f"{self.api}/data/{file_id}", headers=headers)
            with urllib.request.urlopen(request, timeout=patience.left) as response:
                mode = "ab" if offset and response.status == 206 else "wb"
                if mode == "wb" and offset:
                    on_bytes(-offset)  # the server sent the whole file again
                # reads from the network and writes to the disk apart: both fail with OSErrors,
                # and only the network's are retried
                with local_file(part):
                    handle = part.open(mode)
                received = offset if mode == "ab" else 0
                try:
                    # read1: what one read of the socket gives, so a stall is seen at once
                    for block in iter(lambda: response.read1(CHUNK), b""):
                        patience.progress()
                        with local_file(part):
                            handle.write(block)
                        received += len(block)
                        on_bytes(len(block))
                except TimeoutError:
                    raise Stalled(received, size) from None
                finally:
                    with local_file(part):
                        handle.close()  # a full disk may show only when the buffer is flushed
            with local_file(part):
                got = part.stat().st_size
            if got < size:  # the connection closed early: continue
                raise CutShort(got, size)

        self._retrying(f"file {file_id} ({dest.name})", attempt)
        with local_file(part):
            got_size, got_md5 = part.stat().st_size, md5_of(part)
            if got_size != size or got_md5 != md5:
                part.unlink(missing_ok=True)
                raise FetchError(
                    f"file {file_id} ({dest.name}) is damaged: MD5 {got_md5}, {got_size} bytes; "
                    f"the GDC lists MD5 {md5}, {size} bytes; it was deleted"
                )
            os.replace(part, dest)


@contextmanager
def local_file(path: Path) -> Iterator[None]:
    """Turn an OSError of the local file system (full disk, no permission) into one line that
    names the file: the error's own file name, else ``path`` (a failed write carries none)."""
    try:
        yield
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise FetchError(f"{exc.filename or path}: {reason}") from None


def _error_detail(exc: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(exc.read().decode())
        message = body.get("message") or body.get("error") or ""
    except Exception:  # an HTML or empty error page: the status line says enough
        return ""
    return f": {' '.join(str(message).split())}" if message else ""


def md5_of(path: Path) -> str:
    """The MD5 of a file's bytes as 32 lower-case hex digits, the form of the GDC's ``md5sum``.

    Parameters
    ----------
    path
        The file; read in blocks of :data:`CHUNK` bytes, so memory stays small at any size.

    Returns
    -------
    str
        The hex digest.
    """
    digest = hashlib.md5()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


FILE_REQUIRED = ("file_id", "file_name", "file_size", "md5sum")  # without these, nothing to check
MD5 = re.compile(r"[0-9a-f]{32}")


def checked_file_hits(hits: list[Any]) -> list[dict[str, Any]]:
    """The hits of ``/files``, each checked for what a download needs, once per file ID.

    Parameters
    ----------
    hits
        Hits of the files endpoint with :data:`FILE_FIELDS`.

    Returns
    -------
    list of dict
        Copies of the hits with ``file_size`` an int and ``md5sum`` in lower case; a file
        listed twice (pages that shifted while being read) is kept once.

    Raises
    ------
    FetchError
        A hit lacks ``file_id``, ``file_name``, ``file_size`` or ``md5sum`` (named), or one is
        malformed: a size that is not a whole number of bytes, an MD5 that is not 32 hex
        digits, an ID or name that is not a plain file name (it becomes a path in the folder).
    """
    checked: dict[str, dict[str, Any]] = {}
    for n, hit in enumerate(hits, start=1):
        if not isinstance(hit, dict):
            raise FetchError(f"/files: the GDC API sent file {n} of {len(hits)} as {hit!r}")
        which = hit.get("file_id") or hit.get("file_name") or f"{n} of {len(hits)}"
        for key in FILE_REQUIRED:
            if hit.get(key) in (None, ""):
                raise FetchError(
                    f"/files: the GDC API sent file {which} without {key}, which the download "
                    "needs to place and check it; nothing was downloaded, try again later"
                )
        for key in ("file_id", "file_name"):
            name = hit[key]
            if not isinstance(name, str) or name in (".", "..") or any(c in name for c in "/\\\0"):
                raise FetchError(f"/files: the GDC API sent file {which} with {key} {name!r}")
        size, md5 = hit["file_size"], str(hit["md5sum"]).lower()
        if isinstance(size, bool) or not isinstance(size, int | str) or not str(size).isdigit():
            raise FetchError(f"/files: the GDC API sent file {which} with file_size {size!r}")
        if not MD5.fullmatch(md5):
            raise FetchError(f"/files: the GDC API sent file {which} with md5sum {md5!r}")
        checked.setdefault(hit["file_id"], {**hit, "file_size": int(size), "md5sum": md5})
    return list(checked.values())


# ------------------------------------------------------------------------------------ filters
def _in(field_name: str, values: list[str]) -> dict[str, Any]:
    return {"op": "in", "content": {"field": field_name, "value": values}}


def file_filters(
    project: str, data_type: str, workflow: str | None, sample_types: list[str]
) -> dict[str, Any]:
    """Open files of ``project`` of ``data_type`` (and ``workflow``), of these sample types."""
    content = [
        _in("cases.project.project_id", [project]),
        _in("data_type", [data_type]),
        _in("access", ["open"]),
    ]
    if workflow:
        content.append(_in("analysis.workflow_type", [workflow]))
    if sample_types:
        content.append(_in("cases.samples.sample_type", sample_types))
    return {"op": "and", "content": content}


# --------------------------------------------------------------------------------- the folder
@dataclass
class FetchSummary:
    """What a fetch did."""

    folder: Path
    files: int = 0
    downloaded: int = 0
    already_there: int = 0
    bytes_downloaded: int = 0
    cases: int | None = None
    written: list[str] = field(default_factory=list)


def _check_folder(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise FetchError(f"{out}: exists and is not a folder")
    ours = (out / MARKER).is_file()
    if out.is_dir() and not ours and any(p.name != LOCK for p in out.iterdir()):
        raise FetchError(
            f"{out}: the folder holds files that `omicsformer fetch` did not make; give a new "
            "or empty folder (fetch adds to a folder only to finish its own download)"
        )


def _check_request(out: Path, request: dict[str, Any]) -> None:
    """Refuse to add to a folder of an earlier fetch of other files.

    The project, data type and workflow must be those of ``fetch.json``: otherwise the new files
    would land beside the old ones while the sample sheet lists only the new. The sample types
    may widen (first the tumours, then every sample: the rest is added), not narrow (files of
    the dropped types would stay, in no sheet).
    """
    marker = out / MARKER
    if not marker.is_file():
        return
    try:
        done = json.loads(marker.read_text())
        before = {
            "project": done["project"],
            "data_type": done["data_type"],
            "workflow": done.get("workflow"),
            "sample_types": list(done.get("sample_types") or []),
        }
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError):
        raise FetchError(
            f"{marker}: not a readable record of an earlier fetch; give a new --out"
        ) from None
    same = all(before[k] == request[k] for k in ("project", "data_type", "workflow"))
    old, new = set(before["sample_types"]), set(request["sample_types"])
    widened = not new or (bool(old) and old <= new)  # empty: every sample type
    if not (same and widened):
        raise FetchError(
            f"{out} holds a fetch of {_describe(before)}, not of {_describe(request)}: give a "
            "new --out (one folder holds one fetch, so that its sample sheet lists every file)"
        )


def _describe(request: dict[str, Any]) -> str:
    text = f"project {request['project']!r}, {request['data_type']}"
    if request["workflow"]:
        text += f" ({request['workflow']})"
    types = request["sample_types"]
    return text + (f", sample types {', '.join(types)}" if types else ", every sample type")


def _sheet_row(hit: dict[str, Any]) -> list[str]:
    cases = hit.get("cases") or []
    samples = [s for c in cases for s in (c.get("samples") or [])]

    def join(values: list[Any]) -> str:
        text = ", ".join(dict.fromkeys(str(v) for v in values if v not in (None, "")))
        return text or MISSING_TEXT

    return [
        hit["file_id"],
        hit["file_name"],
        hit.get("data_category") or MISSING_TEXT,
        hit.get("data_type") or MISSING_TEXT,
        join([(c.get("project") or {}).get("project_id") for c in cases]),
        join([c.get("submitter_id") for c in cases]),
        join([s.get("submitter_id") for s in samples]),
        join([s.get("sample_type") for s in samples]),
        join([s.get("tumor_descriptor") for s in samples]),
        join([s.get("specimen_type") for s in samples]),
    ]


def _tsv(columns: tuple[str, ...], rows: list[list[str]]) -> str:
    def cell(value: Any) -> str:
        text = MISSING_TEXT if value is None or value == "" else str(value)
        return " ".join(text.replace("\t", " ").split())

    lines = ["\t".join(columns), *("\t".join(cell(v) for v in row) for row in rows)]
    return "\n".join(lines) + "\n"


def clinical_rows(cases: list[dict[str, Any]]) -> list[list[Any]]:
    """One row per case in the :data:`CLINICAL_COLUMNS` of the GDC's clinical.tsv.

    Parameters
    ----------
    cases
        Hits of the cases endpoint with :data:`CASE_FIELDS`: ``demographic`` an object,
        ``diagnoses`` and ``follow_ups`` lists of objects (absent when a case has none).

    Returns
    -------
    list of list
        One row per case: ``days_to_last_follow_up`` the largest over the case's diagnoses,
        ``days_to_follow_up`` the largest over its follow-up records (TCGA's later releases
        keep the follow-up time there), each missing (None) when no record has a number; the
        other diagnosis fields the first non-missing value over the diagnoses.
    """
    rows = []
    for case in cases:
        demographic = case.get("demographic") or {}
        diagnoses = case.get("diagnoses") or []
        follow_ups = case.get("follow_ups") or []

        def first(key: str, diagnoses: list[dict[str, Any]] = diagnoses) -> Any:
            return next((d[key] for d in diagnoses if d.get(key) not in (None, "")), None)

        rows.append(
            [
                case.get("case_id") or case.get("id"),
                case.get("submitter_id"),
                (case.get("project") or {}).get("project_id"),
                demographic.get("vital_status"),
                demographic.get("days_to_death"),
                _largest(diagnoses, "days_to_last_follow_up"),
                _largest(follow_ups, "days_to_follow_up"),
                demographic.get("gender"),
                first("age_at_diagnosis"),
                first("primary_diagnosis"),
                first("ajcc_pathologic_stage"),
                first("tumor_grade"),
            ]
        )
    return rows


def _largest(records: list[dict[str, Any]], key: str) -> str | None:
    """The largest number under ``key`` over ``records`` as text, or None if none has one."""
    numbers = [r[key] for r in records if isinstance(r, dict) and _is_number(r.get(key))]
    return _number_text(max(numbers)) if numbers else None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


class _Progress:
    """A bytes bar on a terminal; otherwise one line per file."""

    def __init__(self, total_files: int, total_bytes: int, terminal: bool | None = None) -> None:
        self.total_files = total_files
        self.terminal = err.is_terminal if terminal is None else terminal
        self._bar: Any = None
        if self.terminal and total_bytes:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=err,
                transient=True,
            )
            self._task = self._bar.add_task("fetch", total=total_bytes)
            self._bar.start()

    def bytes(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(self._task, advance=n)

    def file(self, index: int, name: str, size: int, done: str) -> None:
        text = f"[{index}/{self.total_files}] {name} ({size / 1e6:.1f} MB): {done}"
        if self._bar is not None:
            self._bar.update(self._task, description=f"[{index}/{self.total_files}]")
            if done.startswith("already"):
                self._bar.update(self._task, advance=size)
        else:
            note(text)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()


def fetch_tcga(
    project: str,
    out: str | Path,
    *,
    data_type: str = DATA_TYPE,
    workflow: str | None = None,
    sample_types: list[str] | None = None,
    clinical: bool = True,
    max_files: int | None = None,
    client: GDCClient | None = None,
    terminal: bool | None = None,
) -> FetchSummary:
    """Download a TCGA (or any GDC) project's open files and clinical table into ``out``.

    Parameters
    ----------
    project
        GDC project ID, e.g. ``TCGA-BRCA``.
    out
        The folder to fill: created once the GDC has listed the files (a wrong project or an
        unreachable API leaves nothing behind). A folder of an earlier fetch is completed if
        this is the same request (project, data type, workflow; sample types may widen), and
        refused otherwise.
    data_type, workflow
        GDC ``data_type`` and ``analysis.workflow_type`` (default: gene expression from
        ``STAR - Counts``, the files ``--data`` reads; another data type has no workflow
        filter unless one is given).
    sample_types
        GDC sample-type names to keep (``Primary Tumor``, ...; default all).
    clinical
        Also write ``clinical.tsv`` from the cases endpoint.
    max_files
        At most this many files (in sample order), for a first look.
    client
        The API client (default: :class:`GDCClient` on the public API).
    terminal
        Progress as a live bar (True) or one line per file (False); default: whether stderr
        is a terminal.
    """
    from filelock import FileLock, Timeout

    out = Path(out)
    client = client or GDCClient()
    if workflow is None and data_type == DATA_TYPE:
        workflow = WORKFLOW
    request = {
        "project": project,
        "data_type": data_type,
        "workflow": workflow,
        "sample_types": sample_types or [],
        "api": client.api,
    }
    _check_folder(out)
    _check_request(out, request)
    # the file list before the folder: a wrong project or an unreachable API leaves nothing
    hits = file_list(client, request)
    with local_file(out):
        out.mkdir(parents=True, exist_ok=True)
    lock = FileLock(out / LOCK, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise FetchError(f"{out}: another `omicsformer fetch` is filling this folder") from None
    try:
        _check_request(out, request)  # again: another fetch may have begun it meanwhile
        try:
            with local_file(out):
                write_json(
                    out / MARKER,
                    {"made_by": "omicsformer fetch tcga", **request, "complete": False},
                )
                summary = _fetch(
                    client,
                    out,
                    request,
                    hits,
                    clinical=clinical,
                    max_files=max_files,
                    terminal=terminal,
                )
                write_json(
                    out / MARKER,
                    {
                        "made_by": "omicsformer fetch tcga",
                        **request,
                        "complete": True,
                        "files": summary.files,
                        "cases": summary.cases,
                    },
                )
        except FetchError as exc:  # the folder stays, resumable: say so
            raise FetchError(
                f"{exc}; {out} is an unfinished fetch: run the same command again to continue it"
            ) from None
        return summary
    finally:
        lock.release()


def file_list(client: GDCClient, request: dict[str, Any]) -> list[dict[str, Any]]:
    """The files of ``request`` (project, data type, workflow, sample types), checked.

    Raises
    ------
    FetchError
        The API cannot be reached, sends a hit that cannot be checked, or lists no file: then
        the line says whether the project exists (with near project IDs if it does not).
    """
    filters = file_filters(
        request["project"], request["data_type"], request["workflow"], request["sample_types"]
    )
    hits = checked_file_hits(client.search("files", filters, FILE_FIELDS))
    if not hits:
        raise FetchError(_no_files(client, request))
    return hits


def _no_files(client: GDCClient, request: dict[str, Any]) -> str:
    """Why no file matched: an unknown project (the GDC answers an empty list, not an error),
    or a project without open files of this data type. One request to ``/projects``."""
    project = request["project"]
    what = f"no files for project {project!r} with data type {request['data_type']}"
    if request["workflow"]:
        what += f" and workflow {request['workflow']}"
    if request["sample_types"]:
        what += f" and sample types {', '.join(request['sample_types'])}"
    listing = f"{client.api}/projects?size=1000&fields=project_id"
    try:
        projects = client.search("projects", None, ("project_id",))
        known = {
            str(h["project_id"]) for h in projects if isinstance(h, dict) and "project_id" in h
        }
    except FetchError:  # the hint is not worth a failure of its own
        known = set()
    if not known:
        return f"{what}: is the project ID right? The GDC lists its project IDs at {listing}"
    if project not in known:
        by_upper = {k.upper(): k for k in known}
        near = [by_upper[k] for k in difflib.get_close_matches(project.upper(), by_upper, 3, 0.8)]
        near += sorted(k for k in known if k.upper().endswith(f"-{project.upper()}"))  # BRCA
        near = list(dict.fromkeys(near))
        guess = f" (did you mean {' or '.join(near)}?)" if near else ""
        return f"{what}: the GDC has no project {project!r}{guess}; its project IDs: {listing}"
    return (
        f"{what}: the project has none that are open access; check --data-type, --workflow "
        "and --sample-types"
    )


def _fetch(
    client: GDCClient,
    out: Path,
    request: dict[str, Any],
    hits: list[dict[str, Any]],
    *,
    clinical: bool,
    max_files: int | None,
    terminal: bool | None,
) -> FetchSummary:
    project = request["project"]
    rows = sorted((_sheet_row(h) for h in hits), key=lambda r: (r[6], r[0]))
    if max_files is not None:
        rows = rows[:max_files]
    files = {h["file_id"]: h for h in hits}
    summary = FetchSummary(out, files=len(rows))
    total = sum(files[r[0]]["file_size"] for r in rows)
    note(f"{project}: {len(rows)} files, {total / 1e6:.1f} MB, into {out}")
    progress = _Progress(len(rows), total, terminal)
    try:
        for index, row in enumerate(rows, start=1):
            hit = files[row[0]]
            dest = out / hit["file_id"] / hit["file_name"]
            size, md5 = hit["file_size"], hit["md5sum"]
            if dest.is_file() and dest.stat().st_size == size and md5_of(dest) == md5:
                summary.already_there += 1
                progress.file(index, dest.name, size, "already there, MD5 verified")
                continue
            client.download(hit["file_id"], dest, md5=md5, size=size, on_bytes=progress.bytes)
            summary.downloaded += 1
            summary.bytes_downloaded += size
            progress.file(index, dest.name, size, "downloaded, MD5 verified")
    finally:
        progress.stop()

    manifest = [
        [r[0], r[1], files[r[0]]["md5sum"], files[r[0]]["file_size"], "released"] for r in rows
    ]
    write_text(out / "gdc_manifest.txt", _tsv(("id", "filename", "md5", "size", "state"), manifest))
    if clinical:
        cases = client.search(
            "cases", {"op": "and", "content": [_in("project.project_id", [project])]}, CASE_FIELDS
        )
        write_text(out / "clinical.tsv", _tsv(CLINICAL_COLUMNS, clinical_rows(cases)))
        summary.cases = len(cases)
        summary.written.append("clinical.tsv")
    # last: a folder with a sample sheet is read by --data as a finished download
    write_text(out / "gdc_sample_sheet.tsv", _tsv(SAMPLE_SHEET_HEADER, rows))
    summary.written[:0] = ["gdc_sample_sheet.tsv", "gdc_manifest.txt"]
    return summary
