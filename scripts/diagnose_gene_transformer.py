"""Why the gene-transformer alone stayed at chance on ALL subtype (top 2,000 probes): the record.

One fold of the 5 stratified folds (split seed 0) that docs/tuning.md reports, preprocessing
fitted on its training part; the network is trained with the training loop's settings written
out (AdamW, lr 1e-3, weight decay 0.01, batch 8, gradient clipping at 1, class-weighted
cross-entropy, constant learning rate, no warm-up) so that every step can be looked at. Per
epoch it prints the balanced accuracy on the training patients (can the network fit them at
all?), on the validation part, and the mean gradient norm per block before clipping. Before
training it prints the norms of a token's identity and value parts and, after the first
LayerNorm, how much a token varies between patients against between genes.

Variants (``--variant``):

- ``network``: the gene-transformer alone, as it was before bases (``base=none``, no gates);
- ``no-blocks``: the same without its blocks: tokens -> mean over genes -> LayerNorm -> linear;
- ``linear``: one linear layer on the 2,000 genes (logistic regression by gradient descent);
- ``default``: today's default gene-transformer (``omicsformer models gene-transformer``),
  started as its fitted logistic regression (epoch 0 is the base alone).

    python scripts/diagnose_gene_transformer.py --variant network --fold 1 --epochs 12
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import balanced_accuracy_score
from torch import nn

from omicsformer.config import RunConfig
from omicsformer.models import MODELS, FitData, ModelContext
from omicsformer.models.gene_transformer import GeneTransformer
from omicsformer.models.residual import fit_base
from omicsformer.pipeline import make_folds, prepare_data, preprocess_split


class Linear(nn.Module):
    def __init__(self, n_genes: int, n_classes: int) -> None:
        super().__init__()
        self.head = nn.Linear(n_genes, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(x)


def build(variant: str, context: ModelContext, x: np.ndarray, y: np.ndarray) -> nn.Module:
    n_genes, n_classes = context.n_genes, context.target.n_outputs
    if variant == "linear":
        return Linear(n_genes, n_classes)
    spec = MODELS.get("gene-transformer")
    alone = {"base": "none", "layer_scale": None}
    options = spec.parse_options({} if variant == "default" else alone)
    net = GeneTransformer(options, n_genes, n_classes)
    if variant == "no-blocks":
        net.blocks = nn.ModuleList()
    if variant == "default":
        weight, bias, _ = fit_base(context, FitData(x, y))
        net.base.set_fitted(weight, bias)
    return net


def token_scales(net: GeneTransformer, x: torch.Tensor) -> None:
    ids = torch.arange(x.shape[1])
    with torch.no_grad():
        identity = net.tokens.identity(ids).norm(dim=-1).mean()
        value = net.tokens.values(x, ids).norm(dim=-1).mean()
        normed = F.layer_norm(net.embed(x), (net.norm.normalized_shape[0],))  # (B, G, E)
        between_patients = normed.std(dim=0).mean()
        between_genes = normed.std(dim=1).mean()
    print(
        f"token norms: identity {identity:.2f}, value {value:.2f}; after LayerNorm a token "
        f"varies {between_patients:.3f} between patients against {between_genes:.3f} between "
        "genes"
    )


def blocks_of(net: nn.Module) -> dict[str, nn.Module]:
    if isinstance(net, Linear):
        return {"linear": net.head}
    parts = {"tokens": net.tokens}
    parts.update({f"block{i}": b for i, b in enumerate(net.blocks)})
    parts["head"] = net.head
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--variant", choices=["network", "no-blocks", "linear", "default"])
    parser.add_argument("--fold", type=int, default=1, help="0-based; fold 1 scored 0.250")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = RunConfig(seed=0)
    config.data.source, config.data.target = "all-leukemia", "subtype"
    config.preprocess.top_genes = 2000
    data = prepare_data(config)
    arrays = preprocess_split(config, data, make_folds(config, data, 5)[args.fold])
    x_train, y_train = arrays.x("train"), arrays.y("train")
    context = ModelContext(genes=arrays.preprocessor.genes, target=data.target, seed=0)
    torch.manual_seed(0)
    net = build(args.variant, context, x_train, y_train)
    if isinstance(net, GeneTransformer):
        token_scales(net, torch.from_numpy(x_train[:8]))
    counts = np.bincount(y_train, minlength=context.target.n_outputs)
    weight = torch.tensor(len(y_train) / (len(counts) * counts), dtype=torch.float32)
    optimizer = torch.optim.AdamW(
        [p for p in net.parameters() if p.requires_grad], lr=1e-3, weight_decay=0.01
    )
    xs, ys = torch.from_numpy(x_train), torch.from_numpy(y_train).long()

    def score(x: np.ndarray, y: np.ndarray) -> float:
        net.eval()
        with torch.no_grad():
            logits = torch.cat([net(torch.from_numpy(x[i : i + 16])) for i in range(0, len(x), 16)])
        return balanced_accuracy_score(y, logits.argmax(1).numpy())

    x_val, y_val = arrays.x("val"), arrays.y("val")
    print(f"epoch 0: train {score(x_train, y_train):.3f} val {score(x_val, y_val):.3f}")
    for epoch in range(1, args.epochs + 1):
        start, norms = time.perf_counter(), {}
        net.train()
        order = torch.randperm(len(xs), generator=torch.Generator().manual_seed(epoch))
        for rows in torch.tensor_split(order, math.ceil(len(order) / 8)):
            optimizer.zero_grad()
            F.cross_entropy(net(xs[rows]), ys[rows], weight=weight).backward()
            for name, part in blocks_of(net).items():
                grads = [p.grad for p in part.parameters() if p.grad is not None]
                norms.setdefault(name, []).append(
                    float(torch.sqrt(sum(g.pow(2).sum() for g in grads))) if grads else 0.0
                )
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimizer.step()
        seconds = time.perf_counter() - start
        grads = " ".join(f"{k} {np.mean(v):.2f}" for k, v in norms.items())
        print(
            f"epoch {epoch}: train {score(x_train, y_train):.3f} val {score(x_val, y_val):.3f} "
            f"| gradient norms {grads} | {seconds:.1f} s",
            flush=True,
        )


if __name__ == "__main__":
    main()
