"""A seeded synthetic cohort whose label depends on planted gene-gene interactions.

Generative model (all genes start as standard normal ``z``):

- **Modules**: ``n_modules`` groups of ``module_size`` genes share a latent factor (fewer modules
  when they would take more than half of the genes),
  ``z_g = sqrt(rho) f_m + sqrt(1 - rho) e_g``, so genes are correlated within a module as in
  real co-expression data.
- **Planted pairs**: ``n_pairs`` pairs of distinct genes drawn outside the modules (so each gene
  of a pair is independent of every other gene). Pair ``j`` adds
  ``interaction_strength * sign_j * z_a * z_b`` to the score of class ``j mod n_classes``. For
  independent zero-mean genes the product is uncorrelated with either gene alone: the effect is
  purely an interaction that no single-gene model can see.
- **Marginal genes**: ``n_marginal`` further genes add ``marginal_strength * z_g`` to one class's
  score, so the label is decided partly (not only) by the interactions.
- **Label**: argmax over classes of score + ``noise`` x Gumbel noise (a softmax choice with
  temperature ``noise``).
- **Survival and response**: the same planted pairs and marginal genes, summed into one risk
  r = Σ_j sign_j z_a z_b + (marginal_strength / interaction_strength) Σ z_g (standardized), drive
  ``response`` = r + ``noise`` x N(0, 1) (regression) and a Weibull event time with hazard
  λ k t^(k-1) exp(``survival_strength`` r), censored by a uniform time chosen so that about
  ``censoring`` of the patients are censored (``time``, ``event``).
- **Expression**: ``x = mu_g + sd_g z`` with ``mu_g ~ U(4, 10)`` and ``sd_g ~ U(0.5, 1.5)``,
  log2-like values; z-scoring recovers ``z``.

:class:`SyntheticOptions` holds the parameters (``--data synthetic:n_genes=2000,seed=3``), each
with its default and valid range; :meth:`SyntheticOptions.generate` (or :func:`make_synthetic`)
returns the AnnData together with the planted pairs (gene names), which are also stored in
``adata.uns["planted_pairs"]``, so later analyses can check whether a model finds them.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd

from omicsformer.config import PROBABILITY, bounded, format_spec
from omicsformer.data.datasets.spec import DatasetSpec
from omicsformer.errors import DataError

NAME = "synthetic"
MAX_GENES = 60_000


@dataclass(frozen=True)
class SyntheticOptions:
    """The generator's parameters (see the module docstring); all randomness comes from
    ``seed``. Build it from text with :meth:`parse` (checked), or directly."""

    n_samples: int = bounded(400, low=4)
    n_genes: int = bounded(1000, low=1, high=MAX_GENES)
    n_classes: int = bounded(2, low=2, high=50)
    n_modules: int = bounded(10, low=0)
    module_size: int = bounded(20, low=0)
    module_correlation: float = bounded(0.5, **PROBABILITY)
    n_pairs: int = bounded(4, low=0)
    interaction_strength: float = 2.0
    n_marginal: int = bounded(2, low=0)
    marginal_strength: float = 0.5
    noise: float = bounded(0.5, low=0)
    survival_strength: float = 1.0
    weibull_shape: float = bounded(1.5, low=0, open_low=True)
    censoring: float = bounded(0.3, **PROBABILITY)
    seed: int = bounded(0, low=0, high=2**32 - 1)

    @classmethod
    def parse(cls, params: dict[str, Any]) -> SyntheticOptions:
        """From ``{key: value}`` (text, as in ``synthetic:key=value``, or typed): unknown keys,
        types and ranges are checked here, once."""
        return SPEC.parse_options(params)

    @property
    def source(self) -> str:
        """The ``--data`` text of these options (the parameters that differ from the
        defaults), e.g. for a run's configuration."""
        changed = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != f.default
        }
        return format_spec(NAME, changed)

    def generate(self) -> SyntheticData:
        """The cohort and its ground truth (see :func:`make_synthetic`)."""
        return _generate(**dataclasses.asdict(self))


@dataclass(frozen=True)
class PlantedPair:
    """One planted interaction: genes ``a`` and ``b`` push class ``target`` with ``sign``."""

    a: str
    b: str
    target: str
    sign: int


@dataclass
class SyntheticData:
    """The generated cohort and its ground truth."""

    adata: ad.AnnData
    pairs: list[PlantedPair]
    marginal_genes: list[str]


def make_synthetic(**params: Any) -> SyntheticData:
    """Generate a synthetic expression cohort with planted gene-gene interactions.

    ``params`` are the fields of :class:`SyntheticOptions` (checked as when parsed).

    Returns
    -------
    SyntheticData
        ``adata`` (samples x genes, float32; ``obs["label"]`` holds class names ``class_0``...),
        the planted pairs and the marginal genes.
    """
    return SyntheticOptions.parse(params).generate()


def _generate(
    n_samples: int,
    n_genes: int,
    n_classes: int,
    n_modules: int,
    module_size: int,
    module_correlation: float,
    n_pairs: int,
    interaction_strength: float,
    n_marginal: int,
    marginal_strength: float,
    noise: float,
    survival_strength: float,
    weibull_shape: float,
    censoring: float,
    seed: int,
) -> SyntheticData:
    if n_samples < 2 * n_classes:  # ranges of single values are checked by SyntheticOptions
        raise DataError(f"synthetic: n_samples must be at least {2 * n_classes}, got {n_samples}")
    n_modules = min(n_modules, (n_genes // 2) // max(module_size, 1))
    n_free = n_genes - n_modules * module_size
    if n_free < 2 * n_pairs + n_marginal:
        raise DataError(
            f"synthetic: {n_genes} genes leave {max(n_free, 0)} outside the modules, "
            "fewer than the "
            f"{2 * n_pairs + n_marginal} needed for {n_pairs} pairs and {n_marginal} marginal genes"
        )
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n_samples, n_genes), dtype=np.float32)  # (N, G)

    order = rng.permutation(n_genes)
    module_genes = order[: n_modules * module_size].reshape(n_modules, module_size)
    free = order[n_modules * module_size :]
    factors = rng.standard_normal((n_samples, n_modules), dtype=np.float32)  # (N, M)
    rho = np.float32(module_correlation)
    for m in range(n_modules):
        cols = module_genes[m]
        z[:, cols] = np.sqrt(rho) * factors[:, [m]] + np.sqrt(1 - rho) * z[:, cols]

    pair_idx = free[: 2 * n_pairs].reshape(n_pairs, 2)
    marginal_idx = free[2 * n_pairs : 2 * n_pairs + n_marginal]
    signs = rng.choice([-1, 1], size=n_pairs)
    scores = np.zeros((n_samples, n_classes), dtype=np.float64)  # (N, C)
    for j, (a, b) in enumerate(pair_idx):
        scores[:, j % n_classes] += interaction_strength * signs[j] * z[:, a] * z[:, b]
    for j, g in enumerate(marginal_idx):
        scores[:, (j + 1) % n_classes] += marginal_strength * z[:, g]
    gumbel = -np.log(-np.log(rng.uniform(1e-12, 1.0, size=scores.shape)))
    labels = np.argmax(scores + noise * gumbel, axis=1)

    risk = sum(signs[j] * z[:, a] * z[:, b] for j, (a, b) in enumerate(pair_idx)) + sum(
        (marginal_strength / max(interaction_strength, 1e-12)) * z[:, g] for g in marginal_idx
    )
    risk = (risk - risk.mean()) / (risk.std() + 1e-12)  # (N,)
    response = risk + noise * rng.standard_normal(n_samples)
    time, event = _survival_times(rng, risk, survival_strength, weibull_shape, censoring)

    mu = rng.uniform(4, 10, size=n_genes).astype(np.float32)
    sd = rng.uniform(0.5, 1.5, size=n_genes).astype(np.float32)
    values = mu + sd * z  # (N, G)

    genes = pd.Index([f"G{i:05d}" for i in range(n_genes)])
    class_names = np.array([f"class_{c}" for c in range(n_classes)])
    obs = pd.DataFrame(
        {"label": class_names[labels], "time": time, "event": event, "response": response},
        index=[f"S{i:05d}" for i in range(n_samples)],
    )
    pairs = [
        PlantedPair(genes[a], genes[b], str(class_names[j % n_classes]), int(signs[j]))
        for j, (a, b) in enumerate(pair_idx)
    ]
    marginal = [str(genes[g]) for g in marginal_idx]
    adata = ad.AnnData(X=values, obs=obs, var=pd.DataFrame(index=genes))
    adata.uns["planted_pairs"] = np.array([[p.a, p.b] for p in pairs], dtype=object).astype(str)
    adata.uns["marginal_genes"] = np.array(marginal, dtype=str)
    return SyntheticData(adata=adata, pairs=pairs, marginal_genes=marginal)


def _survival_times(
    rng: np.random.Generator, risk: np.ndarray, strength: float, shape: float, censoring: float
) -> tuple[np.ndarray, np.ndarray]:
    """Weibull event times with hazard k t^(k-1) exp(strength * risk), uniformly censored."""
    u = rng.uniform(1e-12, 1.0, size=len(risk))
    event_time = (-np.log(u) / np.exp(strength * risk)) ** (1.0 / shape)  # (N,)
    v = rng.uniform(0.0, 1.0, size=len(risk))
    if censoring == 0:
        return event_time, np.ones(len(risk), dtype=int)
    low, high = 1e-6, float(event_time.max()) * 1e3  # censoring horizon: bisect on the fraction
    for _ in range(100):
        horizon = (low + high) / 2
        if np.mean(v * horizon < event_time) > censoring:
            low = horizon
        else:
            high = horizon
    censor_time = v * horizon
    event = (event_time <= censor_time).astype(int)
    return np.minimum(event_time, censor_time), event


def load(options: SyntheticOptions) -> ad.AnnData:
    """Registry loader."""
    return options.generate().adata


SPEC = DatasetSpec(
    name=NAME,
    description="Seeded cohort whose label depends on planted gene-gene interactions",
    source="generated by omicsformer.data.datasets.synthetic (parameters: name:key=value,...)",
    licence="MIT (generated)",
    targets={
        "label": "class decided by planted gene-pair products plus a few marginal genes",
        "time, event": "Weibull survival driven by the same pairs, ~30 % censored",
        "response": "continuous response driven by the same pairs (regression)",
    },
    default_targets={
        "classification": "label",
        "survival": ("time", "event"),
        "regression": "response",
    },
    load=load,
    shape=(400, 1000),
    options=SyntheticOptions,
)
