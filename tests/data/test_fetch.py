"""``fetch tcga`` against a local HTTP server (127.0.0.1) that replays GDC API responses.

The responses in ``gdc_api/`` follow the GDC API's format (``files.json``, ``cases.json``,
``projects.json`` from the files, cases and projects endpoints: ``{"data": {"hits": [...],
"pagination": {...}}, "warnings": {}}``, case hits with ``diagnoses`` and ``follow_ups`` lists and
a ``demographic`` object; file bodies served by ``/data/<file_id>``). Like the GDC, the server
answers only the requested ``fields`` (and ``id``), keeps the hits that match the ``in`` filters
on fields the hits carry, and pages them by ``from`` / ``size``. It answers ``Range`` requests
with 206, and can be told to corrupt a file, cut a connection short or drop a field of a file
hit. No test reaches the network.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pandas as pd
import pytest

from omicsformer.data.fetch import (
    GDCClient,
    checked_file_hits,
    clinical_rows,
    fetch_tcga,
    md5_of,
)
from omicsformer.data.readers import load_data
from omicsformer.errors import FetchError

RECORDED = Path(__file__).parent / "gdc_api"
FILES = json.loads((RECORDED / "files.json").read_text())["data"]["hits"]


class Replay(BaseHTTPRequestHandler):
    """Serves the recorded responses; the class attributes are set per test."""

    corrupt: ClassVar[set[str]] = set()  # file IDs whose bytes are altered
    cut: ClassVar[
        dict[str, int]
    ] = {}  # file ID -> bytes sent before the connection is closed (once)
    drop: ClassVar[dict[int, str]] = {}  # index of a files hit -> a field the GDC left out
    downloads: ClassVar[Counter] = Counter()
    ranges: ClassVar[list[str]] = []
    bodies: ClassVar[list[dict]] = []

    def log_message(self, *args: object) -> None:  # keep the test output quiet
        pass

    def _json(self, payload: dict, status: int = 200) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).bodies.append({"path": self.path, **body})
        endpoint = self.path.strip("/")
        if endpoint not in ("files", "cases", "projects"):
            self._json({"message": "not found"}, 404)
            return
        recorded = json.loads((RECORDED / f"{endpoint}.json").read_text())
        hits = recorded["data"]["hits"]
        if endpoint == "files":
            for index, key in type(self).drop.items():
                hits[index].pop(key, None)
        hits = [h for h in hits if _matches(h, body.get("filters"))]
        if body.get("fields"):
            paths = [f.split(".") for f in ["id", *body["fields"].split(",")]]
            hits = [_only(h, paths) for h in hits]
        start, size = int(body.get("from", 0)), int(body.get("size", 10))
        page = hits[start : start + size]
        pagination = {
            "count": len(page),
            "total": len(hits),
            "size": size,
            "from": start,
            "sort": "",
            "page": start // size + 1,
            "pages": -(-len(hits) // size),
        }
        self._json({"data": {"hits": page, "pagination": pagination}, "warnings": {}})

    def do_GET(self) -> None:
        if not self.path.startswith("/data/"):
            self._json({"message": "not found"}, 404)
            return
        file_id = self.path.split("/")[-1]
        path = RECORDED / "data" / file_id
        if not path.is_file():
            self._json({"message": f"{file_id} not found"}, 404)
            return
        data = path.read_bytes()
        if file_id in self.corrupt:
            data = data.replace(b"protein_coding", b"protein_cod1ng", 1)
        type(self).downloads[file_id] += 1
        start = 0
        if "Range" in self.headers:
            type(self).ranges.append(self.headers["Range"])
            start = int(self.headers["Range"].split("=")[1].split("-")[0])
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(data) - start))
        self.end_headers()
        cut = type(self).cut.pop(file_id, None)
        if cut is not None:
            self.wfile.write(data[start : start + cut])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(data[start:])


def _values(hit: object, path: list[str]) -> list:
    """Every value at ``path`` (``cases.samples.sample_type``) below ``hit``, through lists."""
    if isinstance(hit, list):
        return [v for item in hit for v in _values(item, path)]
    if not path:
        return [hit]
    if not isinstance(hit, dict) or path[0] not in hit:
        return []
    return _values(hit[path[0]], path[1:])


def _matches(hit: dict, filters: dict | None) -> bool:
    """The ``and`` of ``in`` filters, each on a field the recorded hit carries (``access`` and
    ``analysis.workflow_type`` are not recorded: every recorded file is open STAR counts)."""
    if not filters:
        return True
    clauses = filters["content"] if filters["op"] == "and" else [filters]
    for clause in clauses:
        assert clause["op"] == "in", clause
        field, wanted = clause["content"]["field"], clause["content"]["value"]
        if field.split(".")[0] in hit and not set(_values(hit, field.split("."))) & set(wanted):
            return False
    return True


def _only(hit: object, paths: list[list[str]]) -> object:
    """``hit`` cut down to the requested fields, as the GDC answers a ``fields`` parameter."""
    if isinstance(hit, list):
        return [_only(item, paths) for item in hit]
    if not isinstance(hit, dict):
        return hit
    kept = {}
    for key in dict.fromkeys(p[0] for p in paths):
        if key not in hit:
            continue
        below = [p[1:] for p in paths if p[0] == key and len(p) > 1]
        whole = any(p == [key] for p in paths)
        kept[key] = hit[key] if whole else _only(hit[key], below)
    return kept


@pytest.fixture
def server():
    Replay.corrupt, Replay.cut, Replay.drop, Replay.downloads = set(), {}, {}, Counter()
    Replay.ranges, Replay.bodies = [], []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Replay)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def client(api: str) -> GDCClient:
    return GDCClient(api, timeout=5, retries=2, backoff=0, page_size=3)  # two pages of files


def test_fetch_writes_a_folder_that_data_reads(server, tmp_path, capsys):
    out = tmp_path / "brca"
    summary = fetch_tcga("TCGA-XX", out, client=client(server), terminal=False)
    assert (summary.files, summary.downloaded, summary.already_there, summary.cases) == (4, 4, 0, 3)
    for hit in FILES:
        path = out / hit["file_id"] / hit["file_name"]
        assert md5_of(path) == hit["md5sum"]
    assert not list(out.rglob(".*.part"))
    # the request: project, data type, STAR workflow, open access; paged by 3
    files_requests = [b for b in Replay.bodies if b["path"] == "/files"]
    assert [b["from"] for b in files_requests] == [0, 3]
    fields = {
        c["content"]["field"]: c["content"]["value"]
        for c in files_requests[0]["filters"]["content"]
    }
    assert fields == {
        "cases.project.project_id": ["TCGA-XX"],
        "data_type": ["Gene Expression Quantification"],
        "access": ["open"],
        "analysis.workflow_type": ["STAR - Counts"],
    }
    sheet = pd.read_csv(out / "gdc_sample_sheet.tsv", sep="\t")
    assert list(sheet["Sample ID"]) == [
        "TCGA-AB-0001-01A",
        "TCGA-AB-0001-11A",
        "TCGA-AB-0002-01A",
        "TCGA-AB-0003-01A",
    ]
    assert list(sheet["Case ID"])[:2] == ["TCGA-AB-0001", "TCGA-AB-0001"]
    manifest = pd.read_csv(out / "gdc_manifest.txt", sep="\t")
    assert set(manifest["md5"]) == {h["md5sum"] for h in FILES}
    assert json.loads((out / "fetch.json").read_text())["complete"] is True
    err = capsys.readouterr().err
    assert "TCGA-XX: 4 files" in err
    assert "[1/4]" in err and "downloaded, MD5 verified" in err

    # clinical.tsv in the GDC's style: follow-up time from the diagnoses (older releases) and,
    # beside it, the largest over the follow-up records (where TCGA keeps it now)
    cases_request = next(b for b in Replay.bodies if b["path"] == "/cases")
    asked = cases_request["fields"].split(",")
    assert "follow_ups.days_to_follow_up" in asked and "diagnoses.days_to_last_follow_up" in asked
    clinical = pd.read_csv(out / "clinical.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert list(clinical.columns[3:7]) == [
        "vital_status",
        "days_to_death",
        "days_to_last_follow_up",
        "days_to_follow_up",
    ]
    assert clinical["days_to_follow_up"].tolist() == ["398", "1577", "'--"]  # no records: '--
    assert clinical["days_to_last_follow_up"].tolist() == ["'--", "1577", "'--"]
    # read back with overall survival
    adata = load_data(
        str(out), labels=str(out / "clinical.tsv"), obs_columns=["os_time", "os_event"]
    )
    assert list(adata.obs_names) == ["TCGA-AB-0001-01A", "TCGA-AB-0001-11A", "TCGA-AB-0002-01A"]
    assert adata.obs["os_time"].tolist() == [412.0, 412.0, 1577.0]  # the longest follow-up
    assert adata.obs["os_event"].tolist() == [1.0, 1.0, 0.0]
    assert "1 vital status unknown" in capsys.readouterr().err


def test_resume_skips_verified_files_and_continues_a_partial_one(server, tmp_path, capsys):
    out = tmp_path / "brca"
    fetch_tcga("TCGA-XX", out, client=client(server), max_files=2, terminal=False)
    assert sum(Replay.downloads.values()) == 2
    # an interrupted earlier run left half of the third file
    third = FILES[2]
    body = (RECORDED / "data" / third["file_id"]).read_bytes()
    part = out / third["file_id"] / f".{third['file_name']}.part"
    part.parent.mkdir()
    part.write_bytes(body[:400])
    Replay.downloads.clear()
    capsys.readouterr()
    summary = fetch_tcga("TCGA-XX", out, client=client(server), terminal=False)
    assert (summary.downloaded, summary.already_there) == (2, 2)
    assert Replay.downloads == Counter({third["file_id"]: 1, FILES[3]["file_id"]: 1})
    assert Replay.ranges == ["bytes=400-"]
    assert (out / third["file_id"] / third["file_name"]).read_bytes() == body
    assert capsys.readouterr().err.count("already there, MD5 verified") == 2


def test_a_connection_cut_short_is_continued(server, tmp_path):
    first = FILES[0]
    Replay.cut = {first["file_id"]: 300}
    out = tmp_path / "brca"
    # on a terminal: a live bar instead of one line per file
    fetch_tcga("TCGA-XX", out, client=client(server), max_files=1, clinical=False, terminal=True)
    assert Replay.ranges == ["bytes=300-"]
    assert md5_of(out / first["file_id"] / first["file_name"]) == first["md5sum"]
    assert not (out / "clinical.tsv").exists()


def test_checksum_mismatch_is_an_error_and_leaves_no_file(server, tmp_path):
    bad = FILES[1]
    Replay.corrupt = {bad["file_id"]}
    out = tmp_path / "brca"
    with pytest.raises(FetchError) as info:
        fetch_tcga("TCGA-XX", out, client=client(server), terminal=False)
    message = str(info.value)
    assert f"file {bad['file_id']} ({bad['file_name']}) is damaged" in message
    assert bad["md5sum"] in message and "\n" not in message
    assert not (out / bad["file_id"] / bad["file_name"]).exists()
    assert not list(out.rglob("*.part"))
    # no sample sheet: the folder is not taken for a finished download
    assert not (out / "gdc_sample_sheet.tsv").exists()
    assert json.loads((out / "fetch.json").read_text())["complete"] is False


def test_cli_fetch_and_its_errors(cli, server, tmp_path, monkeypatch):
    monkeypatch.setattr("omicsformer.data.fetch.time.sleep", lambda seconds: None)  # retries
    out = tmp_path / "brca"
    result = cli(
        "fetch",
        "tcga",
        "--project",
        "TCGA-XX",
        "--sample-types",
        "01",
        "--api",
        server,
        "--out",
        out,
        "--no-clinical",
    )
    assert result.code == 0, result.err
    assert "3 files in" in result.err and "every MD5 verified" in result.err  # no normal
    content = [c["content"] for c in Replay.bodies[0]["filters"]["content"]]
    assert {"field": "cases.samples.sample_type", "value": ["Primary Tumor"]} in content
    # every sample type: the same folder is completed with the normal sample
    again = cli("fetch", "tcga", "--project", "TCGA-XX", "--api", server, "--out", out)
    assert again.code == 0 and "1 downloaded, 3 already there" in again.err

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    refused = cli("fetch", "tcga", "--project", "TCGA-XX", "--api", server, "--out", mine)
    assert refused.code == 2
    assert "holds files that `omicsformer fetch` did not make" in refused.err
    assert sorted(p.name for p in mine.iterdir()) == ["notes.txt"]

    unreachable = cli(
        "fetch",
        "tcga",
        "--project",
        "TCGA-XX",
        "--api",
        "http://127.0.0.1:9",
        "--out",
        tmp_path / "x",
    )
    assert unreachable.code == 2
    assert unreachable.err.count("\n") == 1 and "cannot reach http://127.0.0.1:9" in unreachable.err
    assert not (tmp_path / "x").exists()  # asked before the folder is made


@pytest.mark.parametrize("project", ["TCGA-BRAC", "tcga-brca", "BRCA"])
def test_an_unknown_project_is_one_line_and_leaves_no_folder(cli, server, tmp_path, project):
    out = tmp_path / "brca"
    result = cli("fetch", "tcga", "--project", project, "--api", server, "--out", out)
    assert result.code == 2 and result.err.count("\n") == 1
    assert (
        f"no files for project {project!r} with data type Gene Expression Quantification and "
        f"workflow STAR - Counts: the GDC has no project {project!r} (did you mean TCGA-BRCA?)"
    ) in result.err
    assert f"{server}/projects?size=1000&fields=project_id" in result.err  # where IDs are listed
    assert not out.exists()
    assert [b["path"] for b in Replay.bodies] == ["/files", "/projects"]


def test_a_project_without_such_files_says_so(server, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()  # the user's folder: left as it was
    with pytest.raises(FetchError) as info:
        fetch_tcga(
            "TCGA-XX",
            empty,
            data_type="Methylation Beta Value",
            client=client(server),
            terminal=False,
        )
    assert str(info.value) == (
        "no files for project 'TCGA-XX' with data type Methylation Beta Value: the project has "
        "none that are open access; check --data-type, --workflow and --sample-types"
    )
    assert list(empty.iterdir()) == []


def test_no_files_and_no_project_list_still_names_the_project(server, tmp_path, monkeypatch):
    monkeypatch.setattr(GDCClient, "search", lambda self, endpoint, filters, fields: [])
    with pytest.raises(FetchError, match="no files for project 'TCGA-ZZ' .* project ID right"):
        fetch_tcga("TCGA-ZZ", tmp_path / "out", client=client(server), terminal=False)
    assert not (tmp_path / "out").exists()


def test_the_sheet_fetch_writes_is_one_the_readers_take():
    """fetch's names differ from gdc.py's and clinical.py's on purpose; these tie them."""
    from omicsformer.data import clinical, gdc
    from omicsformer.data.fetch import MISSING_TEXT, SAMPLE_SHEET_HEADER

    assert set(gdc.SHEET_COLUMNS) <= set(SAMPLE_SHEET_HEADER)  # found and read as a sheet
    assert MISSING_TEXT in clinical.MISSING  # read back as missing


def test_md5_of_reads_in_blocks(tmp_path, monkeypatch):
    monkeypatch.setattr("omicsformer.data.fetch.CHUNK", 7)
    path = tmp_path / "f.bin"
    path.write_bytes(b"0123456789" * 5)
    assert md5_of(path) == hashlib.md5(b"0123456789" * 5).hexdigest()


def test_clinical_rows_take_the_largest_follow_up_of_a_case():
    case = {
        "id": "c1",
        "case_id": "c1",
        "submitter_id": "TCGA-AB-0009",
        "demographic": {"vital_status": "Alive"},
        "diagnoses": [{"days_to_last_follow_up": 120}, {"days_to_last_follow_up": None}],
        "follow_ups": [
            {"days_to_follow_up": 90},
            {"days_to_follow_up": 731.5},
            {"days_to_follow_up": None},
            {"days_to_follow_up": "not reported"},
            {},
            {"days_to_follow_up": 400},
        ],
    }
    (row,) = clinical_rows([case])
    assert row[5:7] == ["120", "731.5"]  # days_to_last_follow_up, days_to_follow_up
    (row,) = clinical_rows([{"case_id": "c2", "follow_ups": [{}], "diagnoses": []}])
    assert row[5:7] == [None, None]


@pytest.mark.parametrize("key", ["file_id", "file_name", "file_size", "md5sum"])
def test_a_file_hit_without_a_needed_field_is_named(server, tmp_path, key):
    Replay.drop = {2: key}  # the third file, on the first page of three
    with pytest.raises(FetchError) as info:
        fetch_tcga("TCGA-XX", tmp_path / "out", client=client(server), terminal=False)
    message = str(info.value)
    assert f"without {key}," in message and "\n" not in message
    which = FILES[2]["file_name"] if key == "file_id" else FILES[2]["file_id"]
    assert f"file {which} " in message
    assert not Replay.downloads  # nothing fetched from a list that cannot be checked
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("file_name", "../../etc/passwd"),
        ("file_id", ".."),
        ("file_size", "12 kB"),
        ("file_size", True),
        ("md5sum", "abc"),
    ],
)
def test_a_malformed_file_hit_is_refused(key, value):
    hit = {**FILES[0], key: value}
    with pytest.raises(FetchError, match=f"with {key} "):
        checked_file_hits([hit])


def test_file_hits_are_normalised_and_kept_once():
    hits = [{**FILES[0], "file_size": "981", "md5sum": FILES[0]["md5sum"].upper()}, FILES[0]]
    (hit,) = checked_file_hits(hits)
    assert hit["file_size"] == 981 and hit["md5sum"] == FILES[0]["md5sum"]


def test_a_full_disk_is_not_retried_as_a_network_error(server, tmp_path, monkeypatch):
    """A write of the .part file that fails is local and final: one line naming the file."""
    waits: list[float] = []
    monkeypatch.setattr("omicsformer.data.fetch.time.sleep", waits.append)
    real_open = Path.open

    class FullDisk:
        def __init__(self, handle):
            self.handle = handle

        def write(self, block):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def close(self):
            self.handle.close()

    def open_part(self, mode="r", *args, **kwargs):
        handle = real_open(self, mode, *args, **kwargs)
        return FullDisk(handle) if self.name.endswith(".part") else handle

    monkeypatch.setattr(Path, "open", open_part)
    out = tmp_path / "brca"
    slow = GDCClient(server, timeout=5, retries=2, backoff=1, page_size=3)
    with pytest.raises(FetchError) as info:
        fetch_tcga("TCGA-XX", out, client=slow, terminal=False)
    message = str(info.value)
    first = FILES[0]
    part = out / first["file_id"] / f".{first['file_name']}.part"
    assert message.startswith(f"{part}: No space left on device;") and "\n" not in message
    assert "cannot reach" not in message and "run the same command again" in message
    assert waits == [] and Replay.downloads == Counter({first["file_id"]: 1})  # no retry


def test_only_network_errors_are_retried(monkeypatch):
    monkeypatch.setattr("omicsformer.data.fetch.time.sleep", lambda seconds: None)
    api = GDCClient("http://127.0.0.1:9", retries=2, backoff=1)
    calls = []

    def fails(error):
        def attempt(patience):
            calls.append(patience.left)
            raise error

        return attempt

    for network, said in [
        (ConnectionResetError(104, "reset"), "reset the connection"),
        (TimeoutError("timed out"), "no answer from http://127.0.0.1:9 within 20 s"),
    ]:
        calls.clear()
        with pytest.raises(FetchError, match=f"^/files: .*{said} .*3 attempts in"):
            api._retrying("/files", fails(network))
        # each attempt may wait what is left of the 20 s after the back-off before it
        assert calls == pytest.approx([20, 19, 17], abs=0.5)
    calls.clear()
    with pytest.raises(PermissionError):  # local: not retried, not called a network error
        api._retrying("/files", fails(PermissionError(13, "Permission denied")))
    assert len(calls) == 1


def test_a_folder_holding_only_a_lock_is_fetched_into(server, tmp_path):
    """A run stopped before fetch.json was written (a full disk) leaves only the lock."""
    out = tmp_path / "brca"
    out.mkdir()
    (out / ".fetch.lock").touch()
    summary = fetch_tcga("TCGA-XX", out, client=client(server), max_files=1, terminal=False)
    assert summary.downloaded == 1


@pytest.mark.parametrize(
    ("change", "asked"),
    [
        ({"project": "TCGA-BRCA"}, "project 'TCGA-BRCA', Gene Expression Quantification"),
        ({"data_type": "Methylation Beta Value"}, "project 'TCGA-XX', Methylation Beta Value,"),
        ({"workflow": "HTSeq - Counts"}, "Gene Expression Quantification (HTSeq - Counts)"),
        ({"sample_types": ["Primary Tumor"]}, "sample types Primary Tumor"),  # narrower
    ],
)
def test_a_folder_is_not_refetched_with_another_request(server, tmp_path, change, asked):
    out = tmp_path / "brca"
    fetch_tcga("TCGA-XX", out, client=client(server), clinical=False, terminal=False)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    Replay.bodies.clear()
    with pytest.raises(FetchError) as info:
        fetch_tcga(change.pop("project", "TCGA-XX"), out, client=client(server), **change)
    message = str(info.value)
    assert message.startswith(
        f"{out} holds a fetch of project 'TCGA-XX', Gene Expression Quantification "
        "(STAR - Counts), every sample type, not of "
    )
    assert asked in message and "give a new --out" in message and "\n" not in message
    assert Replay.bodies == []  # refused before asking the GDC
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before  # nothing touched
    assert json.loads((out / "fetch.json").read_text())["complete"] is True


def test_an_unreadable_fetch_record_is_refused(server, tmp_path):
    out = tmp_path / "brca"
    out.mkdir()
    (out / "fetch.json").write_text("{not json")
    with pytest.raises(FetchError, match="fetch.json: not a readable record"):
        fetch_tcga("TCGA-XX", out, client=client(server), terminal=False)
    assert (out / "fetch.json").read_text() == "{not json"


def test_a_response_without_a_hit_list_is_one_line(server, tmp_path, monkeypatch):
    odd = {"data": {"hits": {"file_id": "x"}, "pagination": {"total": 1}}, "warnings": {}}
    monkeypatch.setattr(GDCClient, "_post_json", lambda self, endpoint, body: odd)
    with pytest.raises(FetchError, match="^/files: unexpected response from the GDC API$"):
        fetch_tcga("TCGA-XX", tmp_path / "out", client=client(server), terminal=False)
    assert not (tmp_path / "out").exists()
