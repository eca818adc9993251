"""Nothing lost, nothing silent: what a hostile tester tried on the command line.

Every case here once ended in lost data, a hang, a traceback or a silent wrong result. Each user
error must now end in exactly one ``omicsformer: error:`` line on stderr, exit code 2, and no
output written.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from omicsformer.fileio import MANIFEST, _write_manifest
from tests.conftest import FAST_LOGREG


def one_error(result, *fragments: str) -> str:
    """Assert exit 2 and exactly one error line holding every fragment; anything else on
    stderr may only be omicsformer's own one-line notes (no traceback, no warning blocks)."""
    assert result.code == 2, result.err
    lines = result.err.strip().splitlines()
    assert all(line.startswith("omicsformer: ") for line in lines), result.err
    errors = [line for line in lines if line.startswith("omicsformer: error: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.err
    for fragment in fragments:
        assert fragment in errors[0], (fragment, errors[0])
    return errors[0]


def data_args(files) -> list:
    return ["--data", files["csv"], "--labels", files["labels"], "--target", "label"]


def train(cli, files, out, *extra):
    return cli("train", *data_args(files), *FAST_LOGREG, "--out", out, *extra)


def console(*args: object, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "omicsformer.cli", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


# ----------------------------------------------------------------------------------- data loss
def test_force_and_demo_never_replace_a_users_folder(cli, tiny_files, tmp_path):
    users = tmp_path / "my_project"
    users.mkdir()
    (users / "notes.md").write_text("three years of notes")
    (users / "data.csv").write_text("a,b\n1,2\n")
    for result in (
        train(cli, tiny_files, users, "--force"),
        cli("demo", "--out", users),
        cli("compare", *data_args(tiny_files), "--models", "logreg", "--out", users, "--force"),
    ):
        one_error(result, "is not an omicsformer output folder", "never replaces it")
    assert sorted(p.name for p in users.iterdir()) == ["data.csv", "notes.md"]
    assert (users / "notes.md").read_text() == "three years of notes"


@pytest.mark.slow
def test_force_replaces_a_run_folder(cli, tiny_files, tmp_path):
    assert train(cli, tiny_files, tmp_path / "run", "--seed", "1").code == 0
    one_error(train(cli, tiny_files, tmp_path / "run"), "already exists; use --force")
    assert train(cli, tiny_files, tmp_path / "run", "--seed", "2", "--force").code == 0
    config = (tmp_path / "run" / "config.yaml").read_text()
    assert "seed: 2" in config and (tmp_path / "run" / MANIFEST).is_file()


def neural_args(files, out) -> list:
    return [
        "train",
        *data_args(files),
        "--model",
        "mlp",
        "--max-epochs",
        "100000",
        "--patience",
        "100000",
        "--out",
        out,
    ]


@pytest.mark.slow
def test_a_second_writer_is_refused_and_the_first_finishes(cli, tiny_files, tmp_path):
    """A real concurrent writer: a training process is busy in .run.partial when a second
    command asks for the same --out (even with --force). The second runs in this process: the
    lock is the other process's either way, and a console start would cost seconds of a core
    while the first keeps training."""
    out = tmp_path / "run"
    log = tmp_path / "first.err"  # a file, not an unread pipe that could fill and block it
    with log.open("w") as err:  # the child keeps its own copy of the descriptor
        first = subprocess.Popen(
            [sys.executable, "-m", "omicsformer.cli", *map(str, neural_args(tiny_files, out))],
            stdout=subprocess.DEVNULL,
            stderr=err,
            # a suite started in the background by a non-interactive shell ignores SIGINT, and
            # a child would inherit that (Python then installs no KeyboardInterrupt handler)
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    checkpoint = tmp_path / ".run.partial" / "checkpoint" / "train_state.pt"
    try:
        deadline = time.monotonic() + 120
        while not checkpoint.exists():
            assert first.poll() is None and time.monotonic() < deadline, "first writer not running"
            time.sleep(0.2)
        second = cli(*neural_args(tiny_files, out), "--force")  # even --force waits
        assert second.code == 2, second.err
        assert "another omicsformer command is writing" in second.err
        assert "Traceback" not in second.err
        assert checkpoint.exists(), "the refused writer removed the first one's checkpoint"
        first.send_signal(2)  # SIGINT: the first writer stops, keeping its checkpoint
        try:
            code = first.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the first writer ignored SIGINT for 60 s:\n{log.read_text()}")
        assert code == 130, log.read_text()[-2000:]
    finally:
        if first.poll() is None:
            first.kill()
    assert "continue it with: omicsformer train --resume" in log.read_text()
    assert checkpoint.exists()


@pytest.mark.slow
def test_an_interrupted_run_is_not_discarded_without_force(cli, tiny_files, tmp_path, monkeypatch):
    out = tmp_path / "run"
    args = [*data_args(tiny_files), "--model", "mlp", "--max-epochs", "4", "--out", out]

    def stop_after_two(epoch: int) -> None:
        if epoch == 2:
            raise KeyboardInterrupt

    import omicsformer.pipeline as pipeline

    original = pipeline.train_run

    def interrupted(*a, **k):
        return original(*a, **k, on_epoch_end=stop_after_two)

    with monkeypatch.context() as patch:
        patch.setattr(pipeline, "train_run", interrupted)
        assert cli("train", *args).code == 130
    partial = tmp_path / ".run.partial"
    assert (partial / "checkpoint" / "train_state.pt").exists()
    one_error(cli("train", *args), "interrupted run", "--resume", "--force")
    # wherever the interrupted run is met, it is called interrupted and --resume is named
    # (issue 24: `.run.partial` was "damaged (no file checksums)")
    resume = (
        "its training was interrupted (.run.partial keeps the finished epochs); continue it "
        f"with: omicsformer train --resume {out}"
    )
    data = ["--data", tiny_files["csv"]]
    for command in (
        ["predict", out, *data, "--out", tmp_path / "p.csv"],
        ["embed", out, *data, "--out", tmp_path / "e.h5ad"],
        ["interpret", out, *data, "--out", tmp_path / "i"],
        ["evaluate", out, *data_args(tiny_files)],
        ["report", out],
    ):
        one_error(cli(*command), f"{out}: never finished: {resume}")
    for command in (["predict", partial, *data, "--out", tmp_path / "p.csv"], ["report", partial]):
        one_error(
            cli(*command),
            f"{partial}: the unfinished folder of {out}, not a run folder made by `omicsformer "
            f"train`: {resume}",
        )
    one_error(
        cli("train", "--resume", partial),
        f"{partial} is the unfinished folder omicsformer builds {out} in; give --resume {out}",
    )
    assert (partial / "checkpoint" / "train_state.pt").exists()
    assert cli("train", "--resume", out).code == 0
    assert (out / "model" / "weights.safetensors").exists() and not partial.exists()


def test_predict_and_evaluate_never_overwrite_a_file_silently(cli, tiny_files, tmp_path):
    assert train(cli, tiny_files, tmp_path / "run").code == 0
    mine = tmp_path / "mine.csv"
    mine.write_text("my own table\n")
    one_error(
        cli("predict", tmp_path / "run", "--data", tiny_files["csv"], "--out", mine),
        "already exists; use --force",
    )
    one_error(
        cli("evaluate", tmp_path / "run", *data_args(tiny_files), "--out", mine),
        "already exists; use --force",
    )
    assert mine.read_text() == "my own table\n"
    forced = cli("predict", tmp_path / "run", "--data", tiny_files["csv"], "--out", mine, "--force")
    assert forced.code == 0 and len(pd.read_csv(mine)) == 60


# --------------------------------------------------------------------------- argument ranges
@pytest.mark.slow
def test_compare_with_one_fold_stops_at_once_instead_of_hanging(tiny_files, tmp_path):
    start = time.monotonic()
    for folds in ("1", "0", "-3"):
        result = console(
            "compare",
            *data_args(tiny_files),
            "--models",
            "logreg",
            "--folds",
            folds,
            "--out",
            tmp_path / "c",
            timeout=60,
        )
        assert result.returncode == 2 and "--folds: must be at least 2" in result.stderr
        assert result.stderr.count("\n") == 1
    assert time.monotonic() - start < 60
    assert not (tmp_path / "c").exists()


def test_the_library_refuses_one_fold_too():
    from omicsformer.data.splits import kfold_splits
    from omicsformer.errors import ConfigError

    with pytest.raises(ConfigError, match="at least 2 folds"):
        kfold_splits(np.array([0, 1] * 10), folds=1, val_fraction=0.0)


@pytest.mark.parametrize(
    ("command", "args", "fragment"),
    [
        ("train", ["--max-epochs", "0"], "--max-epochs: must be at least 1"),
        ("train", ["--batch-size", "-8"], "--batch-size: must be at least 1"),
        ("train", ["--lr", "0"], "--lr: must be greater than 0"),
        ("train", ["--lr", "nan"], "--lr: expected a finite number"),
        ("train", ["--weight-decay", "-1"], "--weight-decay: must be at least 0"),
        ("train", ["--patience", "0"], "--patience: must be at least 1"),
        ("train", ["--top-genes", "0"], "--top-genes: must be at least 1"),
        ("train", ["--val-fraction", "1.5"], "--val-fraction: must be in [0, 0.99]"),
        ("train", ["--test-fraction", "0"], "--test-fraction: must be in (0, 0.99]"),
        ("train", ["--seed", "-1"], "--seed: must be in [0, 4294967295]"),
        ("train", ["--devices", "0"], "--devices: must be at least 1"),
        ("train", ["--warmup-epochs", "-2"], "--warmup-epochs: must be at least 0"),
        ("train", ["--synthetic-ratio", "0"], "--synthetic-ratio: must be greater than 0"),
        ("train", ["--max-epochs", "ten"], "--max-epochs: expected an integer, got 'ten'"),
        ("compare", ["--models", "logreg", "--folds", "1"], "--folds: must be at least 2"),
        ("compare", ["--models", "logreg", "--test-fraction", "0.2"], "unrecognized arguments"),
        ("compare", ["--models", "logreg", "--model", "rf"], "unrecognized arguments"),
    ],
)
def test_numeric_arguments_are_checked_before_any_data_is_read(
    cli, tmp_path, command, args, fragment
):
    result = cli(command, "--data", tmp_path / "absent.csv", *args, "--out", tmp_path / "o")
    one_error(result, fragment)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    "args",
    [
        ["interpret", "RUN", "--data", "X", "--top-k", "0", "--out", "o"],
        ["interpret", "RUN", "--data", "X", "--plots", "-1", "--out", "o"],
        ["bench", "attention", "--genes", "1000,abc", "--out", "o"],
        ["bench", "attention", "--genes", "0", "--out", "o"],
        ["bench", "attention", "--repeats", "0", "--out", "o"],
        ["bench", "attention", "--timeout", "-5", "--out", "o"],
        ["bench", "model", "--batch", "0", "--out", "o"],
        ["bench", "model", "--zero-fraction", "1.5", "--out", "o"],
        ["bench", "gpu", "--max-batch", "0"],
        ["bench", "gpu", "--genes", "1k"],
        ["bench", "augmentation", "--train-fractions", "0.5,1.5", "--out", "o"],
        ["bench", "augmentation", "--train-fractions", "x", "--out", "o"],
        ["bench", "interactions", "--test-patients", "0", "--out", "o"],
        ["demo", "--folds", "1"],
    ],
)
def test_every_command_checks_its_numbers(cli, args):
    one_error(cli(*args), "argument")


# -------------------------------------------------------------------------- one line, not a trace
def test_damaged_compressed_input_is_one_line(cli, tiny_files, tmp_path):
    raw = tiny_files["tsv_gz"].read_bytes()
    truncated = tmp_path / "truncated.tsv.gz"
    truncated.write_bytes(raw[: len(raw) // 2])
    corrupted = tmp_path / "corrupted.tsv.gz"
    damaged = bytearray(raw)
    damaged[len(raw) // 2 : len(raw) // 2 + 16] = b"x" * 16
    corrupted.write_bytes(bytes(damaged))
    for path in (truncated, corrupted):
        result = cli(
            "train",
            "--data",
            path,
            "--labels",
            tiny_files["labels"],
            "--target",
            "label",
            "--out",
            tmp_path / "run",
        )
        one_error(result, path.name, "cannot be read as TSV")
    assert not (tmp_path / "run").exists()


def test_outputs_that_cannot_be_written_are_one_line_before_the_data_is_read(
    cli, tiny_files, tmp_path
):
    (tmp_path / "a_file").write_text("x")
    cases = [
        (tmp_path / "a_file" / "run", "is a file, not a folder"),
        (tmp_path / ("r" * 250), "name too long"),
        (Path("/proc/omicsformer-test/run"), "cannot write in /proc"),
        (tmp_path / "a_file", "is not a folder"),
    ]
    for out, fragment in cases:
        # a missing data file would be the error if the output were checked after the data
        result = cli("train", "--data", tmp_path / "absent.csv", "--target", "y", "--out", out)
        one_error(result, fragment)
        result = cli(
            "compare", "--data", tmp_path / "absent.csv", "--models", "logreg", "--out", out
        )
        one_error(result, fragment)
    one_error(
        cli("predict", tmp_path, "--data", tiny_files["csv"], "--out", tmp_path / "a_file" / "p"),
        "is a file, not a folder",
    )


def test_a_file_system_refusal_mid_run_is_one_line(cli, tiny_files, tmp_path, monkeypatch):
    import omicsformer.pipeline as pipeline

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device", str(tmp_path / ".run.partial" / "x"))

    monkeypatch.setattr(pipeline, "write_run", full_disk)
    one_error(train(cli, tiny_files, tmp_path / "run"), "No space left on device")
    assert not (tmp_path / "run").exists() and not (tmp_path / ".run.partial").exists()


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny) -> dict[str, Path]:
    """A logistic-regression run and an MLP run of the tiny cohort (trained once)."""
    from omicsformer.cli import main

    root = tmp_path_factory.mktemp("runs")
    labels = pd.DataFrame({"sample": tiny.frame.index, "label": tiny.labels.to_numpy()})
    tiny.frame.to_csv(root / "expr.csv")
    labels.to_csv(root / "labels.csv", index=False)
    common = ["--data", root / "expr.csv", "--labels", root / "labels.csv", "--target", "label"]
    for name, model in (("lr", FAST_LOGREG), ("mlp", ["--model", "mlp", "--max-epochs", "2"])):
        assert main([str(a) for a in ["train", *common, *model, "--out", root / name]]) == 0
    return {"lr": root / "lr", "mlp": root / "mlp", "expr": root / "expr.csv"}


def damaged_copy(run: Path, tmp_path: Path, damage, *, rewrite_manifest: bool) -> Path:
    import shutil

    copy = tmp_path / "damaged"
    shutil.copytree(run, copy)
    damage(copy)
    if rewrite_manifest:  # a damage the checksums cannot see: the loaders must still cope
        _write_manifest(copy, "run", complete=True)
    return copy


def truncate(name: str, keep: int):
    def damage(folder: Path) -> None:
        path = folder / name
        path.write_bytes(path.read_bytes()[:keep])

    return damage


def pickle_in_skops(folder: Path) -> None:
    """Replace an array inside the skops zip with a pickled object array."""
    import io

    path = folder / "model" / "estimator.skops"
    with zipfile.ZipFile(path) as source:
        entries = {name: source.read(name) for name in source.namelist()}
    npy = next(n for n in entries if n.endswith(".npy"))
    buffer = io.BytesIO()
    np.save(buffer, np.array([{"run": "os.system"}], dtype=object), allow_pickle=True)
    entries[npy] = buffer.getvalue()
    with zipfile.ZipFile(path, "w") as target:
        for name, content in entries.items():
            target.writestr(name, content)


def unknown_skops_type(folder: Path) -> None:
    path = folder / "model" / "estimator.skops"
    with zipfile.ZipFile(path) as source:
        entries = {name: source.read(name) for name in source.namelist()}
    schema = json.loads(entries["schema.json"])
    schema["__module__"], schema["__class__"] = "evil.module", "Payload"
    entries["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(path, "w") as target:
        for name, content in entries.items():
            target.writestr(name, content)


def wider_hidden_layer(folder: Path) -> None:
    path = folder / "model" / "model.json"
    meta = json.loads(path.read_text())
    meta["options"]["hidden"] = [h + 3 for h in meta["options"]["hidden"]]
    path.write_text(json.dumps(meta))


DAMAGES = {
    "truncated model.json": ("lr", truncate("model/model.json", 40), "model.json"),
    "broken config.yaml": ("lr", lambda f: (f / "config.yaml").write_text("data: [\n"), "config"),
    "truncated task_state.json": ("lr", truncate("task_state.json", 1), "task_state.json"),
    "truncated skops": ("lr", truncate("model/estimator.skops", 300), "estimator.skops"),
    "truncated preprocess": ("lr", truncate("preprocess.safetensors", 60), "preprocess"),
    "truncated weights": ("mlp", truncate("model/weights.safetensors", 60), "weights"),
    "pickle in a numpy file": ("lr", pickle_in_skops, "estimator.skops"),
    "unknown skops type": ("lr", unknown_skops_type, "estimator.skops"),
    "weights that do not fit model.json": ("mlp", wider_hidden_layer, "do not fit model.json"),
}


@pytest.mark.slow
@pytest.mark.parametrize("case", list(DAMAGES))
@pytest.mark.parametrize("rewrite_manifest", [False, True], ids=["checksum", "loader"])
def test_a_damaged_run_folder_is_one_line_naming_the_file(
    cli, runs, tmp_path, case, rewrite_manifest
):
    run, damage, fragment = DAMAGES[case]
    folder = damaged_copy(runs[run], tmp_path, damage, rewrite_manifest=rewrite_manifest)
    result = cli("predict", folder, "--data", runs["expr"], "--out", tmp_path / "p.csv")
    line = one_error(result)
    if rewrite_manifest:
        assert fragment in line
    else:
        assert "changed since omicsformer wrote it" in line
    assert not (tmp_path / "p.csv").exists()


@pytest.mark.slow
def test_an_edited_model_json_is_refused(cli, runs, tmp_path):
    def rename_classes(folder: Path) -> None:
        path = folder / "model" / "model.json"
        path.write_text(path.read_text().replace("class_0", "healthy"))

    folder = damaged_copy(runs["lr"], tmp_path, rename_classes, rewrite_manifest=False)
    one_error(
        cli("predict", folder, "--data", runs["expr"], "--out", tmp_path / "p.csv"),
        "model/model.json: changed since omicsformer wrote it",
    )


def test_library_warnings_do_not_spill_around_the_error_line(cli, tmp_path, monkeypatch):
    import omicsformer.pipeline as pipeline
    from omicsformer.errors import DataError

    def noisy(*args, **kwargs):
        warnings.warn("Importing read_csv from anndata is deprecated", FutureWarning, stacklevel=1)
        warnings.warn("Transforming to str index.", UserWarning, stacklevel=1)
        raise DataError("expr.h5ad: no samples")

    monkeypatch.setattr(pipeline, "load_data", noisy)
    result = cli("train", "--data", "x.h5ad", "--target", "y", "--out", tmp_path / "r")
    lines = result.err.strip().splitlines()
    assert lines == [
        "omicsformer: warning (UserWarning): Transforming to str index.",
        "omicsformer: error: expr.h5ad: no samples",
    ]


def test_a_warning_quoting_a_traceback_is_one_line_without_it(cli, tmp_path, monkeypatch):
    """scikit-learn's "Scoring failed" warning quotes the scorer's traceback (issue 24: 1,418
    characters of sksurv's NoComparablePairException); the note keeps the exception line."""
    import omicsformer.pipeline as pipeline
    from omicsformer.errors import DataError

    try:
        raise ValueError("Data has no comparable pairs, cannot estimate concordance index.")
    except ValueError:
        import traceback

        quoted = traceback.format_exc()

    def noisy(*args, **kwargs):
        warnings.warn(
            "Scoring failed. The score on this train-test partition for these parameters will "
            f"be set to nan. Details: \n{quoted}\n-----\nDuring handling of the above exception, "
            f"another exception occurred:\n\n{quoted}",
            UserWarning,
            stacklevel=1,
        )
        raise DataError("stop")

    monkeypatch.setattr(pipeline, "load_data", noisy)
    result = cli("train", "--data", "x.csv", "--target", "y", "--out", tmp_path / "r")
    lines = result.err.strip().splitlines()
    assert len(lines) == 2 and "Traceback" not in result.err and 'File "' not in result.err
    assert lines[0] == (
        "omicsformer: warning (UserWarning): Scoring failed. The score on this train-test "
        "partition for these parameters will be set to nan. Details: ValueError: Data has no "
        "comparable pairs, cannot estimate concordance index. ValueError: Data has no comparable "
        "pairs, cannot estimate concordance index."
    )


# ----------------------------------------------------------------------- silent wrong results
def train_on(cli, frame: pd.DataFrame, files, tmp_path: Path):
    frame.to_csv(tmp_path / "matrix.csv")
    return cli(
        "train",
        "--data",
        tmp_path / "matrix.csv",
        "--labels",
        files["labels"],
        "--target",
        "label",
        *FAST_LOGREG,
        "--out",
        tmp_path / "run",
    )


def test_a_matrix_of_constant_genes_is_refused(cli, tiny_files, tiny, tmp_path):
    constant = tiny.frame.copy()
    constant.loc[:, :] = 5.0
    result = train_on(cli, constant, tiny_files, tmp_path)
    one_error(result, "every one of the 40 genes has the same value in every sample")
    assert not (tmp_path / "run").exists()


def test_a_partly_constant_matrix_is_counted(cli, tiny_files, tiny, tmp_path):
    frame = tiny.frame.copy()
    frame.iloc[:, :3] = 1.0
    result = train_on(cli, frame, tiny_files, tmp_path)
    assert result.code == 0, result.err
    assert "3 of 40 genes have the same value in every sample" in result.err


def test_the_chosen_task_is_printed(cli, tiny_files, tmp_path):
    result = train(cli, tiny_files, tmp_path / "run")
    assert "task: classification (target 'label', 3 distinct values)" in result.err


def test_a_count_target_is_read_as_a_quantity(cli, tiny, tmp_path):
    """Many whole-number values, one held by a single patient: a count, not classes."""
    rng = np.random.default_rng(0)
    counts = rng.integers(0, 13, size=len(tiny.frame))
    counts[0] = 13  # held by one patient only
    assert len(set(counts)) > 10
    table = pd.DataFrame({"sample": tiny.frame.index, "lymph_nodes": counts})
    table.to_csv(tmp_path / "clinical.csv", index=False)
    tiny.frame.to_csv(tmp_path / "expr.csv")
    args = ["--data", tmp_path / "expr.csv", "--labels", tmp_path / "clinical.csv"]
    result = cli(
        "train", *args, "--target", "lymph_nodes", "--model", "ridge", "--out", tmp_path / "r"
    )
    assert result.code == 0, result.err
    assert "task: regression (target 'lymph_nodes', numeric)" in result.err
    # a classifier gets the models that can do it; forced classification gets the hint
    one_error(
        cli(
            "train", *args, "--target", "lymph_nodes", "--model", "logreg", "--out", tmp_path / "c"
        ),
        "does not support the regression task",
        "models for regression: ",
    )
    one_error(
        cli(
            "train",
            *args,
            "--target",
            "lymph_nodes",
            "--task",
            "classification",
            "--out",
            tmp_path / "c",
        ),
        "class too small",
        "use --task regression",
    )


def test_evaluate_warns_about_patients_the_model_has_seen(cli, tiny_files, tiny, tmp_path):
    assert train(cli, tiny_files, tmp_path / "run").code == 0
    result = cli("evaluate", tmp_path / "run", *data_args(tiny_files))
    assert result.code == 0
    assert "were in the run's training part" in result.err and "optimistic" in result.err
    splits = json.loads((tmp_path / "run" / "splits.json").read_text())
    tiny.frame.loc[splits["test"]].to_csv(tmp_path / "test_only.csv")
    result = cli(
        "evaluate",
        tmp_path / "run",
        "--data",
        tmp_path / "test_only.csv",
        "--labels",
        tiny_files["labels"],
        "--target",
        "label",
    )
    assert result.code == 0 and "optimistic" not in result.err


# ---------------------------------------------------------------------- progress and help
@pytest.mark.slow
def test_training_without_a_terminal_prints_a_line_per_epoch(cli, tiny_files, tmp_path):
    result = cli(
        "train",
        *data_args(tiny_files),
        "--model",
        "mlp",
        "--max-epochs",
        "3",
        "--patience",
        "50",
        "--out",
        tmp_path / "run",
    )
    assert result.code == 0, result.err
    lines = [line for line in result.err.splitlines() if " loss " in line]
    assert lines[0].startswith("omicsformer: epoch 1 loss") and "(1/3," in lines[0]
    assert "(3/3," in lines[-1]  # the last epoch is always shown


def test_epoch_lines_are_throttled_for_fast_epochs(capsys):
    from omicsformer.train.progress import EpochProgress

    progress = EpochProgress(100, 0, "loss", interval=3600, terminal=False)
    for epoch in range(1, 101):
        progress.update({"epoch": epoch, "train_loss": 0.5, "seconds": 0.01}, last=epoch == 100)
    progress.stop()
    lines = capsys.readouterr().err.strip().splitlines()
    assert [line.split()[2] for line in lines] == ["1", "100"]


def walk(parser):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from ((f"{name} {path}".strip(), a) for path, a in walk(sub))
        else:
            yield "", action


def test_every_option_has_help_and_shows_its_default():
    from omicsformer.cli import Formatter, build_parser

    for path, action in walk(build_parser()):
        assert action.help, f"omicsformer {path}: {action.option_strings or action.dest} no help"
        if action.option_strings and action.default not in (None, False, "==SUPPRESS=="):
            shown = Formatter("omicsformer")._get_help_string(action)
            assert "default" in shown, (path, action.option_strings)


def test_version_and_compare_help(cli):
    version = cli("--version")
    assert version.code == 0 and version.out.startswith("omicsformer 0.")
    helped = cli("compare", "--help")
    assert helped.code == 0 and "--models" in helped.out
    assert "--model " not in helped.out and "--test-fraction" not in helped.out


@pytest.mark.parametrize(
    ("model", "option", "fragment"),
    [
        ("mlp", "dropout=2", "dropout: must be in [0, 1)"),
        ("mlp", "hidden=64,0", "hidden: must be at least 1"),
        ("gene-transformer", "dim=0", "dim: must be at least 1"),
        ("gene-transformer", "heads=3", "dim 32 is not divisible by heads 3"),
        ("hybrid", "linformer_k=0", "linformer_k: must be at least 1"),
        ("attomics", "n_blocks=0", "n_blocks: must be at least 1"),
        ("logreg", "C=0,1", "C: must be greater than 0"),
        ("rf", "n_jobs=0", "n_jobs must be -1"),
        ("rf", "max_features=most", "max_features must be sqrt, log2 or a fraction"),
    ],
)
def test_model_options_are_checked_before_any_data_is_read(cli, tmp_path, model, option, fragment):
    result = cli(
        "train",
        "--data",
        tmp_path / "absent.csv",
        "--target",
        "y",
        "--model",
        model,
        "-o",
        option,
        "--out",
        tmp_path / "o",
    )
    one_error(result, fragment)


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ("all-leukemia", "--data must be the synthetic generator"),
        ("synthetic:n_nosuch=3", "n_nosuch"),
    ],
)
def test_bench_interactions_takes_the_synthetic_generator_only(cli, tmp_path, data, says):
    result = cli("bench", "interactions", "--data", data, "--out", tmp_path / "o")
    one_error(result, says)
    assert not (tmp_path / "o").exists()
