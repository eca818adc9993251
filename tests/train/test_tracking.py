"""Experiment tracking: each backend gets the settings, one metrics row per epoch and the final
metrics of a tiny run, read back with the backend's own reader; compare and tune log one child
run per model x fold / per trial; bad choices are refused before any data is read."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from omicsformer.config import TrackConfig
from omicsformer.errors import ConfigError, MissingDependencyError
from omicsformer.train import tracking
from omicsformer.train.tracking import check_tracking, final_metrics, flatten

DATA = "synthetic:n_samples=60,n_genes=20,n_modules=1,module_size=5"
EPOCHS = 3
# min-epochs = max-epochs: no early stop, so every run trains EPOCHS epochs; the mlp starts as its
# fitted base, scored first as epoch 0, so its history has EPOCHS + 1 rows
ROWS = EPOCHS + 1
TRAIN = ["--data", DATA, "--max-epochs", EPOCHS, "--min-epochs", EPOCHS]


def _metrics_json(run):
    return json.loads((run / "metrics.json").read_text())


@pytest.mark.slow
def test_csv_logs_one_row_per_epoch_the_settings_and_the_final_metrics(cli, tmp_path):
    run = tmp_path / "run"
    result = cli("train", *TRAIN, "--model", "mlp", "--out", run, "--log", "csv")
    assert result.code == 0, result.err
    rows = pd.read_csv(run / "logs" / "metrics.csv")
    epochs = rows.dropna(subset=["epoch"])
    assert epochs["epoch"].tolist() == [0, 1, 2, 3]
    assert epochs["step"].tolist() == [0, 1, 2, 3]
    assert epochs["val_loss"].notna().all() and epochs["train_loss"].notna().all()
    final = rows.dropna(subset=["final/test_balanced_accuracy"])
    assert len(final) == 1
    test = _metrics_json(run)["test"]
    assert final["final/test_balanced_accuracy"].iloc[0] == pytest.approx(test["balanced_accuracy"])
    params = yaml.safe_load((run / "logs" / "hparams.yaml").read_text())
    assert params["model.name"] == "mlp"
    assert params["train.max_epochs"] == str(EPOCHS)
    assert params["data.source"] == DATA
    assert "model.options.dropout" in params  # the parsed options, defaults included
    assert not any(k.startswith("track.") for k in params)


@pytest.mark.slow
def test_tensorboard_event_files_hold_every_epoch(cli, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = tmp_path / "run"
    logs = tmp_path / "tb"
    result = cli(
        "train", *TRAIN, "--model", "mlp", "--out", run, "--log", "tensorboard", "--log-uri", logs
    )
    assert result.code == 0, result.err
    events = EventAccumulator(str(logs / "run"))  # a shared folder: one subfolder per run
    events.Reload()
    assert [e.step for e in events.Scalars("val_loss")] == [0, 1, 2, 3]
    (final,) = events.Scalars("final/test_balanced_accuracy")
    assert final.value == pytest.approx(_metrics_json(run)["test"]["balanced_accuracy"])
    assert not (run / "logs").exists()  # --log-uri: the logs went there


@pytest.fixture
def mlflow_store(tmp_path, monkeypatch):
    """A SQLite tracking store in tmp_path (artifacts go to ./mlruns: tmp_path too)."""
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    return uri, MlflowClient(uri)


def _runs(client, experiment="omicsformer"):
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment}"
    return client.search_runs([found.experiment_id])


@pytest.mark.slow
def test_mlflow_run_has_params_epoch_history_final_metrics_and_the_run_folder(
    cli, tmp_path, monkeypatch
):
    """Logged to a folder: MLflow 3 refuses its folder store ("maintenance mode"), so
    --log-uri FOLDER is the SQLite store FOLDER/mlflow.db, artifacts in FOLDER/artifacts."""
    pytest.importorskip("mlflow")
    from mlflow.tracking import MlflowClient

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    folder = tmp_path / "tracking"  # made by the command, as MLflow's folder store was
    run = tmp_path / "run"
    result = cli(
        "train", *TRAIN, "--model", "mlp", "--out", run, "--log", "mlflow", "--log-uri", folder
    )
    assert result.code == 0, result.err
    assert "maintenance mode" not in result.err and "database tables" not in result.err
    store, location = tracking.mlflow_store(str(folder))
    assert store == f"sqlite:///{folder / 'mlflow.db'}"
    assert location == (folder / "artifacts").as_uri()
    assert tracking.mlflow_store(folder.as_uri()) == (store, location)  # a file: URI alike
    client = MlflowClient(store)
    (logged,) = _runs(client)
    assert logged.info.status == "FINISHED"
    assert logged.info.run_name == "run"
    assert logged.data.params["model.name"] == "mlp"
    assert logged.data.params["train.max_epochs"] == str(EPOCHS)
    history = client.get_metric_history(logged.info.run_id, "val_loss")
    assert sorted(m.step for m in history) == [0, 1, 2, 3]
    test = _metrics_json(run)["test"]
    assert logged.data.metrics["final/test_balanced_accuracy"] == pytest.approx(
        test["balanced_accuracy"]
    )
    artifacts = {f.path for f in client.list_artifacts(logged.info.run_id)}
    assert {"config.yaml", "metrics.json", "predictions.csv", "model"} <= artifacts
    assert logged.info.artifact_uri.startswith(location) and not (tmp_path / "mlruns").exists()


@pytest.mark.slow
def test_compare_logs_a_parent_and_one_tagged_child_per_model_and_fold(cli, tmp_path, mlflow_store):
    uri, client = mlflow_store
    out = tmp_path / "cmp"
    result = cli(
        "compare",
        *TRAIN,
        "--models",
        "logreg,mlp",
        "-o",
        "logreg.C=0.1",  # no inner search: fast
        "--folds",
        "2",
        "--out",
        out,
        "--log",
        "mlflow",
        "--log-uri",
        uri,
        "--experiment",
        "lab",
    )
    assert result.code == 0, result.err
    runs = _runs(client, "lab")
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    children = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    assert len(runs) == 1 + 2 * 2
    tags = sorted(
        (r.data.tags["model"], r.data.tags["repeat"], r.data.tags["fold"]) for r in children
    )
    assert tags == [(m, "0", f) for m in ("logreg", "mlp") for f in ("0", "1")]
    results = pd.read_csv(out / "results.csv")
    for child in children:
        model, fold = child.data.tags["model"], int(child.data.tags["fold"])
        row = results[(results["model"] == model) & (results["fold"] == fold)].iloc[0]
        assert child.data.metrics["final/test_balanced_accuracy"] == pytest.approx(
            row["balanced_accuracy"]
        )
        assert child.data.params["model.name"] == model
        steps = client.get_metric_history(child.info.run_id, "val_loss")
        assert len(steps) == (ROWS if model == "mlp" else 0)  # a baseline has no epochs
    assert parent.data.params["compare.folds"] == "2"
    assert parent.data.metrics["mean/mlp_balanced_accuracy"] == pytest.approx(
        results[results["model"] == "mlp"]["balanced_accuracy"].mean()
    )
    assert "results.csv" in {f.path for f in client.list_artifacts(parent.info.run_id)}


@pytest.mark.slow
def test_compare_csv_logs_one_folder_per_model_repeat_and_fold(cli, tmp_path):
    out = tmp_path / "cmp"
    result = cli(
        "compare", *TRAIN, "--models", "logreg,mlp", "-o", "logreg.C=0.1", "--folds", "2",
        "--repeats", "2", "--out", out, "--log", "csv",
    )  # fmt: skip
    assert result.code == 0, result.err
    logs = out / "logs"
    for model in ("logreg", "mlp"):
        for r in range(2):
            for f in range(2):
                rows = pd.read_csv(logs / model / f"repeat-{r}" / f"fold-{f}" / "metrics.csv")
                epochs = rows["epoch"].notna().sum() if "epoch" in rows else 0
                assert epochs == (ROWS if model == "mlp" else 0)  # a baseline has no epochs
                assert rows["final/test_balanced_accuracy"].notna().sum() == 1


@pytest.mark.slow
def test_tune_logs_one_child_per_trial_and_the_final_fit_in_the_parent(cli, tmp_path):
    out = tmp_path / "tuned"
    result = cli(
        "tune", *TRAIN, "--model", "mlp", "--trials", "2", "--pruner", "none", "--out", out,
        "--log", "csv",
    )  # fmt: skip
    assert result.code == 0, result.err
    logs = out / "logs"
    trials = pd.read_csv(out / "trials.csv")
    for number in trials["number"]:
        rows = pd.read_csv(logs / f"trial-{number:03d}" / "metrics.csv")
        assert len(rows.dropna(subset=["epoch"])) == ROWS
        value = trials.loc[trials["number"] == number, "value"].iloc[0]
        assert rows["search_balanced_accuracy"].dropna().iloc[0] == pytest.approx(value)
    final = pd.read_csv(logs / "metrics.csv")
    assert final["final/test_balanced_accuracy"].dropna().iloc[0] == pytest.approx(
        _metrics_json(out)["test"]["balanced_accuracy"]
    )


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--log", "wandb"], "invalid choice"),
        (["--log", "mlflow", "--log-uri", "ftp://host/x"], "not an MLflow tracking URI"),
        (["--log", "mlflow", "--log-uri", "sqlite:/x.db"], "sqlite:///PATH.db"),
        (["--log", "mlflow", "--log-uri", "sqlite:///no/such/dir/x.db"], "does not exist"),
        (["--log", "csv", "--log-uri", "http://host"], "is a URI"),
        (["--log-uri", "logs"], "need --log"),
    ],
)
def test_bad_tracking_choices_are_refused_before_any_data_is_read(cli, tmp_path, flags, message):
    result = cli("train", "--data", tmp_path / "absent.csv", "--out", tmp_path / "run", *flags)
    assert result.code == 2
    assert message in result.err
    assert "absent.csv" not in result.err  # refused before the data was looked at
    assert not (tmp_path / "run").exists()


def test_a_missing_package_is_one_line_naming_the_extra(cli, tmp_path, monkeypatch):
    real = tracking.importlib.util.find_spec
    monkeypatch.setattr(
        tracking.importlib.util,
        "find_spec",
        lambda name, *a: None if name.startswith("mlflow") else real(name, *a),
    )
    with pytest.raises(MissingDependencyError, match=r"omicsformer\[tracking\]"):
        check_tracking(TrackConfig(log="mlflow"))
    result = cli("compare", "--data", DATA, "--models", "logreg", "--out", tmp_path / "c",
                 "--log", "mlflow")  # fmt: skip
    assert result.code == 2
    assert "pip install 'omicsformer[tracking]'" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert not (tmp_path / "c").exists()


def test_the_default_mlflow_uri_is_the_environment_then_a_sqlite_file_here(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking.example:5000")
    assert tracking.tracking_uri(TrackConfig(log="mlflow")) == "http://tracking.example:5000"
    assert tracking.tracking_uri(TrackConfig(log="mlflow", log_uri="file:./x")) == "file:./x"
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert tracking.tracking_uri(TrackConfig(log="mlflow")) == f"sqlite:///{tmp_path}/mlflow.db"


def test_flatten_and_final_metrics():
    assert flatten({"a": {"b": 1, "c": [1, 2], "d": None}, "e": True}) == {
        "a.b": "1",
        "a.c": "1,2",
        "e": "true",
    }
    final = final_metrics({"test": {"auroc": 0.75, "n": 12, "confusion": [[1]], "flag": True}})
    assert final == {"final/test_auroc": 0.75, "final/test_n": 12.0}


def test_an_unknown_scheme_or_a_file_as_a_folder_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        tracking.check_mlflow_uri(str(tmp_path / "file"))
    tracking.check_mlflow_uri("postgresql+psycopg2://user@host/db")
    tracking.check_mlflow_uri("https://mlflow.example.org")


@pytest.mark.slow
def test_a_resumed_run_logs_its_whole_history(tmp_path):
    from omicsformer.config import DataConfig, ModelConfig, RunConfig, TrainConfig
    from omicsformer.pipeline import resume_run, train_run

    class Interrupt(KeyboardInterrupt):
        pass

    def stop_after_two(epoch):
        if epoch == 2:
            raise Interrupt

    config = RunConfig(
        data=DataConfig(source=DATA),
        model=ModelConfig(name="mlp"),
        train=TrainConfig(max_epochs=4, min_epochs=4, batch_size=16),
        track=TrackConfig(log="csv"),
    )
    with pytest.raises(Interrupt):
        train_run(config, tmp_path / "cut", on_epoch_end=stop_after_two)
    folder, _ = resume_run(tmp_path / "cut")
    rows = pd.read_csv(folder / "logs" / "metrics.csv")
    assert rows["epoch"].dropna().tolist() == [0, 1, 2, 3, 4]
    assert rows["final/test_balanced_accuracy"].notna().sum() == 1


@pytest.mark.slow
def test_a_shared_csv_folder_never_loses_another_runs_log(cli, tmp_path):
    """Two runs with the same output name and one --log-uri folder: the second is refused in one
    line, and the first run's metrics.csv is left as it was."""
    shared = tmp_path / "logs"
    shared.mkdir()
    flags = ["--model", "mlp", "--log", "csv", "--log-uri", shared]
    first = cli("train", *TRAIN, *flags, "--out", tmp_path / "a" / "run")
    assert first.code == 0, first.err
    log = shared / "run" / "metrics.csv"
    before = log.read_bytes()
    second = cli("train", *TRAIN, *flags, "--out", tmp_path / "b" / "run")
    assert second.code == 2
    errors = [line for line in second.err.splitlines() if "error:" in line]
    assert len(errors) == 1 and "metrics.csv already exists" in errors[0]
    assert "Traceback" not in second.err
    assert log.read_bytes() == before
    assert not (tmp_path / "b" / "run").exists()  # nothing half-written


def test_an_old_folder_store_is_refused_with_the_way_out(cli, tmp_path, monkeypatch):
    old = tmp_path / "mlruns"
    (old / "0").mkdir(parents=True)
    (old / "0" / "meta.yaml").write_text("name: Default\n")
    result = cli("train", "--data", tmp_path / "absent.csv", "--out", tmp_path / "run",
                 "--log", "mlflow", "--log-uri", old)  # fmt: skip
    assert result.code == 2 and len(result.err.splitlines()) == 1
    assert "holds an MLflow folder store" in result.err
    assert f"mlflow migrate-filestore --source {old}" in result.err
    assert sorted(p.name for p in old.rglob("*")) == ["0", "meta.yaml"]  # untouched
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # the user's opt-out: kept as is
    assert tracking.mlflow_store(str(old)) == (str(old), None)
    tracking.check_mlflow_uri(str(old))


def test_mlflow_waits_are_bounded_and_the_environment_restored(monkeypatch):
    names = ("MLFLOW_HTTP_REQUEST_TIMEOUT", "MLFLOW_HTTP_REQUEST_MAX_RETRIES")
    for name in names:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "5")  # the user's: kept
    with tracking.mlflow_wait(3):
        assert [tracking.os.environ[n] for n in names] == ["3", "1"]
        assert tracking.os.environ["MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR"] == "5"
    assert not any(n in tracking.os.environ for n in names)
