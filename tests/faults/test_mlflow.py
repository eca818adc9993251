"""``--log mlflow`` against a hostile tracking server: the store is asked before any data is read,
so every fault is exit 2 and one line that says what the server did, within
``--log-timeout`` (two tries) plus MLflow's jitter, with no output folder and no
``.NAME.partial`` left; a server that fails in the middle of a run leaves none either."""

from __future__ import annotations

import contextlib
import io
import socket
import time

import pytest

from omicsformer.cli import main

pytest.importorskip("mlflow.tracking")  # imported once here: the timings are of the waits

DATA = "synthetic:n_samples=60,n_genes=20,n_modules=1,module_size=5"
# two tries of --log-timeout 1 s, up to 1 s of MLflow's back-off jitter, and the command itself
# (generous for a loaded machine: the default, 2 x 10 s, would still fail it)
BOUND = 2 * 1 + 1 + 8.0
GET_EXPERIMENT = "GET /api/2.0/mlflow/experiments/get-by-name"
NO_EXPERIMENT = (404, {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "no such experiment"})


@pytest.fixture(scope="module", autouse=True)
def _warm(tmp_path_factory):
    """One refused command first, so that the timings below are of waits, not of the first
    import of the models and of MLflow's client."""
    folder = tmp_path_factory.mktemp("warm")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with contextlib.redirect_stderr(io.StringIO()):
        main(["train", "--data", str(folder / "absent.csv"), "--model", "logreg",
              "--out", str(folder / "run"), "--log", "mlflow",
              "--log-uri", f"http://127.0.0.1:{port}"])  # fmt: skip


@pytest.fixture(autouse=True)
def _mlflow_defaults(monkeypatch, tmp_path):
    """MLflow's own settings only: no tracking URI or retry settings from the environment."""
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_HTTP_REQUEST_MAX_RETRIES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def train(cli, tmp_path, uri, data=None):
    start = time.monotonic()
    result = cli(
        "train", "--data", data or tmp_path / "absent.csv", "--model", "logreg",
        "-o", "C=1", "-o", "inner_folds=2", "--out", tmp_path / "run",
        "--log", "mlflow", "--log-uri", uri, "--log-timeout", "1",
    )  # fmt: skip
    return result, time.monotonic() - start


def assert_nothing_left(tmp_path):
    assert not (tmp_path / "run").exists()
    assert not list(tmp_path.glob(".run.partial"))


@pytest.mark.parametrize(
    ("fault", "said"),
    [
        (
            "hang",
            "the server did not answer within 1 s (twice); is it up? Wait longer with "
            "--log-timeout SECONDS",
        ),
        ("reset", "the server reset the connection"),
        ("cut", "the server cut its answer short"),
        ("500", "the server answered INTERNAL_ERROR: internal error"),
        ("badjson", "the server's answer is not MLflow's JSON; is it an MLflow server?"),
    ],
)
def test_a_faulty_server_is_one_line_before_the_data_is_read(cli, hostile, tmp_path, fault, said):
    hostile.fault = fault
    result, seconds = train(cli, tmp_path, hostile.url)
    assert result.code == 2
    assert result.err.splitlines() == [
        f"omicsformer: error: MLflow tracking URI {hostile.url}: {said}"
    ], result.err
    assert "absent.csv" not in result.err  # refused before the data was looked at
    assert seconds < BOUND
    assert_nothing_left(tmp_path)


def test_a_closed_port_is_refused_in_one_line(cli, tmp_path, closed_port):
    uri = f"http://127.0.0.1:{closed_port}"
    result, seconds = train(cli, tmp_path, uri)
    assert result.code == 2
    assert result.err.splitlines() == [
        f"omicsformer: error: MLflow tracking URI {uri}: connection refused; is the MLflow "
        "server running there?"
    ]
    assert seconds < BOUND
    assert_nothing_left(tmp_path)


@pytest.mark.slow
def test_a_server_that_stops_answering_mid_run_leaves_no_partial_folder(cli, hostile, tmp_path):
    """The check passes (no experiment yet), the data is read, then creating the experiment
    hangs: one error line within the bound, and the output being built is removed."""
    hostile.fault = "hang"
    hostile.routes = {GET_EXPERIMENT: NO_EXPERIMENT}
    result, seconds = train(cli, tmp_path, hostile.url, data=DATA)
    assert result.code == 2
    errors = [line for line in result.err.splitlines() if "error" in line]
    assert errors == [
        f"omicsformer: error: MLflow tracking URI {hostile.url}: the server did not answer "
        "within 1 s (twice); is it up? Wait longer with --log-timeout SECONDS"
    ], result.err
    assert "Traceback" not in result.err
    assert any(r.startswith("POST /api/2.0/mlflow/experiments/create") for r in hostile.seen)
    assert seconds < BOUND + 5  # the data is read and split first; one try of a POST
    assert_nothing_left(tmp_path)
