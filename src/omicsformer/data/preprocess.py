"""Preprocessing fitted on the training split only, then applied to every split and to new data.

Steps, in order (each optional except the gene alignment):

1. **align** genes by name to the model's gene order: only the genes the model uses are read
   (every step works gene by gene), so a run fitted on ``top_genes`` needs only those (and a
   Cox model that picks its own ``top_genes`` only its own); one of them missing is an error;
2. **check** that values are finite (NaN / inf are an error unless ``impute="median"``);
3. **transform**: ``log1p`` = ln(1 + x) or ``log2p1`` = log2(1 + x) (negative values are an error);
4. **impute** missing values with the training medians per gene;
4b. **batch-correct** with ComBat fitted on the training samples (``--batch-key``; see
   :mod:`omicsformer.data.batch`);
5. **select** the ``top_genes`` most variable genes (variance on the training split);
6. **z-score** each gene with the training mean and standard deviation (a constant gene gets
   scale 1, so it becomes 0 everywhere).

The fitted :class:`Preprocessor` is saved with the model (``preprocess.safetensors``: arrays as
tensors, settings and gene names as JSON metadata), so that new data is processed exactly as the
training data was. It records the training data's value scale as its reader found it
(``linear``, ``log2(x+1)``, ...: :mod:`omicsformer.data.scale`), and :meth:`Preprocessor.apply_to`
refuses new data on a known other scale.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import anndata as ad
import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

from omicsformer.console import note
from omicsformer.data.batch import BatchCorrection
from omicsformer.data.scale import check_trained_scale
from omicsformer.data.transforms import TRANSFORMS, apply_transform
from omicsformer.errors import DataError, RunError
from omicsformer.fileio import write_with


@dataclass
class Preprocessor:
    """Fitted preprocessing state.

    Attributes
    ----------
    input_genes
        Gene names the data must provide (training order, before selection).
    genes
        Gene names after selection, in model-input order.
    medians, mean, scale
        Per selected gene (float32); ``medians`` is empty unless imputing.
    batch
        Fitted ComBat correction (``--batch-key``), or None.
    value_scale
        The training data's value scale (``adata.uns["value_scale"]``: ``linear``,
        ``log2(x+1)``, ...), or None when not known (a plain table; a run saved before it was
        recorded).
    """

    transform: str
    impute: str
    zscore: bool
    input_genes: list[str]
    genes: list[str]
    selected: np.ndarray  # (G_out,) int64 positions in input_genes
    medians: np.ndarray  # (G_in,) or (0,)
    mean: np.ndarray  # (G_out,)
    scale: np.ndarray  # (G_out,)
    batch: BatchCorrection | None = None
    value_scale: str | None = None

    @property
    def n_genes(self) -> int:
        return len(self.genes)

    # ----------------------------------------------------------------------------- fit / apply
    @classmethod
    def fit(
        cls,
        values: np.ndarray,
        genes: list[str],
        *,
        transform: str = "none",
        impute: str = "none",
        top_genes: int | None = None,
        zscore: bool = True,
        keep: list[str] | None = None,
        batches: np.ndarray | None = None,
        batch_key: str | None = None,
        value_scale: str | None = None,
    ) -> Preprocessor:
        """Fit on the training rows ``values`` (samples x genes) only; ``keep`` names the genes
        to use instead of a variance ranking (a pretrained network's genes); ``batches`` (one
        batch name per training row, from the column ``batch_key``) adds ComBat;
        ``value_scale`` is the training data's scale (:func:`omicsformer.data.scale.value_scale`),
        saved so that new data on another scale is refused."""
        if transform not in TRANSFORMS:
            raise DataError(
                f"unknown transform {transform!r}; choose from: {', '.join(TRANSFORMS)}"
            )
        x = _prepare(np.asarray(values, dtype=np.float32), genes, transform, impute)
        medians = np.zeros(0, dtype=np.float32)
        if impute == "median":
            medians = np.nanmedian(x, axis=0).astype(np.float32)
            if np.isnan(medians).any():
                gene = genes[int(np.flatnonzero(np.isnan(medians))[0])]
                raise DataError(
                    f"gene {gene!r} has no finite value in the training split to impute from"
                )
            x = np.where(np.isnan(x), medians, x)
        batch = None
        if batch_key is not None:
            batch = BatchCorrection.fit(x, np.asarray(batches), batch_key)
            x = batch.apply(x, np.asarray(batches))
        selected = np.arange(x.shape[1])
        if keep is not None:
            position = {g: i for i, g in enumerate(genes)}
            missing = [g for g in keep if g not in position]
            if missing:
                shown = ", ".join(missing[:5])
                raise DataError(f"{len(missing)} genes to keep are not in the data, e.g. {shown}")
            selected = np.asarray([position[g] for g in keep], dtype=np.int64)
        elif top_genes is not None and top_genes < x.shape[1]:
            variance = x.var(axis=0)
            # stable sort on -variance keeps input order among ties, so the choice is deterministic
            selected = np.sort(np.argsort(-variance, kind="stable")[:top_genes])
        x = x[:, selected]
        if len(x) and np.all(np.ptp(x, axis=0) == 0):
            raise DataError(
                f"every one of the {x.shape[1]} genes is constant across the {len(x)} training "
                "samples; there is nothing to learn from"
            )
        mean = x.mean(axis=0) if zscore else np.zeros(x.shape[1], dtype=np.float32)
        std = x.std(axis=0) if zscore else np.ones(x.shape[1], dtype=np.float32)
        scale = np.where(std > 1e-8, std, 1.0).astype(np.float32)
        return cls(
            transform=transform,
            impute=impute,
            zscore=zscore,
            input_genes=list(genes),
            genes=[genes[i] for i in selected],
            selected=selected.astype(np.int64),
            medians=medians,
            mean=mean.astype(np.float32),
            scale=scale,
            batch=batch,
            value_scale=value_scale,
        )

    def align(
        self, values: np.ndarray, genes: list[str], used: np.ndarray | None = None
    ) -> np.ndarray:
        """The columns of ``values`` of the model's genes (:attr:`genes`, the selected ones),
        found by name and in model-input order; genes outside the selection may be missing.

        ``used`` (positions in :attr:`genes`) names the genes the fitted model reads, when it
        reads fewer (a Cox model on its own ``top_genes``): the others may be missing too, and
        their columns are filled with 0, a finite value the model ignores.
        """
        if list(genes) == self.input_genes:
            return values[:, self.selected]
        position = {g: i for i, g in enumerate(genes)}
        needed = range(len(self.genes)) if used is None else used
        missing = [self.genes[i] for i in needed if self.genes[i] not in position]
        if missing:
            shown = ", ".join(missing[:5])
            raise DataError(
                f"{len(missing)} of the {len(needed)} genes the model uses are missing from "
                f"the data (e.g. {shown})"
            )
        if used is None:
            return values[:, [position[g] for g in self.genes]]
        found = np.asarray([g in position for g in self.genes])  # (G_out,)
        aligned = np.zeros((len(values), len(self.genes)), dtype=values.dtype)  # (N, G_out)
        aligned[:, found] = values[:, [position[g] for g in self.genes if g in position]]
        return aligned

    def apply(
        self,
        values: np.ndarray,
        genes: list[str],
        batches: np.ndarray | None = None,
        used: np.ndarray | None = None,
    ) -> np.ndarray:
        """Process new data (samples x genes) exactly as the training data; returns float32.

        Only the model's genes (:attr:`genes`) are read: every step works gene by gene, so the
        others may be missing (or hold anything). ``used`` narrows that to the genes the fitted
        model reads (:meth:`align`); the columns of the others are 0 in the result.
        ``batches`` (one batch name per row) is required when the training data was
        batch-corrected."""
        x = self.align(np.asarray(values, dtype=np.float32), list(genes), used)  # (N, G_out)
        x = _prepare(x, self.genes, self.transform, self.impute)
        if self.impute == "median":
            x = np.where(np.isnan(x), self.medians[self.selected], x)
        if self.batch is not None:
            if batches is None:
                raise DataError(
                    f"the model was trained with ComBat on --batch-key {self.batch.key}; the data "
                    f"has no column {self.batch.key!r} naming each sample's batch"
                )
            x = self.batch.apply(x, np.asarray(batches), columns=self.selected)
        x = ((x - self.mean) / self.scale).astype(np.float32)
        if used is not None:
            unused = np.ones(len(self.genes), dtype=bool)
            unused[used] = False
            x[:, unused] = 0.0
        return x

    def model_value(self, raw: float) -> np.ndarray:
        """The value the model sees for a raw value ``raw`` of each of its genes: (G_out,) float32.

        Computed by the same float32 operations as :meth:`apply`, so a raw value equal to ``raw``
        maps to exactly this value, and (every step being monotone per gene) a larger raw value
        to one at least as large. ComBat shifts and scales values per batch, so a raw value has
        no single model value per gene then: refused.
        """
        if self.batch is not None:
            raise DataError(
                f"ComBat (--batch-key {self.batch.key}) shifts values per batch, so a raw value "
                "has no single model value per gene"
            )
        x = np.full((1, len(self.input_genes)), raw, dtype=np.float32)
        x = _prepare(x, self.input_genes, self.transform, "none")[:, self.selected]
        return ((x - self.mean) / self.scale).astype(np.float32)[0]

    def apply_to(self, adata: ad.AnnData, used: np.ndarray | None = None) -> np.ndarray:
        """:meth:`apply` to an AnnData, its batch names read from ``obs`` when needed; data whose
        value scale is known to differ from the training data's is refused
        (:func:`omicsformer.data.scale.check_trained_scale`)."""
        check_trained_scale(adata, self.value_scale)
        batches = None
        if self.batch is not None and self.batch.key in adata.obs.columns:
            batches = adata.obs[self.batch.key].to_numpy()
        return self.apply(np.asarray(adata.X), list(adata.var_names), batches, used)

    # ----------------------------------------------------------------------------- save / load
    def save(self, path: str | Path) -> None:
        """Write the fitted state to ``path`` atomically (safetensors: arrays as tensors,
        settings, gene names, ComBat levels and the value scale as metadata)."""
        tensors = {
            "selected": self.selected,
            "medians": self.medians,
            "mean": self.mean,
            "scale": self.scale,
        }
        meta = {
            "transform": self.transform,
            "impute": self.impute,
            "zscore": json.dumps(self.zscore),
            "input_genes": json.dumps(self.input_genes),
        }
        if self.batch is not None:
            tensors.update(self.batch.tensors())
            meta["batch_key"] = self.batch.key
            meta["batch_levels"] = json.dumps(self.batch.levels)
        if self.value_scale is not None:
            meta["value_scale"] = self.value_scale
        write_with(path, lambda tmp: save_file(tensors, str(tmp), metadata=meta))

    @classmethod
    def load(cls, path: str | Path) -> Preprocessor:
        """Read a state written by :meth:`save`; files written before ComBat or the value scale
        were recorded load with ``batch`` / ``value_scale`` None."""
        path = Path(path)
        if not path.exists():
            raise RunError(f"{path}: preprocessing state not found")
        tensors = load_file(str(path))
        with safe_open(str(path), framework="numpy") as handle:
            meta = handle.metadata()
        input_genes = json.loads(meta["input_genes"])
        selected = tensors["selected"]
        batch = None
        if "batch_key" in meta:
            batch = BatchCorrection.from_saved(
                meta["batch_key"], json.loads(meta["batch_levels"]), tensors
            )
        return cls(
            transform=meta["transform"],
            impute=meta["impute"],
            zscore=json.loads(meta["zscore"]),
            input_genes=input_genes,
            genes=[input_genes[i] for i in selected],
            selected=selected,
            medians=tensors["medians"],
            mean=tensors["mean"],
            scale=tensors["scale"],
            batch=batch,
            value_scale=meta.get("value_scale"),  # absent from files saved before it was recorded
        )


def check_values(values: np.ndarray, genes: list[str], transform: str, impute: str) -> None:
    """Raise the errors :meth:`Preprocessor.fit` would raise on ``values``, without transforming.

    Used before a run folder is created, so that bad input never leaves a half-made run.
    """
    x = np.asarray(values)
    finite = np.isfinite(x)
    if not finite.all() and impute != "median":
        _prepare(x, genes, transform, impute)  # raises with the location of the first bad value
    if transform != "none" and np.nanmin(np.where(finite, x, np.nan)) < 0:
        _prepare(np.where(finite, x, 0), genes, transform, impute)
    check_not_constant(x if finite.all() else np.where(finite, x, np.nan))


def check_not_constant(x: np.ndarray) -> None:
    """Refuse a matrix whose genes all hold one value per gene (a model of it is at chance);
    count the constant genes of one that is partly so."""
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN genes: counted as constant
        spread = np.nanmax(x, axis=0) - np.nanmin(x, axis=0)
    constant = ~(spread > 0)
    if constant.all():
        raise DataError(
            f"every one of the {x.shape[1]} genes has the same value in every sample; there is "
            "nothing to learn from (is this the right matrix, --layer or --layout?)"
        )
    if constant.any():
        note(
            f"{int(constant.sum())} of {x.shape[1]} genes have the same value in every sample "
            "(they carry no information)"
        )


def _prepare(x: np.ndarray, genes: list[str], transform: str, impute: str) -> np.ndarray:
    """Check finiteness and apply the log transform; NaN stays NaN (inf becomes NaN) if imputing."""
    finite = np.isfinite(x)
    if not finite.all():
        if impute != "median":
            row, col = np.argwhere(~finite)[0]
            raise DataError(
                f"{int((~finite).sum())} missing or infinite expression values "
                "(first in sample row "
                f"{int(row) + 1}, gene {genes[col]!r}); use --impute median to fill them with "
                "training medians"
            )
        x = np.where(finite, x, np.nan)
    if transform != "none":
        if np.nanmin(x) < 0:
            row, col = np.argwhere(x < 0)[0]
            raise DataError(
                f"negative expression value {float(x[row, col]):.4g} (gene {genes[col]!r}) "
                f"cannot be {transform}-transformed; if the data is already on a log scale "
                "use --transform none"
            )
        x = apply_transform(x, transform)
    return x.astype(np.float32, copy=False)
