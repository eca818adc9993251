"""The page of a training-run folder (``omicsformer train``; layout in :mod:`omicsformer.runs`).

Sections: the run's settings (task, model and its options, data, sizes, timings, software), the
test patients' results as the task reports them (:meth:`Task.report`: metrics with bootstrap
95% intervals, the task's figures), the metrics of every part from metrics.json, and the
learning curves of neural models. Every file is read through :func:`read_file` after the folder
is checked against its manifest, so a damaged or edited file is one error line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from omicsformer.fileio import read_file, read_json, read_yaml, verify_output
from omicsformer.report.html import Figure, Section, Table, Text
from omicsformer.report.plots import learning_curve_figure
from omicsformer.tasks import TASKS, TargetInfo, Task

WHAT = "a run folder made by `omicsformer train`"


def _rows(pairs: list[tuple[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame([(k, _text(v)) for k, v in pairs if v not in (None, "", [], {})])


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(map(_text, value))
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def settings_section(run: dict[str, Any], config: dict[str, Any], model: dict[str, Any]) -> Section:
    """What was run, on what, how long it took, with which software."""
    target = run.get("target", {})
    data, split, train = config.get("data", {}), config.get("split", {}), config.get("train", {})
    sizes = run.get("n_samples", {})
    pairs = [
        ("created", run.get("created")),
        ("task", target.get("task")),
        ("target columns", target.get("columns")),
        ("classes", target.get("classes")),
        ("model", run.get("model")),
        ("model options", model.get("options")),
        ("data", data.get("source")),
        ("labels", data.get("labels")),
        ("preprocessing", config.get("preprocess")),
        ("augmentation", config.get("augment", {}).get("methods")),
        ("split", f"validation {split.get('val_fraction')}, test {split.get('test_fraction')}"),
        ("seed", config.get("seed")),
        ("patients (train / validation / test)", " / ".join(str(v) for v in sizes.values())),
        ("genes (input / model)", f"{run.get('n_genes_input')} / {run.get('n_genes_model')}"),
        ("parameters", run.get("n_parameters")),
        ("fitted", run.get("fitted")),
        ("fit seconds", run.get("fit_seconds")),
        ("predict seconds", run.get("predict_seconds")),
    ]
    if "epochs_run" in run.get("fitted", {}):  # a network: its training settings
        pairs.append(("training settings", {k: v for k, v in train.items() if v is not None}))
    software = pd.DataFrame(list(run.get("software", {}).items()), columns=["package", "version"])
    table = _rows(pairs)
    table.columns = ["setting", "value"]
    return Section(
        "Run settings",
        [
            Table(table, caption="From run.json, config.yaml and model/model.json."),
            Table(software, caption="Software versions."),
        ],
    )


def test_patients(
    folder: Path, task: Task, info: TargetInfo
) -> tuple[np.ndarray, np.ndarray] | None:
    """(y, output) of the test patients from predictions.csv; None if the run has none."""

    def read(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        test = frame[frame["split"] == "test"]
        return task.from_prediction_columns(test, info) if len(test) else None

    return read_file(folder / "predictions.csv", read)


def parts_section(
    metrics: dict[str, Any], task: Task, base: dict[str, Any] | None = None
) -> Section:
    """The metrics of every part (train, validation, test) as metrics.json holds them, and
    below each part its base alone's (``base``, from base_metrics.json) if the network has one."""
    rows = []
    for part, values in metrics.items():
        if not isinstance(values, dict):
            continue
        rows.append(_part_row(part, values, task))
        if base is not None and isinstance(base.get(part), dict):
            rows.append(_part_row(f"{part}, base alone", base[part], task))
    caption = (
        "Point estimates from metrics.json. The validation part chose the model (early stopping, "
        "inner search), so its numbers are optimistic; the training part's more so."
    )
    if base is not None:
        caption += (
            ' "Base alone": the network\'s linear base without what the network learned '
            "(base_metrics.json): the difference is what the network added."
        )
    return Section("Metrics of every part", [Table(pd.DataFrame(rows), caption=caption)])


def _part_row(part: str, values: dict[str, Any], task: Task) -> dict[str, Any]:
    scalar = {k: v for k, v in values.items() if isinstance(v, int | float)}
    names = [n for n in ("n", *task.metric_names) if n in scalar]
    names += [k for k in scalar if k not in names]
    return {"part": part, **{k: _text(scalar[k]) for k in names}}


def learning_section(folder: Path, fitted: dict[str, Any]) -> Section | None:
    if not (folder / "history.csv").is_file():
        return None
    history = read_file(folder / "history.csv", pd.read_csv)
    figure = learning_curve_figure(
        history, monitor=fitted.get("monitor", "loss"), best_epoch=fitted.get("best_epoch")
    )
    caption = (
        f"Loss per epoch (left) and the monitored validation metric; {len(history)} epochs, "
        f"the dotted line marks the epoch kept ({fitted.get('best_epoch', 'lowest loss')})."
    )
    return Section("Learning curves", [Figure.of(figure, caption)])


def sections(folder: Path, kind: str, *, seed: int = 0) -> list[Section]:
    """The sections of the page of the run folder ``folder``."""
    verify_output(folder, "run", WHAT)
    run = read_json(folder / "run.json")
    config = read_yaml(folder / "config.yaml") or {}
    model = read_json(folder / "model" / "model.json")
    metrics = read_json(folder / "metrics.json")
    state = read_json(folder / "task_state.json")
    # the target as the model saved it (what load_run gives): task, columns, class order
    info = read_file(
        folder / "model" / "model.json", lambda p: TargetInfo.from_dict(model["target"])
    )
    task = TASKS.get(info.task)

    result = [settings_section(run, config, model)]
    test = test_patients(folder, task, info)
    if test is None:
        result.append(Section("Test set", [Text("The run has no test patients.")]))
    else:
        y, output = test
        result += [
            Section(f"Test set: {s.title}", s.blocks)
            for s in task.report(y, output, info, state, seed=seed)
        ]
    base = (
        read_json(folder / "base_metrics.json")
        if (folder / "base_metrics.json").is_file()
        else None
    )
    result.append(parts_section(metrics, task, base))
    learning = learning_section(folder, run.get("fitted", {}))
    if learning is not None:
        result.append(learning)
    return result
