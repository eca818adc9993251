"""``fetch tcga`` against a hostile GDC API: every fault ends in exit 2 and one line that says
what the server did, within the wait ``--timeout`` allows, and leaves no folder (a fault while
listing the files) or a resumable one that says so (a fault while downloading); the user's
other files keep their bytes.

Retries sleep through ``time.sleep``, patched away where a test counts attempts; the hanging
cases run in real time with ``--timeout 1``.
"""

from __future__ import annotations

import hashlib
import time

import pytest

TIMEOUT = 1.0  # --timeout of the hanging cases: the bound they are held to
# seconds beyond it for the rest of the command (in-process), generous for a loaded machine:
# the bound must hold, not be fast; the default --timeout (20 s) would still fail it
SLACK = 8.0
FILE = {
    "file_id": "f1",
    "file_name": "a.rna_seq.augmented_star_gene_counts.tsv",
    "file_size": 1000,
    "md5sum": "0" * 32,
    "data_category": "Transcriptome Profiling",
    "data_type": "Gene Expression Quantification",
    "cases": [{"submitter_id": "TCGA-AB-0001", "samples": [{"submitter_id": "TCGA-AB-0001-01A"}]}],
}
FILES = {"data": {"hits": [FILE], "pagination": {"total": 1}}, "warnings": {}}


@pytest.fixture
def no_backoff(monkeypatch):
    """Retries without waiting between attempts (the back-off still counts against --timeout)."""
    waits: list[float] = []
    monkeypatch.setattr("omicsformer.data.fetch.time.sleep", waits.append)
    return waits


@pytest.fixture
def keep(tmp_path):
    """A file of the user's beside the output, whose bytes must not change."""
    path = tmp_path / "keep.tsv"
    path.write_text("sample\tlabel\nS1\ta\n")
    return path, hashlib.md5(path.read_bytes()).hexdigest()


def fetch(cli, api, out, *flags):
    start = time.monotonic()
    result = cli("fetch", "tcga", "--project", "TCGA-XX", "--api", api, "--out", out, *flags)
    return result, time.monotonic() - start


def assert_one_line(result, *said):
    assert result.code == 2
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("omicsformer: error: ")
    for words in said:
        assert words in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        ("reset", "reset the connection (5 attempts in"),
        ("cut", f"cut its answer short: {100} of {1000} bytes (5 attempts in"),
        ("500", "the GDC API answered 500 Internal Server Error: internal error (5 attempts in"),
        ("badjson", "/files: the GDC API sent a response that is not JSON"),
    ],
)
def test_a_faulty_file_list_is_one_line_and_leaves_no_folder(
    cli, hostile, tmp_path, keep, no_backoff, fault, said
):
    hostile.fault = fault
    result, _ = fetch(cli, hostile.url, tmp_path / "out")
    line = assert_one_line(result, said)
    assert "cannot reach" not in line  # the server answered: it is reachable
    assert not (tmp_path / "out").exists()
    assert hashlib.md5(keep[0].read_bytes()).hexdigest() == keep[1]
    # retried with back-off 1, 2, 4, 8 s, all within the default 20 s; not JSON: not retried
    assert no_backoff == ([] if fault == "badjson" else [1, 2, 4, 8])


def test_a_hanging_api_is_one_line_within_the_timeout(cli, hostile, tmp_path, keep):
    hostile.fault = "hang"
    out = tmp_path / "out"
    out.mkdir()  # the user's empty folder: left as it was
    result, seconds = fetch(cli, hostile.url, out, "--timeout", TIMEOUT)
    assert_one_line(result, f"/files: no answer from {hostile.url} within 1 s (1 attempt in")
    assert "--timeout" in result.err  # the way out
    assert TIMEOUT <= seconds < TIMEOUT + SLACK
    assert list(out.iterdir()) == []
    assert hashlib.md5(keep[0].read_bytes()).hexdigest() == keep[1]


def test_a_refused_connection_is_one_line(cli, closed_port, tmp_path, no_backoff):
    api = f"http://127.0.0.1:{closed_port}"
    result, _ = fetch(cli, api, tmp_path / "out")
    assert_one_line(result, f"/files: cannot reach {api}: connection refused (5 attempts in")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "api", ["ftp:/nowhere", "ftp://host/x", "http://", "nowhere", "http://h:x"]
)
def test_an_api_that_is_not_http_is_refused_at_once(cli, tmp_path, monkeypatch, api):
    asked = []
    monkeypatch.setattr("omicsformer.data.fetch.urllib.request.urlopen", asked.append)
    result, _ = fetch(cli, api, tmp_path / "out")
    assert_one_line(result, f"--api {api}: not an http(s) URL of the GDC API")
    assert asked == []  # refused before any request: never retried
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("fault", "said", "timeout"),
    [
        ("cut", "cut the download short: 100 of 1000 bytes received (5 attempts in", "20"),
        ("reset", "reset the connection (5 attempts in", "20"),
        ("stall", "sending: 100 of 1000 bytes received, then nothing within the 1 s", TIMEOUT),
        ("hang", "no answer from", TIMEOUT),
    ],
)
def test_a_faulty_download_says_what_happened_and_how_to_continue(
    cli, hostile, tmp_path, keep, monkeypatch, fault, said, timeout
):
    if timeout != TIMEOUT:  # counted attempts: no waiting between them
        monkeypatch.setattr("omicsformer.data.fetch.time.sleep", lambda seconds: None)
    hostile.fault = fault
    hostile.routes = {"POST /files": (200, FILES)}
    out = tmp_path / "out"
    result, seconds = fetch(cli, hostile.url, out, "--no-clinical", "--timeout", timeout)
    assert result.code == 2
    lines = result.err.splitlines()
    assert len(lines) == 2 and lines[0].startswith("omicsformer: TCGA-XX: 1 files")
    line = lines[1]
    assert f"file f1 ({FILE['file_name']}): " in line and said in line, line
    assert f"{out} is an unfinished fetch: run the same command again to continue it" in line
    assert "cannot reach" not in line
    if timeout == TIMEOUT:
        assert seconds < TIMEOUT + SLACK
    assert not (out / "gdc_sample_sheet.tsv").exists()  # not taken for a finished download
    assert not (out / "f1" / FILE["file_name"]).exists()
    assert hashlib.md5(keep[0].read_bytes()).hexdigest() == keep[1]
