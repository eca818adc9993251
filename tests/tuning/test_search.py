"""Hyper-parameter search: declared spaces, the tune command, pinning, pruning, storage."""

from __future__ import annotations

import json

import numpy as np
import optuna
import pandas as pd
import pytest
import yaml

from omicsformer.config import TrainConfig
from omicsformer.models import MODELS
from omicsformer.tuning.search import _epoch_reporter, _inner_parts
from omicsformer.tuning.space import Choice, Float, Int, declared, suggest


@pytest.mark.parametrize("model", MODELS.names())
def test_every_declared_space_gives_valid_options(model):
    """Random draws from each model's space (and the loop's) pass the model's own checks."""
    spec = MODELS.get(model)
    neural = spec.family == "neural"
    assert declared(spec.options) or neural, f"{model} declares nothing to search"
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))

    def objective(trial):
        options = suggest(trial, spec.options, "model.")
        train = TrainConfig(**suggest(trial, TrainConfig, "train.")).validate()
        spec.validate(options, train)
        return 0.0

    study.optimize(objective, n_trials=8)
    assert all(t.state.name == "COMPLETE" for t in study.trials)


def test_list_options_searched_as_one_value_and_choices_of_lists():
    from dataclasses import dataclass

    from omicsformer.config import bounded

    @dataclass
    class Options:
        C: list[float] = bounded([0.1, 1.0], low=0, open_low=True, search=Float(0.01, 1, log=True))
        hidden: list[int] = bounded([8], low=1, search=Choice(([8], [16, 4])))
        depth: int = bounded(2, low=1, search=Int(1, 3))
        fixed: int = 3

    assert set(declared(Options)) == {"C", "hidden", "depth"}
    trial = optuna.trial.FixedTrial({"C": 0.5, "hidden": "16,4", "depth": 2})
    assert suggest(trial, Options) == {"C": [0.5], "hidden": [16, 4], "depth": 2}
    assert suggest(trial, Options, pinned={"C", "hidden"}) == {"depth": 2}


def test_a_search_never_sees_test_patients():
    class Data:
        y = np.repeat([0, 1, 2], 20)
        target = None

        class task:
            @staticmethod
            def strata(y, target):
                return y

            @staticmethod
            def check_parts(y, split, where="", remedy=""):
                pass

        @staticmethod
        def groups(config):
            return None

    split = {"train": np.arange(0, 40), "val": np.arange(40, 50), "test": np.arange(50, 60)}
    from omicsformer.config import RunConfig

    config = RunConfig()
    (holdout,) = _inner_parts(config, Data, split, 1)
    assert list(holdout["val"]) == list(range(40, 50)) and len(holdout["test"]) == 0
    folds = _inner_parts(config, Data, split, 3)
    assert len(folds) == 3
    for fold in folds:
        seen = np.concatenate(list(fold.values()))
        assert not set(seen) & set(split["test"])
    assert sorted(np.concatenate([f["test"] for f in folds])) == list(range(50))


def test_inner_folds_of_a_survival_search_need_events_in_every_part():
    from omicsformer.config import RunConfig
    from omicsformer.errors import DataError
    from omicsformer.tasks import TASKS, TargetInfo

    class Data:
        y = np.column_stack([np.arange(1.0, 61.0), np.arange(60) % 4 == 0])  # 15 events
        target = TargetInfo("survival", ["t", "e"])
        task = TASKS.get("survival")

        @staticmethod
        def groups(config):
            return None

    split = {"train": np.arange(0, 50), "val": np.arange(50, 55), "test": np.arange(55, 60)}
    with pytest.raises(DataError) as caught:
        _inner_parts(RunConfig(), Data, split, 5)
    assert "(inner fold 1/5 of the search): val part 2 events in 7 patients" in str(caught.value)
    assert "(14 events in 55 patients: use fewer --inner-folds" in str(caught.value)


def test_the_epoch_reporter_reports_the_best_so_far_and_prunes():
    class Trial:
        def __init__(self):
            self.reports = []

        def report(self, value, step):
            self.reports.append((step, value))

        def should_prune(self):
            return len(self.reports) >= 3

    trial = Trial()
    report = _epoch_reporter(trial, "balanced_accuracy", True, optuna)
    report(1, {"val_balanced_accuracy": 0.5})
    report(2, {"val_balanced_accuracy": 0.4})
    with pytest.raises(optuna.TrialPruned):
        report(3, {"val_balanced_accuracy": 0.7})
    assert trial.reports == [(1, 0.5), (2, 0.5), (3, 0.7)]


def tune(cli, files, out, *extra):
    return cli(
        "tune",
        "--data",
        files["csv"],
        "--labels",
        files["labels"],
        "--target",
        "label",
        "--model",
        "mlp",
        "--trials",
        "3",
        "--max-epochs",
        "3",
        "--out",
        out,
        *extra,
    )


@pytest.mark.slow
def test_tune_writes_a_run_folder_with_the_best_values(cli, tiny_files, tmp_path):
    result = tune(cli, tiny_files, tmp_path / "run", "-o", "dropout=0.2", "--lr", "0.01")
    assert result.code == 0, result.err
    run = tmp_path / "run"
    trials = pd.read_csv(run / "trials.csv")
    assert len(trials) == 3 and set(trials.state) <= {"complete", "pruned"}
    assert "model.hidden" in trials and "train.batch_size" in trials
    assert "model.dropout" not in trials and "train.lr" not in trials  # pinned by the user
    assert (run / "study.db").is_file()
    meta = json.loads((run / "model" / "model.json").read_text())
    tuning = meta["fitted"]["tuning"]
    best = trials.loc[trials.value.idxmax()]
    assert tuning["best_value"] == pytest.approx(best.value)
    hidden = [int(h) for h in str(best["model.hidden"]).split(",")]
    assert meta["options"]["hidden"] == hidden and meta["options"]["dropout"] == 0.2
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["model"]["options"]["hidden"] == hidden
    assert config["train"]["batch_size"] == int(best["train.batch_size"])
    assert config["train"]["lr"] == 0.01
    assert "trial 3/3" in result.err and "best validation balanced_accuracy" in result.err
    # the tuned run is usable like any other
    again = cli("predict", run, "--data", tiny_files["csv"], "--out", tmp_path / "p.csv")
    assert again.code == 0, again.err


@pytest.mark.slow
def test_workers_share_a_study_through_a_storage(cli, tiny_files, tmp_path):
    storage = f"sqlite:///{tmp_path / 'shared.db'}"
    for name in ("a", "b"):
        result = tune(
            cli,
            tiny_files,
            tmp_path / name,
            "--storage",
            storage,
            "--study-name",
            "s",
            "--inner-folds",
            "2",
        )
        assert result.code == 0, result.err
    assert len(pd.read_csv(tmp_path / "b" / "trials.csv")) == 6  # the second saw the first's
    assert not (tmp_path / "b" / "study.db").exists()
    study = optuna.load_study(study_name="s", storage=storage)
    assert len(study.trials) == 6


def test_bad_search_settings_are_one_line(cli, tiny_files, tmp_path):
    result = tune(cli, tiny_files, tmp_path / "r", "--val-fraction", "0")
    assert result.code == 2 and "needs one: set --val-fraction" in result.err
    assert not (tmp_path / "r").exists()
    result = cli("tune", "--data", tiny_files["csv"], "--trials", "0", "--out", tmp_path / "r")
    assert result.code == 2 and "--trials: must be at least 1" in result.err


@pytest.mark.slow
def test_survival_searches_larger_batches(cli, tmp_path):
    result = cli(
        "tune",
        "--data",
        "synthetic:n_samples=120,n_genes=20",
        "--task",
        "survival",
        "--model",
        "mlp",
        "--trials",
        "2",
        "--max-epochs",
        "2",
        "--out",
        tmp_path / "run",
    )
    assert result.code == 0, result.err
    trials = pd.read_csv(tmp_path / "run" / "trials.csv")
    assert set(trials["train.batch_size"]) <= {32, 64, 128}
