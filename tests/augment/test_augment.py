"""Augmentations: training data only, shapes and dtypes, mixup labels, cVAE samples, seeding."""

import numpy as np
import pytest
import torch

from omicsformer.augment import (
    AUGMENTERS,
    AugmentContext,
    AugmentSpec,
    batch_pipeline,
    build_augmenters,
    parse_specs,
    split_specs,
)
from omicsformer.augment.base import Augmenter
from omicsformer.augment.mixup import MixupOptions
from omicsformer.augment.simple import NoiseOptions
from omicsformer.augment.training import check_augmentation
from omicsformer.config import RunConfig, TrainConfig
from omicsformer.errors import ConfigError
from omicsformer.models import MODELS, FitData, ModelContext, Runtime, build_model
from omicsformer.pipeline import fit_split, make_split, prepare_data
from omicsformer.tasks import TargetInfo

BATCH = ["noise:sigma=0.3", "mask:rate=0.2", "scale:sigma=0.2", "mixup:alpha=0.4", "smote:k=3"]


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 12)).astype(np.float32)
    y = np.repeat([0, 1, 2], [20, 12, 8])
    context = AugmentContext("classification", 3, seed=0, gene_scale=np.ones(12, np.float32))
    return x, y, context


def fitted(spec, x, y, context):
    (augmenter,) = build_augmenters([spec])
    return augmenter.fit(x, y, context)


@pytest.mark.parametrize("spec", BATCH)
def test_batch_augmentations_keep_shapes_and_dtypes_and_are_seeded(data, spec):
    x, y, context = data
    augmenter = fitted(spec, x, y, context)
    rows = torch.arange(8, 24)
    xb, yb = torch.from_numpy(x[rows.numpy()]), torch.from_numpy(y[rows.numpy()])
    out1 = augmenter.batch(xb, yb, torch.Generator().manual_seed(5), rows)
    out2 = augmenter.batch(xb, yb, torch.Generator().manual_seed(5), rows)
    out3 = augmenter.batch(xb, yb, torch.Generator().manual_seed(6), rows)
    assert out1[0].shape == xb.shape and out1[0].dtype == xb.dtype
    assert torch.equal(out1[0], out2[0]) and torch.equal(out1[1], out2[1])
    assert not torch.equal(out1[0], out3[0])
    assert not torch.equal(out1[0], xb)  # it did something
    assert torch.equal(xb, torch.from_numpy(x[rows.numpy()]))  # the input is not modified


@pytest.mark.slow
def test_mixup_labels_are_probabilities_summing_to_one(data):
    x, y, context = data
    mixup = fitted("mixup:alpha=0.4", x, y, context)
    _, labels = mixup.batch(
        torch.from_numpy(x), torch.from_numpy(y), torch.Generator().manual_seed(0), torch.arange(40)
    )
    assert labels.shape == (40, 3) and labels.dtype == torch.float32
    torch.testing.assert_close(labels.sum(1), torch.ones(40))
    within = fitted("mixup:within_class=true", x, y, context)
    _, same = within.batch(
        torch.from_numpy(x), torch.from_numpy(y), torch.Generator().manual_seed(0), torch.arange(40)
    )
    assert torch.equal(same, torch.from_numpy(y))


def test_smote_interpolates_between_same_class_neighbours(data):
    x, y, context = data
    smote = fitted("smote:k=3:p=1.0", x, y, context)
    rows = torch.arange(40)
    out, labels = smote.batch(
        torch.from_numpy(x), torch.from_numpy(y), torch.Generator().manual_seed(1), rows
    )
    for i in range(40):
        same = x[y == y[i]]
        # the new point lies on a segment from x_i to a same-class training point
        direction = same - x[i]
        t = (direction @ (out[i].numpy() - x[i])) / np.maximum((direction**2).sum(1), 1e-12)
        residual = np.linalg.norm(x[i] + t[:, None] * direction - out[i].numpy(), axis=1)
        assert residual.min() < 1e-4
    assert torch.equal(labels, torch.from_numpy(y))


def test_smote_moves_every_row_of_a_class_smaller_than_k(data):
    x, _, context = data
    y = np.r_[np.zeros(37, dtype=np.int64), np.ones(3, dtype=np.int64)]  # class 1: 3 < k = 5
    smote = fitted("smote:k=5:p=1.0", x, y, context)
    small = torch.arange(37, 40).repeat(50)  # the small class's rows, many times over
    out, _ = smote.batch(
        torch.from_numpy(x[small.numpy()]),
        torch.zeros(150),
        torch.Generator().manual_seed(0),
        small,
    )
    moved = (out - torch.from_numpy(x[small.numpy()])).abs().sum(1) > 0
    assert moved.float().mean() > 0.95  # p = 1: every row has 2 valid neighbours to move to


@pytest.mark.slow
def test_smote_after_cvae_reaches_the_synthetic_patients():
    """Batch augmenters are fitted on the expanded training set the loop draws rows from."""
    config = RunConfig.from_dict(
        {
            "data": {"source": "synthetic:n_samples=60,n_genes=12", "target": "label"},
            "model": {"name": "mlp", "options": {"hidden": [8]}},
            "train": {"max_epochs": 2, "batch_size": 16},
            "augment": {"methods": ["cvae:epochs=3", "smote:k=3:p=1.0"]},
        }
    )
    prepared = prepare_data(config)
    result = fit_split(config, prepared, make_split(config, prepared))
    _, smote = result.augmenters
    assert len(smote._neighbours) == 2 * len(make_split(config, prepared)["train"])
    assert np.isfinite(result.metrics["test"]["balanced_accuracy"])


@pytest.mark.slow
def test_cvae_samples_have_the_requested_classes_and_dimension(data):
    x, y, context = data
    cvae = fitted("cvae:epochs=30:ratio=2:balance=true", x, y, context)
    counts = cvae.class_counts()
    assert set(counts) == {0, 1, 2} and len(set(counts.values())) == 1
    synthetic, labels = cvae.sample(counts, seed=0)
    assert synthetic.shape == (sum(counts.values()), 12) and synthetic.dtype == np.float32
    assert sorted(np.unique(labels)) == [0, 1, 2]
    x2, y2 = cvae.expand(x, y)
    assert np.array_equal(y2[: len(y)], y)
    assert len(x2) == len(x) + len(synthetic) and np.array_equal(x2[: len(x)], x)
    again, _ = cvae.sample(counts, seed=0)
    np.testing.assert_array_equal(synthetic, again)


@pytest.mark.parametrize(
    ("spec", "task", "message"),
    [
        ("mixup", "survival", "not available for survival"),
        ("smote", "regression", "not available for regression"),
        ("cvae", "survival", "not available for survival"),
    ],
)
def test_unsupported_tasks_are_refused(data, spec, task, message):
    x, y, _ = data
    with pytest.raises(ConfigError, match=message):
        fitted(spec, x, y, AugmentContext(task, 0, seed=0, gene_scale=np.ones(12)))


def test_parsing_is_strict():
    assert parse_specs(["noise:sigma=0.5"]) == [AugmentSpec("noise", NoiseOptions(sigma=0.5))]
    with pytest.raises(ConfigError, match="augmentation 'noise': alpha; valid keys: sigma"):
        parse_specs(["noise:alpha=1"])
    with pytest.raises(ConfigError, match="unknown augmentation 'jitter'"):
        parse_specs(["jitter"])
    with pytest.raises(ConfigError, match=r"'mask'.rate: must be in \[0, 1\), got 1.0"):
        parse_specs(["mask:rate=1"])
    with pytest.raises(ConfigError, match="'mixup'.alpha: must be greater than 0"):
        parse_specs(["mixup:alpha=0"])
    with pytest.raises(ConfigError, match="'sigma=1' follows no augmentation"):
        parse_specs(["sigma=1", "noise"])


def test_one_spelling_as_the_cli_splits_it_and_the_older_colon_form():
    mixup = AugmentSpec("mixup", MixupOptions(alpha=0.2, within_class=True))
    noise = AugmentSpec("noise", NoiseOptions(sigma=0.3))
    # --augment noise:sigma=0.3,mixup:alpha=0.2,within_class=true, split on commas by the CLI
    cli = "noise:sigma=0.3,mixup:alpha=0.2,within_class=true".split(",")
    assert parse_specs(cli) == [noise, mixup]
    assert parse_specs(["noise", "sigma=0.3", "none", ""]) == [noise]
    assert parse_specs(["mixup:alpha=0.2:within_class=true"]) == [mixup]  # saved configs
    assert parse_specs(["mixup:alpha=0.2,within_class=true"]) == [mixup]
    # bench augmentation compares alternatives: one text per augmentation
    assert split_specs("none,noise,mixup:alpha=0.2,within_class=true,cvae:epochs=5") == [
        "none",
        "noise",
        "mixup:alpha=0.2,within_class=true",
        "cvae:epochs=5",
    ]


def test_kinds_are_known_without_building(monkeypatch):
    def refuse(self, options):
        raise AssertionError("built")

    for cls in {cls for _, cls in AUGMENTERS.items()}:
        monkeypatch.setattr(cls, "__init__", refuse)
    specs = parse_specs(["noise", "cvae:ratio=2", "smote:k=3"])
    assert [s.kind for s in specs] == ["batch", "dataset", "batch"]
    assert specs[1].options.ratio == 2.0


def test_every_augmenter_declares_its_options_once():
    for name, cls in AUGMENTERS.items():
        built = AugmentSpec(name, cls.Options()).build()
        assert isinstance(built, cls) and cls.kind in ("batch", "dataset")
        assert build_augmenters([name])[0].describe() == built.describe()


class Spy(Augmenter):
    """Records every batch it is given."""

    name, kind = "spy", "batch"

    def __init__(self):
        self.seen = []

    def batch(self, x, y, generator, rows):
        self.seen.append((x.clone(), rows.clone()))
        return x, y


def test_augmentations_never_touch_validation_or_test_data(data):
    x, y, context = data
    x_train, y_train, x_val, y_val = x[:30], y[:30], x[30:], y[30:]
    spy = Spy().fit(x_train, y_train, context)
    genes = [f"g{i}" for i in range(12)]
    model = build_model(
        MODELS.get("mlp"),
        {"hidden": [8]},
        ModelContext(genes, TargetInfo("classification", ["y"], ["a", "b", "c"])),
    )
    runtime = Runtime(train=TrainConfig(max_epochs=3, batch_size=10, lr=1e-3), progress=False)
    runtime.augment = batch_pipeline([spy])
    model.fit(FitData(x_train, y_train, x_val, y_val), runtime)
    assert spy.seen
    train_rows = {tuple(r) for r in np.round(x_train, 6)}
    for batch, rows in spy.seen:
        assert int(rows.max()) < 30
        assert all(tuple(r) in train_rows for r in np.round(batch.numpy(), 6))


def test_smote_options_map_once_to_imbalanced_learn():
    (spec,) = parse_specs(["smote:k=3"])
    assert spec.augmenter.resamples and spec.augmenter.sampler_params(spec.options, 7) == {
        "k_neighbors": 3,
        "sampling_strategy": "auto",
        "random_state": 7,
    }
    context = AugmentContext("classification", 3, seed=7)
    sampler = spec.build().prepare(context).sampler()
    assert (sampler.k_neighbors, sampler.random_state) == (3, 7)
    (batch_only,) = parse_specs(["smote:p=0.9"])
    with pytest.raises(ConfigError, match="p=0.9 .* applies to neural models only"):
        batch_only.augmenter.sampler_params(batch_only.options, 0)
    with pytest.raises(ConfigError, match="not available for regression"):
        spec.build().prepare(AugmentContext("regression", 0, seed=0))


@pytest.mark.parametrize(
    ("methods", "message"),
    [
        (["noise", "smote"], "noise augment.*'logreg' is not trained in batches"),
        (["smote:k=2", "smote:k=3"], "'logreg' takes one resampling augmentation, got 2"),
        (["smote:p=0.2"], "applies to neural models only"),
    ],
)
def test_baselines_take_smote_only_among_batch_augmentations(methods, message):
    config = RunConfig()
    config.augment.methods = methods
    with pytest.raises(ConfigError, match=message):
        check_augmentation(config, "logreg")
    config.augment.methods = ["cvae", "smote:k=2"]
    check_augmentation(config, "rf")  # accepted
