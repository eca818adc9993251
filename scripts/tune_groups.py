"""How the default number of AttOmics groups (``n_groups=0``: ``min(20, G // min_group_size)``)
was chosen: validation parts only, as ``scripts/tune_defaults.py`` does.

The same 5 stratified folds (seed 0, repeated with seeds 1, 2, ... by ``--repeats``) as
``omicsformer demo``; in each fold a validation part (15 % of the fold's training part) is used
for early stopping and for scoring. The test folds are never used. Each value of ``--option``
is one row: the mean (sd) of the validation metric over the folds, and the groups it made;
``--scores FILE`` also writes every fold's score, for paired comparisons.
Results are in docs/tuning.md.

    python scripts/tune_groups.py --data breast-gse7390 --option min_group_size \\
        --values 4,8,16,32
    python scripts/tune_groups.py --data all-leukemia --target subtype --top-genes 2000 \\
        --option n_groups --values 5,10,20,40
    python scripts/tune_groups.py --data ovarian.csv --labels ovarian_labels.csv \\
        --time time --event event --option min_group_size --values 4,8,16,32
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from omicsformer.config import DataConfig, PreprocessConfig, RunConfig, TaskConfig, yaml_value
from omicsformer.data.splits import kfold_splits
from omicsformer.models import Runtime
from omicsformer.pipeline import fit_model, prepare_data, preprocess_split


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", required=True)
    parser.add_argument("--labels")
    parser.add_argument("--target")
    parser.add_argument("--time")
    parser.add_argument("--event")
    parser.add_argument("--top-genes", type=int)
    parser.add_argument("--model", default="attomics")
    parser.add_argument("--option", default="min_group_size", help="the model option to vary")
    parser.add_argument("--values", required=True, help="comma-separated values of --option")
    parser.add_argument("--repeats", type=int, default=1, help="fold sets (split seeds 0, 1, ..)")
    parser.add_argument("--first-seed", type=int, default=0, help="split seed of the first set")
    parser.add_argument("--scores", help="write every fold's score to this CSV")
    parser.add_argument("-o", action="append", default=[], help="other options, KEY=VALUE")
    args = parser.parse_args()
    config = RunConfig(
        data=DataConfig(source=args.data, labels=args.labels, target=args.target),
        preprocess=PreprocessConfig(top_genes=args.top_genes),
        task=TaskConfig(time=args.time, event=args.event),
        seed=0,
    )
    data = prepare_data(config)
    metric = data.task.main_metric
    fixed = {k: yaml_value(v) for k, v in (item.split("=", 1) for item in args.o)}
    arrays = {  # (split seed, fold) -> the fold's preprocessed arrays
        (seed, fold): preprocess_split(config, data, split)
        for seed in range(args.first_seed, args.first_seed + args.repeats)
        for fold, split in enumerate(
            kfold_splits(
                data.task.strata(data.y, data.target), folds=5, val_fraction=0.15, seed=seed
            )
        )
    }
    rows, per_fold = [], []
    for value in (yaml_value(v) for v in args.values.split(",")):
        options = {**fixed, args.option: value}
        start, scores, groups = time.perf_counter(), [], set()
        for (seed, fold), a in arrays.items():
            result = fit_model(
                config,
                data,
                a,
                Runtime(train=config.train, progress=False),
                model_name=args.model,
                options=options,
            )
            scores.append(result.metrics["val"][metric])
            per_fold.append({args.option: value, "seed": seed, "fold": fold, metric: scores[-1]})
            groups.add(len(result.fitted["architecture"]["grouping"]["names"]))
        rows.append(
            {
                args.option: value,
                "groups": ",".join(map(str, sorted(groups))),
                f"val_{metric}": np.mean(scores),
                "sd": np.std(scores, ddof=1),
                "seconds": time.perf_counter() - start,
            }
        )
        print(rows[-1], flush=True)
    print(pd.DataFrame(rows).to_string(index=False, float_format="%.3f"))
    if args.scores:
        pd.DataFrame(per_fold).to_csv(args.scores, index=False)


if __name__ == "__main__":
    main()
