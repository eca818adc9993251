"""Per-sample noise augmentations of standardized expression (training batches only).

- ``noise`` (sigma): Gaussian noise added to every z-scored value.
- ``mask`` (rate): each gene of each sample is set to 0 (the training mean) with probability
  ``rate`` (gene dropout, as in masked-expression pretraining).
- ``scale`` (sigma): library-size-like multiplicative noise. A sample's expression is multiplied
  by s = exp(ε), ε ~ N(0, sigma²); on log-scale data that is a shift of log_b(s) on every gene,
  which in z-scores becomes log_b(s) / sd_g per gene (sd_g: training SD of gene g).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from omicsformer.augment.base import AugmentContext, Augmenter
from omicsformer.config import bounded
from omicsformer.errors import ConfigError


@dataclass(frozen=True)
class NoiseOptions:
    sigma: float = bounded(0.1, low=0)  # SD of the noise, in z-score units


@dataclass(frozen=True)
class MaskOptions:
    rate: float = bounded(0.1, low=0, high=1, open_high=True)  # chance a value is masked


@dataclass(frozen=True)
class ScaleOptions:
    sigma: float = bounded(0.1, low=0)  # SD of the log size factor


class GaussianNoise(Augmenter):
    name = "noise"
    kind = "batch"
    Options = NoiseOptions

    def __init__(self, options: NoiseOptions) -> None:
        self.sigma = options.sigma

    def batch(
        self, x: Tensor, y: Tensor, generator: torch.Generator, rows: Tensor
    ) -> tuple[Tensor, Tensor]:
        noise = torch.randn(x.shape, generator=generator).to(x.device, x.dtype)
        return x + self.sigma * noise, y


class GeneMask(Augmenter):
    name = "mask"
    kind = "batch"
    Options = MaskOptions

    def __init__(self, options: MaskOptions) -> None:
        self.rate = options.rate

    def batch(
        self, x: Tensor, y: Tensor, generator: torch.Generator, rows: Tensor
    ) -> tuple[Tensor, Tensor]:
        keep = torch.rand(x.shape, generator=generator) >= self.rate
        return x * keep.to(x.device, x.dtype), y


class LibrarySizeScaling(Augmenter):
    name = "scale"
    kind = "batch"
    Options = ScaleOptions

    def __init__(self, options: ScaleOptions) -> None:
        self.sigma = options.sigma

    def fit(self, x, y, context: AugmentContext) -> LibrarySizeScaling:
        super().fit(x, y, context)
        if context.gene_scale is None:
            raise ConfigError("scale needs the preprocessing's per-gene scale")
        base = context.log_base or 2.0  # untransformed data are taken as log2 (microarray, RMA)
        self._per_gene = torch.as_tensor(
            1.0 / (context.gene_scale * math.log(base)), dtype=torch.float32
        )
        return self

    def batch(
        self, x: Tensor, y: Tensor, generator: torch.Generator, rows: Tensor
    ) -> tuple[Tensor, Tensor]:
        epsilon = torch.randn(x.shape[0], 1, generator=generator) * self.sigma  # ln s per sample
        shift = epsilon * self._per_gene  # (B, G): log_b(s) / sd_g
        return x + shift.to(x.device, x.dtype), y
