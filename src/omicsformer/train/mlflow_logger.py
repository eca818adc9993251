"""An MLflow logger for Lightning Fabric (Fabric ships CSV and TensorBoard loggers only).

One :class:`MLflowLogger` is one MLflow run, created on construction through the maintained
``mlflow`` client (``MlflowClient``: no global active run, so several runs, nested ones
included, can be open at once). A run is nested under another by the ``mlflow.parentRunId``
tag, which the MLflow UI shows as a tree. Only the main process logs (``rank_zero_only``).
Every request runs inside ``wait`` (bounded waits, see ``tracking.mlflow_wait``), and any
failure of the store becomes one :class:`RunError` line (``failure`` words it); ending a run
that already failed never raises over the first error.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from lightning_fabric.loggers import Logger
from lightning_fabric.utilities.rank_zero import rank_zero_only

from omicsformer.errors import RunError

BATCH = 100  # MLflow takes at most 100 params and 1000 metrics per log_batch call
MAX_PARAM = 6000  # characters of a parameter value MLflow stores


class MLflowLogger(Logger):
    """Log to MLflow run ``run_name`` of ``experiment`` (created when missing, with its
    artifacts at ``artifact_location`` if given) at ``tracking_uri``; ``parent_run_id`` nests it
    under that run; ``tags`` are set on it. ``wait`` bounds each request's waits; ``failure``
    turns an exception of the store into the one line the user sees."""

    def __init__(
        self,
        tracking_uri: str,
        experiment: str,
        run_name: str,
        *,
        tags: dict[str, str] | None = None,
        parent_run_id: str | None = None,
        artifact_location: str | None = None,
        wait: Callable[[], AbstractContextManager[Any]] = contextlib.nullcontext,
        failure: Callable[[BaseException], str] | None = None,
    ) -> None:
        from mlflow.tracking import MlflowClient

        self._wait = wait
        self._failure = failure or (lambda exc: f"MLflow at {tracking_uri}: {exc}")
        with self._request():
            self._client = MlflowClient(tracking_uri)
            found = self._client.get_experiment_by_name(experiment)
            experiment_id = (
                found.experiment_id
                if found
                else self._client.create_experiment(experiment, artifact_location=artifact_location)
            )
            run_tags = {**(tags or {}), "mlflow.runName": run_name}
            if parent_run_id is not None:
                run_tags["mlflow.parentRunId"] = parent_run_id
            self._run = self._client.create_run(experiment_id, run_name=run_name, tags=run_tags)
        self._run_name = run_name

    @contextlib.contextmanager
    def _request(self) -> Iterator[None]:
        """MLflow requests inside wait as bounded; a failure is one :class:`RunError` line."""
        try:
            with self._wait():
                yield
        except Exception as exc:  # unreachable server, refused credentials, damaged store
            raise RunError(" ".join(self._failure(exc).split())) from None

    @property
    def name(self) -> str:
        return self._run_name

    @property
    def version(self) -> str:
        return self.run_id

    @property
    def run_id(self) -> str:
        return self._run.info.run_id

    @property
    def experiment(self) -> Any:
        return self._client

    @rank_zero_only
    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        items = [Metric(k, float(v), now, step or 0) for k, v in metrics.items()]
        with self._request():
            for i in range(0, len(items), BATCH):
                self._client.log_batch(self.run_id, metrics=items[i : i + BATCH])

    @rank_zero_only
    def log_hyperparams(self, params: dict[str, Any], *args: Any, **kwargs: Any) -> None:
        from mlflow.entities import Param

        items = [Param(k, str(v)[:MAX_PARAM]) for k, v in params.items()]
        with self._request():
            for i in range(0, len(items), BATCH):
                self._client.log_batch(self.run_id, params=items[i : i + BATCH])

    @rank_zero_only
    def log_artifacts(self, folder: Path, artifact_path: str | None = None) -> None:
        """Copy every file under ``folder`` to the run's artifacts (under ``artifact_path``)."""
        with self._request():
            self._client.log_artifacts(self.run_id, str(folder), artifact_path)

    @rank_zero_only
    def finalize(self, status: str) -> None:
        state = {"success": "FINISHED", "failed": "FAILED"}.get(status, "KILLED")
        try:
            with self._request():
                self._client.set_terminated(self.run_id, state)
        except RunError:
            if status != "failed":  # a failing command reports its own error, not this one
                raise
