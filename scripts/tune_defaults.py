"""How the built-in defaults were chosen: a grid of settings scored on validation parts only.

The cohort is cut into 5 stratified folds (split seed 0, and 1, 2, ... with ``--repeats``); in
each fold a validation part (15 % of the fold's training part, stratified) is carved out, the
model is fitted on the rest (early stopping on that validation part where the model has epochs)
and scored on it. **The test folds are never used**, so a default chosen here leaves every test
figure of docs/ an honest estimate. Each combination of the ``--grid`` values is one row: the
mean (sd) of the task's validation metric over all folds, and its seconds; ``--scores FILE``
also writes every fold's score, so two settings can be compared fold by fold (paired).

``--score held-out`` scores on a part that nothing chose: each fold's validation part becomes
the scoring part, and a new validation part (15 % of the rest of the training fold, stratified)
is carved for early stopping. Use it to compare settings that change how the validation part is
used (``train.monitor``, patience), which the default scoring would favour.

A grid item is ``KEY=V1,V2,...``: a model option (``base=fitted,none``), or a training or
preprocessing setting (``train.batch_size=8,64``, ``preprocess.top_genes=1000,2000``); values
are read as YAML (``none``, numbers, lists as ``[256,64]``). Results are in docs/tuning.md.

    python scripts/tune_defaults.py --model attomics --data all-leukemia --target subtype \\
        --grid train.batch_size=8,16,32 --grid train.lr=1e-3,1e-4 --grid dropout=0.3,0.5
    python scripts/tune_defaults.py --model mlp --data breast-gse7390 \\
        --grid base=fitted,linear,none --repeats 3
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import time

import numpy as np
import pandas as pd

from omicsformer.config import DataConfig, PreprocessConfig, RunConfig, TaskConfig, yaml_value
from omicsformer.data.splits import kfold_splits
from omicsformer.models import Runtime
from omicsformer.pipeline import fit_model, prepare_data, preprocess_split

SECTIONS = ("train", "preprocess")  # settings of these RunConfig sections may be gridded


def grid_items(items: list[str]) -> dict[str, list]:
    """``KEY=V1,V2`` items -> {KEY: [values]}; a value in brackets keeps its commas."""
    grid = {}
    for item in items:
        key, _, text = item.partition("=")
        values, depth, start = [], 0, 0
        for i, char in enumerate(text + ","):
            depth += {"[": 1, "]": -1}.get(char, 0)
            if char == "," and depth == 0:
                values.append(yaml_value(text[start:i]))
                start = i + 1
        grid[key] = values
    return grid


def configured(config: RunConfig, settings: dict) -> tuple[RunConfig, dict]:
    """``config`` with the section settings of one grid row; the rest are model options."""
    options = {}
    for key, value in settings.items():
        section, _, name = key.partition(".")
        if section in SECTIONS and name:
            part = dataclasses.replace(getattr(config, section), **{name: value})
            config = dataclasses.replace(config, **{section: part})
        else:
            options[key] = value
    return config, options


def held_out(split: dict, strata: np.ndarray, seed: int) -> dict:
    """The fold's validation part as the scoring part (where fit_model scores "test"), and a
    new stratified validation part of 15 % of its training part; its test fold is dropped."""
    from sklearn.model_selection import train_test_split

    train, val = train_test_split(
        split["train"], test_size=0.15, stratify=strata[split["train"]], random_state=seed
    )
    return {"train": np.sort(train), "val": np.sort(val), "test": split["val"]}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--labels")
    parser.add_argument("--target")
    parser.add_argument("--time")
    parser.add_argument("--event")
    parser.add_argument("--top-genes", type=int)
    parser.add_argument("--grid", action="append", default=[], help="KEY=V1,V2,... (repeat)")
    parser.add_argument("--repeats", type=int, default=1, help="fold sets (split seeds 0, 1, ..)")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--scores", help="write every fold's score to this CSV")
    parser.add_argument(
        "--score",
        choices=["validation", "held-out"],
        default="validation",
        help="score on the validation part, or on a held-out part nothing chose (see above)",
    )
    args = parser.parse_args()
    config = RunConfig(
        data=DataConfig(source=args.data, labels=args.labels, target=args.target),
        preprocess=PreprocessConfig(top_genes=args.top_genes),
        task=TaskConfig(time=args.time, event=args.event),
        seed=0,
    )
    data = prepare_data(config)
    metric = data.task.main_metric
    strata = data.task.strata(data.y, data.target)
    folds = [
        (seed, fold, split)
        for seed in range(args.repeats)
        for fold, split in enumerate(
            kfold_splits(strata, folds=args.folds, val_fraction=0.15, seed=seed)
        )
    ]
    part = "val"
    if args.score == "held-out":  # the validation part scores; a new one chooses epochs
        folds = [(seed, fold, held_out(split, strata, seed)) for seed, fold, split in folds]
        part = "test"  # the scoring part sits where fit_model scores its test rows
    grid = grid_items(args.grid)
    rows, per_fold = [], []
    for values in itertools.product(*grid.values()):
        settings = dict(zip(grid, values, strict=True))
        row_config, options = configured(config, settings)
        start, scores = time.perf_counter(), []
        for seed, fold, split in folds:  # preprocessing as the row's settings ask, per fold
            arrays = preprocess_split(row_config, data, split)
            result = fit_model(
                row_config,
                data,
                arrays,
                Runtime(train=row_config.train, progress=False),
                model_name=args.model,
                options=options,
            )
            scores.append(result.metrics[part][metric])
            per_fold.append({**settings, "seed": seed, "fold": fold, f"val_{metric}": scores[-1]})
        rows.append(
            {
                **settings,
                f"val_{metric}": float(np.mean(scores)),
                "sd": float(np.std(scores, ddof=1)),
                "seconds": time.perf_counter() - start,
            }
        )
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows).sort_values(f"val_{metric}", ascending=False)
    print(table.to_string(index=False, float_format="%.3f"))
    if args.scores:
        pd.DataFrame(per_fold).to_csv(args.scores, index=False)


if __name__ == "__main__":
    main()
