"""How the neural models' default batch size, learning rate and dropout were chosen.

Validation parts only: the same 5 stratified folds (seed 0) that `omicsformer demo` reports on;
in each fold a validation part is carved from the fold's training part (15 %), the model is
trained on the rest with early stopping on that validation part, and scored on it. The test folds
are never used. Results are in docs/tuning.md.

    python scripts/tune_defaults.py attomics
    python scripts/tune_defaults.py mlp
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np
import pandas as pd

from omicsformer.config import DataConfig, RunConfig
from omicsformer.data.splits import kfold_splits
from omicsformer.models import Runtime
from omicsformer.pipeline import fit_model, prepare_data, preprocess_split

GRID = {"batch_size": [8, 16, 32], "lr": [1e-3, 1e-4], "dropout": [0.3, 0.5]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("model", choices=["mlp", "attomics"])
    args = parser.parse_args()
    config = RunConfig(data=DataConfig(source="all-leukemia", target="subtype"), seed=0)
    data = prepare_data(config)
    folds = kfold_splits(data.task.strata(data.y, data.target), folds=5, val_fraction=0.15, seed=0)
    arrays = [preprocess_split(config, data, split) for split in folds]
    rows = []
    for batch_size, lr, dropout in itertools.product(*GRID.values()):
        config.train.batch_size, config.train.lr = batch_size, lr
        scores = [
            fit_model(
                config,
                data,
                a,
                Runtime(train=config.train, progress=False),
                model_name=args.model,
                options={"dropout": dropout},
            ).metrics["val"]["balanced_accuracy"]
            for a in arrays
        ]
        rows.append(
            {
                "batch_size": batch_size,
                "lr": lr,
                "dropout": dropout,
                "val_balanced_accuracy": np.mean(scores),
                "sd": np.std(scores, ddof=1),
            }
        )
        print(rows[-1], flush=True)
    table = pd.DataFrame(rows).sort_values("val_balanced_accuracy", ascending=False)
    print(table.to_string(index=False, float_format="%.3f"))


if __name__ == "__main__":
    main()
