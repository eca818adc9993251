"""``cvae``: a conditional variational autoencoder that samples synthetic patients per class
(Kingma & Welling 2014; Sohn, Lee, Yan 2015, "Learning Structured Output Representation using
Deep Conditional Generative Models").

Notation: N training patients, G genes, C classes, Z latent size.

    encoder  [x, onehot(c)] -> Linear -> GELU -> (mu, log var)        (N, Z) each
    decoder  [z, onehot(c)] -> Linear -> GELU -> Linear -> x̂          (N, G)
    loss     ‖x - x̂‖² / (2σ²) + G log σ + β KL(q(z | x, c) ‖ N(0, I)),   σ² per gene, learned

Fitted on the training split only (z-scored by the training preprocessing), with the KL weight β
warmed up linearly over the first quarter of the epochs. ``expand`` draws z ~ N(0, I) and returns
x̂ + σ ε (the decoder's Gaussian), ``synthetic_ratio`` x N patients, with classes in the training
proportions (or equally, ``balance=true``). Classification only (the condition is the class).

Quality is not assumed: ``omicsformer bench augmentation`` reports, for every fit, a classifier
trained on synthetic patients only and tested on real held-out ones, and how well a
discriminator tells real from synthetic patients (AUROC; 0.5 = indistinguishable).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from omicsformer.augment.base import AugmentContext, Augmenter
from omicsformer.config import bounded


@dataclass(frozen=True)
class CVAEOptions:
    ratio: float = bounded(1.0, low=0, open_low=True)  # synthetic patients per real one
    hidden: int = bounded(256, low=1)  # hidden width of encoder and decoder
    latent: int = bounded(16, low=1)  # latent size Z
    epochs: int = bounded(300, low=1)
    lr: float = bounded(1e-3, low=0, open_low=True)
    beta: float = bounded(1.0, low=0)  # weight of the KL term (after warm-up)
    balance: bool = False  # equal numbers per class instead of the training proportions


class ConditionalVAE(nn.Module):
    def __init__(self, n_genes: int, n_classes: int, hidden: int, latent: int) -> None:
        super().__init__()
        self.n_classes = n_classes
        self.encoder = nn.Sequential(nn.Linear(n_genes + n_classes, hidden), nn.GELU())
        self.mu = nn.Linear(hidden, latent)
        self.log_var = nn.Linear(hidden, latent)
        self.decoder = nn.Sequential(
            nn.Linear(latent + n_classes, hidden), nn.GELU(), nn.Linear(hidden, n_genes)
        )
        self.log_sigma = nn.Parameter(torch.zeros(n_genes))  # per-gene output noise

    def condition(self, c: Tensor) -> Tensor:
        return nn.functional.one_hot(c, self.n_classes).float()

    def forward(self, x: Tensor, c: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        h = self.encoder(torch.cat([x, self.condition(c)], dim=1))
        mu, log_var = self.mu(h), self.log_var(h).clamp(-10, 10)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * log_var)
        return self.decode(z, c), mu, log_var

    def decode(self, z: Tensor, c: Tensor) -> Tensor:
        return self.decoder(torch.cat([z, self.condition(c)], dim=1))


class CVAEAugmenter(Augmenter):
    name = "cvae"
    kind = "dataset"
    synthesizes = True
    tasks = ("classification",)
    why_not = "the generator is conditioned on the class"
    Options = CVAEOptions

    def __init__(self, options: CVAEOptions) -> None:
        o = options
        self.ratio, self.hidden, self.latent = o.ratio, o.hidden, o.latent
        self.epochs, self.lr, self.beta, self.balance = o.epochs, o.lr, o.beta, o.balance

    def fit(self, x: np.ndarray, y: np.ndarray, context: AugmentContext) -> CVAEAugmenter:
        super().fit(x, y, context)
        generator = torch.Generator().manual_seed(context.seed)
        torch.manual_seed(context.seed)
        xt = torch.as_tensor(x, dtype=torch.float32)
        ct = torch.as_tensor(y, dtype=torch.long)
        self.model = ConditionalVAE(x.shape[1], context.n_classes, self.hidden, self.latent)
        optimizer = torch.optim.Adam(self.model.parameters(), lr=self.lr)
        batch = min(32, len(x))
        warmup = max(1, self.epochs // 4)
        self.model.train()
        for epoch in range(self.epochs):
            kl_weight = self.beta * min(1.0, (epoch + 1) / warmup)
            for rows in torch.randperm(len(x), generator=generator).split(batch):
                recon, mu, log_var = self.model(xt[rows], ct[rows])
                sigma2 = torch.exp(2 * self.model.log_sigma)
                nll = ((xt[rows] - recon) ** 2 / (2 * sigma2) + self.model.log_sigma).sum(1)
                kl = -0.5 * (1 + log_var - mu**2 - log_var.exp()).sum(1)
                loss = (nll + kl_weight * kl).mean() / x.shape[1]
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        self.model.eval()
        self._classes, self._counts = np.unique(y, return_counts=True)
        self._n_train = len(x)
        return self

    @torch.no_grad()
    def sample(self, counts: dict[int, int], seed: int) -> tuple[np.ndarray, np.ndarray]:
        """``counts[c]`` synthetic patients of class c: (n, G) float32 and their classes."""
        generator = torch.Generator().manual_seed(seed)
        labels = np.concatenate([np.full(n, c, dtype=np.int64) for c, n in counts.items()])
        c = torch.as_tensor(labels)
        z = torch.randn(len(labels), self.latent, generator=generator)
        mean = self.model.decode(z, c)
        noise = torch.randn(mean.shape, generator=generator) * torch.exp(self.model.log_sigma)
        return (mean + noise).numpy().astype(np.float32), labels

    def class_counts(self) -> dict[int, int]:
        total = max(1, round(self.ratio * self._n_train))
        if self.balance:
            each = math.ceil(total / len(self._classes))
            return {int(c): each for c in self._classes}
        shares = self._counts / self._counts.sum()
        return {
            int(c): max(1, round(total * s)) for c, s in zip(self._classes, shares, strict=True)
        }

    def expand(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        synthetic, labels = self.sample(self.class_counts(), self.context.seed + 1)
        return np.concatenate([x, synthetic]), np.concatenate([y, labels])
