"""Experiment tracking through Fabric's loggers: ``--log csv|tensorboard|mlflow``.

A :class:`TrackedRun` holds the loggers of one fit. The training loop hands every per-epoch
history row to them (``fabric.log_dict``); the caller logs the settings (the whole
``RunConfig``, flattened to ``section.name`` keys, with the model's parsed options), the final
metrics of every part (``final/test_auc``, ...: the figures of ``metrics.json``) and, for
MLflow, the published output folder as the run's artifacts. Baselines (no epochs) log settings
and final metrics only.

A :class:`Tracking` is one command's set of runs. ``train`` has one run. ``compare`` and
``tune`` have a parent (the comparison, or the tuned run with its final fit) and one child per
model x repetition x fold, or per trial:

- csv / tensorboard: the parent writes at the root of the log folder (``logs/`` inside the
  output folder by default, else ``LOG_URI/NAME/``), each child in a subfolder
  (``logs/mlp/repeat-0/fold-1/``, ``logs/trial-003/``);
- mlflow: one experiment (``--experiment``, default ``omicsformer``), a parent run named after
  the output folder, and child runs nested under it (the ``mlflow.parentRunId`` tag) and
  tagged ``model``, ``variant``, ``repeat``, ``fold`` (or ``trial``).

The tracking URI of MLflow is ``--log-uri``, else ``$MLFLOW_TRACKING_URI``, else the SQLite
store ``mlflow.db`` in the current folder (MLflow 3's own default, fixed here so that it does
not depend on the MLflow version; ``mlflow ui`` opened in that folder finds it). Artifacts go
where the experiment says: for a new experiment in a local store, ``./mlruns``. A folder (a
path or a ``file:`` URI) is the SQLite store ``FOLDER/mlflow.db`` with the artifacts of new
experiments in ``FOLDER/artifacts`` (:func:`mlflow_store`): MLflow 3 keeps its folder store in
maintenance mode and refuses to open it unless ``MLFLOW_ALLOW_FILE_STORE`` is set (then the
folder is handed to MLflow as it is).

Every request to an MLflow server waits at most ``--log-timeout`` seconds to connect and as
long for an answer, with one retry (:func:`mlflow_wait`, MLflow's own environment variables,
for the requests of this process only; a user's ``MLFLOW_HTTP_REQUEST_MAX_RETRIES`` and
back-off stay). :func:`check_tracking` asks the store for the experiment before any data is
read, so an unreachable, hanging or damaged store is one line before the output folder is made.
"""

from __future__ import annotations

import dataclasses
import http.client
import importlib.util
import logging
import math
import os
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from omicsformer.config import TrackConfig, value_text
from omicsformer.errors import ConfigError, MissingDependencyError, RunError
from omicsformer.fileio import write_yaml
from omicsformer.ranks import is_main_process

DEFAULT_EXPERIMENT = "omicsformer"
DEFAULT_STORE = "mlflow.db"  # MLflow 3's own local default, made explicit (2.x used ./mlruns)
PACKAGES = {"tensorboard": ("tensorboard", "tensorboardX"), "mlflow": ("mlflow",)}
# the tracking-store schemes MLflow accepts (a database URL may name its driver: postgresql+psycopg)
MLFLOW_SCHEMES = {
    "file",
    "sqlite",
    "postgresql",
    "mysql",
    "mssql",
    "http",
    "https",
    "databricks",
    "databricks-uc",
    "uc",
}


def check_tracking(cfg: TrackConfig) -> None:
    """Refuse, before any data is read, a tracker whose package is missing or whose
    ``log_uri`` is not a folder (csv, tensorboard) or a tracking URI (mlflow)."""
    if cfg.log == "none":
        if cfg.log_uri or cfg.experiment:
            raise ConfigError("--log-uri and --experiment need --log csv|tensorboard|mlflow")
        return
    modules = PACKAGES.get(cfg.log, ())
    if modules and not any(importlib.util.find_spec(m) for m in modules):
        raise MissingDependencyError(modules[0], "tracking", feature=f"--log {cfg.log}")
    if cfg.log == "mlflow":
        check_mlflow_uri(tracking_uri(cfg))
        if is_main_process():  # the only one that logs
            check_mlflow_store(cfg)
    elif cfg.log_uri and "://" in cfg.log_uri:
        raise ConfigError(f"--log {cfg.log} writes to a folder; --log-uri {cfg.log_uri} is a URI")
    if cfg.experiment is not None and not cfg.experiment.strip():
        raise ConfigError("--experiment must not be empty")


def tracking_uri(cfg: TrackConfig) -> str:
    """Where MLflow runs go: ``--log-uri``, ``$MLFLOW_TRACKING_URI``, or MLflow's default."""
    if cfg.log_uri:
        return cfg.log_uri
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    return f"sqlite:///{(Path.cwd() / DEFAULT_STORE).absolute()}"


def check_mlflow_uri(uri: str) -> None:
    """A tracking URI MLflow can open: a known scheme; a local store whose folder exists."""
    parsed = urlparse(uri)
    scheme = parsed.scheme.split("+")[0].lower()
    if len(scheme) == 1:  # a Windows drive letter: a local path
        scheme = ""
    if scheme and scheme not in MLFLOW_SCHEMES:
        raise ConfigError(
            f"--log-uri {uri}: not an MLflow tracking URI (schemes: "
            f"{', '.join(sorted(MLFLOW_SCHEMES))}, or a local folder)"
        )
    if scheme == "sqlite":
        if not uri.lower().startswith("sqlite:///") or uri.rstrip("/").lower() == "sqlite:":
            raise ConfigError(f"--log-uri {uri}: write a SQLite store as sqlite:///PATH.db")
        path = Path(uri[len("sqlite:///") :])
        if path.name and not path.parent.is_dir() and str(path) != ":memory:":
            above = next((p for p in path.parents if p.exists()), None)
            if above is not None and not above.is_dir():
                raise ConfigError(f"--log-uri {uri}: {above} is a file, not a folder")
            raise ConfigError(f"--log-uri {uri}: folder {path.parent} does not exist")
    elif scheme in ("", "file"):
        path = _local_folder(uri)
        if path is not None and path.exists() and not path.is_dir():
            raise ConfigError(f"--log-uri {uri}: {path} is a file, not a tracking folder")
        if path is not None and not _file_store_allowed() and _is_file_store(path):
            raise ConfigError(
                f"--log-uri {uri}: {path} holds an MLflow folder store, which MLflow 3 opens "
                "only with MLFLOW_ALLOW_FILE_STORE=true; move its runs into a database with "
                f"`mlflow migrate-filestore --source {path} --target "
                f"sqlite:///{path / DEFAULT_STORE}` (then --log-uri {uri} uses it), or give a "
                "new folder"
            )
    elif scheme in ("http", "https") and not parsed.netloc:
        raise ConfigError(f"--log-uri {uri}: no host")


def _local_folder(uri: str) -> Path | None:
    """The folder a tracking URI names (a path or a ``file:`` URI), absolute; else None."""
    parsed = urlparse(uri)
    scheme = parsed.scheme.lower()
    if len(scheme) == 1:  # a Windows drive letter
        return Path(uri).absolute()
    if scheme == "file":
        return Path(url2pathname(parsed.path)).absolute()
    return Path(uri).absolute() if not scheme else None


def _file_store_allowed() -> bool:
    return os.environ.get("MLFLOW_ALLOW_FILE_STORE", "").strip().lower() in ("true", "1")


def _is_file_store(folder: Path) -> bool:
    """An MLflow folder store (``0/meta.yaml``, ``.trash``) not yet moved into ``mlflow.db``."""
    if not folder.is_dir() or (folder / DEFAULT_STORE).exists():
        return False
    experiments = (d for d in folder.iterdir() if d.name.isdigit() and d.is_dir())
    return (folder / ".trash").is_dir() or any((d / "meta.yaml").is_file() for d in experiments)


def mlflow_store(uri: str) -> tuple[str, str | None]:
    """The store MLflow opens for tracking URI ``uri``, and where a new experiment keeps its
    artifacts (None: MLflow's choice).

    A folder (a path or a ``file:`` URI) becomes the SQLite store ``FOLDER/mlflow.db``, its
    artifacts ``FOLDER/artifacts``: MLflow 3's folder store is in maintenance mode and refuses
    to open unless ``MLFLOW_ALLOW_FILE_STORE`` is true, in which case ``uri`` is kept.
    """
    folder = _local_folder(uri)
    if folder is None or _file_store_allowed():
        return uri, None
    return f"sqlite:///{folder / DEFAULT_STORE}", (folder / "artifacts").as_uri()


MLFLOW_RETRIES = 1  # one retry of a failed request, unless MLFLOW_HTTP_REQUEST_MAX_RETRIES says


@contextmanager
def mlflow_wait(seconds: int) -> Iterator[None]:
    """Bound MLflow's HTTP requests made inside: ``seconds`` to connect and as long for an
    answer, one retry after about a second (MLflow reads these environment variables on every
    request; its defaults wait 120 s a try, 7 retries, with back-off). Retries and back-off the
    user set stay; the process environment is restored on exit."""
    bounds = {
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(seconds),
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": os.environ.get(
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(MLFLOW_RETRIES)
        ),
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": os.environ.get(
            "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1"
        ),
    }
    before = {name: os.environ.get(name) for name in bounds}
    os.environ.update(bounds)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


_ANSWERED: set[tuple[str, str]] = set()  # (store, experiment) that answered in this process


def check_mlflow_store(cfg: TrackConfig) -> None:
    """Open the MLflow store of ``cfg`` and ask it for the experiment, within ``log_timeout``:
    an unreachable, hanging, refusing or damaged store is one :class:`RunError` line, before any
    data is read (a local store is created here, as the run would). Asked once per process (the
    command line asks before its heavy imports, the run again)."""
    from mlflow.tracking import MlflowClient

    uri = tracking_uri(cfg)
    store, _ = mlflow_store(uri)
    experiment = cfg.experiment or DEFAULT_EXPERIMENT
    if (store, experiment) in _ANSWERED:
        return
    folder = _local_folder(uri)
    # a new SQLite store says at INFO level that it creates its tables: not worth two lines
    chatty = logging.getLogger("mlflow.store.db.utils")
    level = chatty.level
    chatty.setLevel(logging.WARNING)
    try:
        if folder is not None and store != uri:
            folder.mkdir(parents=True, exist_ok=True)  # as MLflow's folder store did
        with mlflow_wait(cfg.log_timeout):
            MlflowClient(store).get_experiment_by_name(experiment)
    except Exception as exc:  # any failure of the store is the user's to fix: one line
        raise RunError(mlflow_failure(uri, exc, cfg.log_timeout)) from None
    finally:
        chatty.setLevel(level)
    _ANSWERED.add((store, experiment))


def _causes(exc: BaseException) -> list[BaseException]:
    """``exc``, its causes and contexts, and exceptions held in their arguments (urllib3 wraps
    a reset connection in a ProtocolError's args)."""
    found: list[BaseException] = []
    stack: list[Any] = [exc]
    while stack:
        item = stack.pop(0)
        if not isinstance(item, BaseException) or any(item is f for f in found):
            continue
        found.append(item)
        stack += [item.__cause__, item.__context__, *item.args]
    return found


def mlflow_failure(uri: str, exc: BaseException, timeout: int) -> str:
    """One line for an MLflow store that failed: what the server or the store did."""
    where = f"MLflow tracking URI {uri}"
    causes = _causes(exc)

    def has(*kinds: type) -> bool:
        return any(isinstance(c, kinds) for c in causes)

    # refused and unknown hosts first: urllib3's NewConnectionError is a ConnectTimeoutError
    if has(ConnectionRefusedError):
        return f"{where}: connection refused; is the MLflow server running there?"
    if has(socket.gaierror):
        return f"{where}: unknown host"
    timeouts: tuple[type, ...] = (TimeoutError, socket.timeout)
    incomplete: tuple[type, ...] = (http.client.IncompleteRead,)
    try:
        import requests
        import urllib3

        timeouts += (requests.exceptions.Timeout, urllib3.exceptions.TimeoutError)
        incomplete += (urllib3.exceptions.IncompleteRead, requests.exceptions.ChunkedEncodingError)
    except ImportError:  # pragma: no cover - mlflow depends on both
        pass
    if has(*timeouts):
        return (
            f"{where}: the server did not answer within {timeout} s (twice); is it up? Wait "
            "longer with --log-timeout SECONDS"
        )
    if has(*incomplete):
        return f"{where}: the server cut its answer short"
    if has(ConnectionResetError):
        return f"{where}: the server reset the connection"
    text = " ".join(str(exc).split()) or type(exc).__name__
    if "not in a valid JSON format" in text:
        return f"{where}: the server's answer is not MLflow's JSON; is it an MLflow server?"
    database = next((c for c in causes if type(c).__name__ == "DatabaseError"), None)
    if database is not None:  # sqlalchemy's or the driver's: the driver's words, without SQL
        reason = " ".join(str(getattr(database, "orig", database)).split())
        return (
            f"{where}: cannot be opened as an MLflow database ({reason}): damaged, or another "
            "kind of file"
        )
    if type(exc).__name__ == "RestException":  # the server's own error, as JSON
        return f"{where}: the server answered {text[:300]}"
    return f"{where}: {text[:300]}"


def flatten(tree: Any, prefix: str = "") -> dict[str, str]:
    """Nested mappings as ``a.b.c`` keys with text values (lists as comma lists; None left out)."""
    if dataclasses.is_dataclass(tree) and not isinstance(tree, type):
        tree = dataclasses.asdict(tree)
    if not isinstance(tree, dict):
        return {} if tree is None else {prefix: value_text(tree)}
    found: dict[str, str] = {}
    for key, value in tree.items():
        found.update(flatten(value, f"{prefix}.{key}" if prefix else str(key)))
    return found


def run_params(config: Any, model: str, options: Any) -> dict[str, str]:
    """What a tracked fit logs as its settings: the whole ``RunConfig`` flattened, with the
    model fitted and its parsed options (defaults included) in place of the given ones."""
    tree = config.to_dict()
    tree["model"] = {**tree["model"], "name": model, "options": options}
    tree.pop("track", None)  # where the run is logged is not a setting of the run
    return flatten(tree)


def final_metrics(metrics: dict[str, dict[str, Any]]) -> dict[str, float]:
    """The numbers of metrics.json (``{part: {name: value}}``) as ``final/PART_NAME``."""
    return {
        f"final/{part}_{name}": float(value)
        for part, values in metrics.items()
        for name, value in values.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


def mean_metrics(results: Any, metrics: list[str]) -> dict[str, float]:
    """A comparison's mean test figures per model (results.csv rows), as ``mean/MODEL_METRIC``:
    what its parent run logs."""
    means = results.groupby("model", sort=False)[metrics].mean()
    return {
        f"mean/{_safe(model)}_{name}": float(value)
        for model, row in means.iterrows()
        for name, value in row.items()
    }


def _safe(part: str) -> str:
    """A label as a folder name: ``mlp (tuned)`` -> ``mlp-tuned``."""
    return re.sub(r"[^A-Za-z0-9_.=-]+", "-", part).strip("-") or "run"


class TrackedRun:
    """The Fabric loggers of one tracked fit (none when tracking is off)."""

    def __init__(self, loggers: list[Any]) -> None:
        self.loggers = loggers
        self._open = list(loggers)

    def log_params(self, params: dict[str, Any]) -> None:
        for logger in self.loggers:
            logger.log_hyperparams(params)

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        for logger in self.loggers:
            logger.log_metrics(metrics, step=step)

    def log_fit(self, config: Any, result: Any) -> None:
        """The settings and final metrics of a fit (``cohort.FitResult``)."""
        if not self.loggers:
            return
        self.log_params(run_params(config, result.spec.name, result.options))
        final = final_metrics(result.metrics)
        final["final/fit_seconds"] = float(result.fit_seconds)
        if "best_epoch" in result.fitted:
            final["final/best_epoch"] = float(result.fitted["best_epoch"])
        epochs = result.fitted.get("epochs_run")
        self.log_metrics({k: v for k, v in final.items() if not math.isinf(v)}, step=epochs)

    def finish_files(self, status: str = "success") -> None:
        """Close the loggers that write files (csv, tensorboard): before their folder moves."""
        for logger in [g for g in self._open if not hasattr(g, "log_artifacts")]:
            logger.finalize(status)
            self._open.remove(logger)

    def finish(self, status: str = "success", artifacts: Path | None = None) -> None:
        """Close every logger still open; MLflow runs get ``artifacts`` (a folder) first."""
        for logger in list(self._open):
            if artifacts is not None and status == "success" and hasattr(logger, "log_artifacts"):
                try:
                    logger.log_artifacts(artifacts)
                except RunError as exc:  # the output is published: say where it is
                    logger.finalize("failed")
                    self._open.remove(logger)
                    raise RunError(f"{exc}; the output itself is complete in {artifacts}") from None
            logger.finalize(status)
            self._open.remove(logger)

    def __enter__(self) -> TrackedRun:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        self.finish("success" if exc_type is None else "failed")


class Tracking:
    """One command's tracked runs: ``root`` (the parent, or a train run's only run) and its
    children (``child``), logged to ``cfg.log`` under ``folder`` (the output folder being
    built) or ``cfg.log_uri``; ``name`` the output's name, ``kind`` the command."""

    def __init__(self, cfg: TrackConfig, folder: Path | None, name: str, kind: str) -> None:
        self.cfg = cfg
        self.name = name
        self.kind = kind
        # a shared --log-uri folder holds one subfolder per output, named after it
        self.folder = Path(cfg.log_uri) / name if cfg.log_uri else (folder or Path(".")) / "logs"
        self.root = self._open([], {"omicsformer.command": kind})
        self._children: list[TrackedRun] = []

    @property
    def on(self) -> bool:
        return self.cfg.log != "none"

    def child(self, parts: list[str], tags: dict[str, Any]) -> TrackedRun:
        """A run nested under the root: in subfolder ``parts`` (csv, tensorboard), or an MLflow
        child run named by ``parts`` and tagged ``tags``."""
        run = self._open([_safe(str(p)) for p in parts], tags)
        self._children.append(run)
        return run

    def __enter__(self) -> Tracking:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        """On a failure, end every run still open as failed (the root included)."""
        if exc_type is not None:
            for run in [*self._children, self.root]:
                run.finish("failed")

    def _open(self, parts: list[str], tags: dict[str, Any]) -> TrackedRun:
        log = self.cfg.log
        if log == "none":
            return TrackedRun([])
        if log == "mlflow":
            from omicsformer.train.mlflow_logger import MLflowLogger

            parent = self.root.loggers[0].run_id if parts else None
            uri = tracking_uri(self.cfg)
            store, artifacts = mlflow_store(uri)
            logger = MLflowLogger(
                store,
                self.cfg.experiment or DEFAULT_EXPERIMENT,
                " ".join([self.name, *parts]) if parts else self.name,
                tags={k: str(v) for k, v in tags.items()},
                parent_run_id=parent,
                artifact_location=artifacts,
                failure=lambda exc: mlflow_failure(uri, exc, self.cfg.log_timeout),
                wait=lambda: mlflow_wait(self.cfg.log_timeout),
            )
            return TrackedRun([logger])
        where = "/".join(parts)
        if log == "csv":
            # only logs inside the output being built are ours to replace (a resumed run)
            own = not self.cfg.log_uri
            return TrackedRun([_csv_logger(self.folder, where, own=own)])
        from lightning_fabric.loggers import TensorBoardLogger

        return TrackedRun([TensorBoardLogger(root_dir=self.folder, name=where, version="")])


def _csv_logger(root: Path, where: str, *, own: bool) -> Any:
    """Fabric's CSVLogger (``metrics.csv``: one row per epoch), which also writes the settings
    to ``hparams.yaml`` (Fabric's own refuses hyper-parameters). ``own``: ``root`` is inside the
    output folder being built, so an earlier attempt's metrics.csv there is ours to replace; in a
    shared ``--log-uri`` folder an existing one is refused, never deleted."""
    from lightning_fabric.loggers import CSVLogger

    class CSVWithParams(CSVLogger):
        def log_hyperparams(self, params: dict[str, Any], *args: Any, **kwargs: Any) -> None:
            folder = Path(self.log_dir)
            folder.mkdir(parents=True, exist_ok=True)
            write_yaml(folder / "hparams.yaml", dict(params))

    old = root / where / "metrics.csv"
    if old.is_file():
        if not own:
            raise RunError(
                f"{old} already exists; choose another --log-uri folder or --out name, or remove it"
            )
        old.unlink()  # an interrupted attempt's: the resumed run logs its whole history again
    return CSVWithParams(root_dir=root, name=where, version="")
