"""The page of a training run: settings, test-set results with bootstrap CIs, figures."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from omicsformer.report.pages import write_report
from omicsformer.tasks import TASKS, TargetInfo
from tests.report.conftest import Page
from tests.test_cli_safety import one_error

COMMON = ["Run settings", "Test set: Metrics", "Metrics of every part"]
TASK_SECTIONS = {
    "binary": ["ROC and precision-recall curves", "Confusion matrix", "Calibration"],
    "multiclass": ["ROC and precision-recall curves", "Confusion matrix", "Calibration"],
    "survival": ["Kaplan-Meier curves by predicted risk", "Time-dependent AUC"],
    "regression": ["Predictions"],
}
FIGURES = {"binary": 3, "multiclass": 4, "survival": 2, "regression": 2}  # multiclass: + learning


@pytest.fixture(scope="module")
def pages(report_files) -> dict[str, Page]:
    return {name: Page(path.read_text()) for name, path in report_files.items()}


@pytest.mark.parametrize("name", list(TASK_SECTIONS))
def test_page_has_its_sections_figures_and_the_test_metrics_with_intervals(
    name, pages, run_folders
):
    page = pages[name]
    expected = COMMON + [f"Test set: {t}" for t in TASK_SECTIONS[name]]
    assert set(expected) <= set(page.titles), page.titles
    assert ("Learning curves" in page.titles) == (name == "multiclass")
    assert page.figures == FIGURES[name]

    metrics = json.loads((run_folders[name] / "metrics.json").read_text())["test"]
    run = json.loads((run_folders[name] / "run.json").read_text())
    task = TASKS.get(run["target"]["task"])
    header, *rows = page.section("Test set: Metrics").tables[0]
    assert header == ["metric", "estimate", "95% CI low", "95% CI high", "resamples used"]
    by_metric = {row[0].removesuffix(" (lower is better)"): row for row in rows}
    for metric in task.metric_names:
        _, estimate, low, high, used = by_metric[metric]
        # the estimate is recomputed from predictions.csv: it equals the saved test metric
        assert float(estimate) == pytest.approx(metrics[metric], abs=5e-4), metric
        assert float(low) <= float(estimate) <= float(high), metric
        assert int(used.split(" / ")[0]) > 0
    caption = page.section("Test set: Metrics").captions[0]
    assert f"{metrics['n']} patients" in caption and "percentile bootstrap" in caption

    settings = dict(page.section("Run settings").tables[0][1:])
    assert settings["model"] == run["model"] and settings["task"] == task.name
    parts = page.section("Metrics of every part").tables[0]
    parts = [row[0] for row in parts[1:]]
    if (run_folders[name] / "base_metrics.json").exists():  # each part, then its base alone
        alone = ("", ", base alone")
        assert parts == [f"{part}{a}" for part in ("train", "val", "test") for a in alone]
    else:
        assert parts == ["train", "val", "test"]


def test_classification_figures_and_counts(pages, run_folders):
    page = pages["multiclass"]
    counts = page.section("Test set: Confusion matrix").tables[0]
    assert counts[0][1:] == ["class_0", "class_1", "class_2"]
    n_test = json.loads((run_folders["multiclass"] / "run.json").read_text())["n_samples"]["test"]
    assert sum(int(c) for row in counts[1:] for c in row[1:]) == n_test
    assert "Brier" in page.section("Test set: Calibration").captions[0]
    binary = pages["binary"].section("Test set: ROC and precision-recall curves").captions[0]
    assert "positive class 'class_1'" in binary


def test_survival_numbers_at_risk_log_rank_and_fewer_resamples(pages, run_folders):
    page = pages["survival"]
    km = page.section("Test set: Kaplan-Meier curves by predicted risk")
    header, *rows = km.tables[0]
    assert [row[0] for row in rows] == ["low risk", "high risk"]
    assert header[1] == "0"  # counted from time 0: everyone
    n_test = json.loads((run_folders["survival"] / "run.json").read_text())["n_samples"]["test"]
    assert sum(int(row[1]) for row in rows) == n_test
    for row in rows:  # numbers at risk never grow
        counts = [int(c) for c in row[1:]]
        assert counts == sorted(counts, reverse=True)
    assert "log-rank p = " in km.captions[0]
    assert "200 resamples (not 1000)" in page.section("Test set: Metrics").captions[0]


@pytest.mark.slow
def test_survival_report_with_tertiles():
    task = TASKS.get("survival")
    rng = np.random.default_rng(0)
    risk = rng.normal(size=60)
    time = rng.exponential(np.exp(-risk))
    y = np.column_stack([time, rng.random(60) < 0.7]).astype(float)
    state = task.fit_state(y, None)
    sections = task.report(y, risk, TargetInfo("survival", ["t", "e"]), state, risk_groups=3)
    km = next(s for s in sections if s.title.startswith("Kaplan-Meier"))
    table = km.blocks[1].frame
    assert list(table.index) == ["low risk", "intermediate", "high risk"]
    assert table.iloc[:, 0].tolist() == [20, 20, 20]


def test_same_seed_gives_the_same_intervals(run_folders, report_files, tmp_path):
    again = write_report(run_folders["regression"], tmp_path / "again.html")
    tables = [
        Page(p.read_text()).section("Test set: Metrics").tables
        for p in (report_files["regression"], again)
    ]
    assert tables[0] == tables[1]


# ------------------------------------------------------------------------------ command line
@pytest.mark.slow
def test_report_command_writes_next_to_the_run_and_refuses_to_replace(cli, run_folders, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(run_folders["binary"], folder)
    first = cli("report", folder)
    assert first.code == 0, first.err
    assert (folder / "report.html").stat().st_size > 10_000
    one_error(cli("report", folder), "report.html")
    assert cli("report", folder, "--force").code == 0


def test_report_command_errors_are_one_line(cli, run_folders, tmp_path):
    one_error(cli("report", tmp_path / "nowhere"), "no such folder")
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "notes.txt").write_text("not a run")
    one_error(cli("report", plain), "not a folder made by omicsformer")
    damaged = tmp_path / "damaged"
    shutil.copytree(run_folders["regression"], damaged)
    with open(damaged / "predictions.csv", "a") as f:
        f.write("S9,test,1.0\n")
    one_error(cli("report", damaged, "--out", tmp_path / "r.html"), "predictions.csv")
    assert not (tmp_path / "r.html").exists()
