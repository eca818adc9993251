"""Do generated patients keep the class-conditional structure that is known to be there?

On the synthetic generator (label driven by a planted gene-pair product plus marginal genes; see
``omicsformer.data.datasets.synthetic``), fit each generator (``cvae``, ``wgan``, defaults) on a
stratified training part of every fold, z-scored by that part only, and compare, in the real
training patients, the real test patients and the synthetic patients:

- ``pair``: |corr(x_a * x_b, y)| of the planted pair's product with its class (1 vs the rest);
- ``marginal``: the mean over marginal genes of the standardized class-mean difference
  (|mean in its class - mean elsewhere| / sd).

A generator that keeps the structure gives synthetic values near the real ones. Prints one
table (mean ± sd over folds). Usage::

    python scripts/augmentation_truth.py --folds 5 --fraction 0.25
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

from omicsformer.augment import AUGMENTERS, parse_specs
from omicsformer.augment.base import AugmentContext
from omicsformer.data.datasets.synthetic import SyntheticOptions

PANEL = dict(
    n_samples=1000,
    n_genes=100,
    n_pairs=1,
    n_marginal=2,
    marginal_strength=1.0,
    noise=0.3,
    n_modules=2,
    module_size=5,
)  # fmt: skip  (docs/augmentation.md's learnable panel)


def structure(
    x: np.ndarray,
    y: np.ndarray,
    pair: tuple[int, int],
    target: int,
    marginal: list[tuple[int, int]],
) -> dict[str, float]:
    product = x[:, pair[0]] * x[:, pair[1]]
    is_target = (y == target).astype(float)
    pair_r = abs(np.corrcoef(product, is_target)[0, 1])
    gaps = []
    for g, cls in marginal:
        inside, outside = x[y == cls, g], x[y != cls, g]
        gaps.append(abs(inside.mean() - outside.mean()) / x[:, g].std())
    return {"pair": float(pair_r), "marginal": float(np.mean(gaps))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--fraction", type=float, default=0.25)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    data = SyntheticOptions.parse({**PANEL, "seed": args.seed}).generate()
    adata = data.adata
    genes = list(adata.var_names)
    x_all = np.asarray(adata.X, dtype=np.float64)
    classes = sorted(adata.obs["label"].unique())
    y_all = adata.obs["label"].map({c: i for i, c in enumerate(classes)}).to_numpy()
    p = data.pairs[0]
    pair = (genes.index(p.a), genes.index(p.b))
    target = classes.index(p.target)
    # the generator adds marginal gene j to class (j + 1) mod n_classes
    marginal = [(genes.index(g), (j + 1) % len(classes)) for j, g in enumerate(data.marginal_genes)]
    rows = []
    folds = StratifiedKFold(args.folds, shuffle=True, random_state=args.seed)
    for k, (train, test) in enumerate(folds.split(x_all, y_all)):
        rng = np.random.default_rng(args.seed + k)
        members = [train[y_all[train] == c] for c in range(len(classes))]
        keep = np.concatenate(
            [rng.choice(m, round(args.fraction * len(m)), replace=False) for m in members]
        )
        mean, sd = x_all[keep].mean(0), x_all[keep].std(0) + 1e-8  # fitted on the training part
        x_train, x_test = (x_all[keep] - mean) / sd, (x_all[test] - mean) / sd
        y_train, y_test = y_all[keep], y_all[test]
        rows.append(
            {
                "fold": k,
                "data": "real train",
                **structure(x_train, y_train, pair, target, marginal),
            }
        )
        rows.append(
            {"fold": k, "data": "real test", **structure(x_test, y_test, pair, target, marginal)}
        )
        for name in ("cvae", "wgan"):
            (spec,) = parse_specs([name])
            generator = AUGMENTERS.get(name)(spec.options)
            context = AugmentContext(
                task="classification", n_classes=len(classes), seed=args.seed + k
            )
            generator.fit(x_train.astype(np.float32), y_train, context)
            synthetic, labels = generator.sample(generator.class_counts(), args.seed + k + 1)
            rows.append(
                {
                    "fold": k,
                    "data": name,
                    **structure(synthetic.astype(np.float64), labels, pair, target, marginal),
                }
            )
        print(f"fold {k + 1}/{args.folds} done ({len(keep)} training patients)", flush=True)
    frame = pd.DataFrame(rows)
    table = frame.groupby("data", sort=False)[["pair", "marginal"]].agg(["mean", "std"])
    print(f"planted pair {p.a} x {p.b} -> class {p.target}; marginal genes {data.marginal_genes}")
    print(table.round(3).to_string())


if __name__ == "__main__":
    main()
