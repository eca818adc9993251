"""wgan: a conditional WGAN-GP's synthetic patients: counts, targets, seeding, refusals, and
that it learns the class-conditional structure of a cohort whose truth is known."""

import numpy as np
import pytest
import torch

from omicsformer.augment import AugmentContext, build_augmenters, parse_specs
from omicsformer.errors import ConfigError

TINY = "wgan:steps=3,hidden=16,latent=4,batch=8"


def fitted(spec, x, y, context):
    (augmenter,) = build_augmenters([spec])
    return augmenter.fit(x, y, context)


@pytest.fixture
def cohort():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(30, 10)).astype(np.float32)
    y = np.repeat([0, 1, 2], [15, 9, 6])
    return x, y, AugmentContext("classification", 3, seed=0)


def survival(rng, n=40):
    times = rng.exponential(100, n) + 1
    return np.column_stack([times, rng.random(n) < 0.6]).astype(float)


def test_wgan_adds_a_count_or_a_ratio_of_patients_with_the_classes_asked(cohort):
    x, y, context = cohort
    wgan = fitted(f"{TINY},ratio=2", x, y, context)
    counts = wgan.class_counts()
    assert counts == {0: 30, 1: 18, 2: 12}  # the training proportions, 2 per real patient
    x2, y2 = wgan.expand(x, y)
    assert x2.shape == (90, 10) and x2.dtype == np.float32 and np.array_equal(x2[:30], x)
    assert np.array_equal(y2[:30], y) and np.array_equal(np.bincount(y2[30:]), [30, 18, 12])
    balanced = fitted(f"{TINY},n=100,balance=true", x, y, context)
    assert balanced.class_counts() == {0: 34, 1: 34, 2: 34}
    assert fitted(f"{TINY},n=100", x, y, context).class_counts() == {0: 50, 1: 30, 2: 20}


def test_wgan_is_seeded(cohort):
    x, y, context = cohort
    first = fitted(TINY, x, y, context).expand(x, y)[0]
    again = fitted(TINY, x, y, context).expand(x, y)[0]
    other = fitted(TINY, x, y, AugmentContext("classification", 3, seed=1)).expand(x, y)[0]
    np.testing.assert_array_equal(first, again)
    assert not np.allclose(first[30:], other[30:])


def test_wgan_gives_survival_patients_a_time_in_range_and_their_stratum_s_event():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 10)).astype(np.float32), survival(rng)
    wgan = fitted(f"{TINY},n=60,time_bins=3", x, y, AugmentContext("survival", 0, seed=0))
    counts = wgan.class_counts()
    assert len(counts) == 6 and sum(counts.values()) == 60  # event / censored x 3 time bins
    synthetic, targets = wgan.sample(counts, seed=3)
    assert synthetic.shape == (60, 10) and targets.shape == (60, 2)
    assert targets[:, 0].min() >= y[:, 0].min() and targets[:, 0].max() <= y[:, 0].max()
    events = np.repeat(wgan._strata_event, list(counts.values()))
    np.testing.assert_array_equal(targets[:, 1], events)
    assert set(events) == {0.0, 1.0}
    x2, y2 = wgan.expand(x, y)
    assert x2.shape == (100, 10) and y2.shape == (100, 2) and y2.dtype == y.dtype


@pytest.mark.parametrize(
    ("task", "y", "message"),
    [
        ("regression", np.linspace(0, 1, 30), "'wgan' is not available for regression"),
        ("survival", np.column_stack([np.arange(1, 31), np.zeros(30)]), "at least one event"),
    ],
)
def test_wgan_refuses_what_it_cannot_do(cohort, task, y, message):
    x, _, _ = cohort
    with pytest.raises(ConfigError, match=message):
        fitted(TINY, x, y, AugmentContext(task, 0, seed=0))


def test_wgan_options_are_range_checked():
    with pytest.raises(ConfigError, match="n_critic"):
        parse_specs(["wgan:n_critic=0"])
    assert parse_specs(["wgan:n=1000,steps=50"])[0].options.n == 1000
    with pytest.raises(ConfigError, match="critic"):
        parse_specs(["wgan:critic=acgan"])


def test_the_projection_critic_sees_the_condition_through_its_embedding_only(cohort):
    x, y, context = cohort
    model = fitted(f"{TINY},critic=projection", x, y, context).model
    assert model.critic[0].in_features == x.shape[1]  # the genes alone, no one-hot beside them
    trained = {id(p) for p in model.critic_parameters()}
    assert id(model.embedding.weight) in trained  # the critic's optimizer learns e_k
    assert not trained & {id(p) for p in model.generator.parameters()}
    patients = torch.as_tensor(x[:4])
    scores = [model.score(patients, torch.full((4,), k)) for k in range(3)]
    assert not torch.allclose(scores[0], scores[1])  # the class moves the score, via e_k
    with torch.no_grad():
        model.embedding.weight.zero_()
    assert torch.allclose(
        model.score(patients, torch.zeros(4, dtype=torch.long)),
        model.score(patients, torch.full((4,), 2)),
    )


@pytest.mark.slow
@pytest.mark.parametrize("critic", ["concat", "projection"])
def test_wgan_learns_the_class_conditional_structure(critic):
    """A classifier trained on wgan's synthetic patients only tells the real classes apart,
    with either way of showing the critic the class."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score

    rng = np.random.default_rng(0)
    means = np.zeros((2, 20))
    means[0, :5], means[1, 5:10] = 2.0, 2.0

    def real(n):
        labels = np.arange(n) % 2
        return (means[labels] + rng.normal(size=(n, 20))).astype(np.float32), labels

    x, y = real(40)
    wgan = fitted(
        f"wgan:steps=300,hidden=32,latent=8,lr=5e-4,n=200,critic={critic}",
        x,
        y,
        AugmentContext("classification", 2, 0),
    )
    synthetic, labels = wgan.sample(wgan.class_counts(), seed=1)
    x_test, y_test = real(200)
    clf = LogisticRegression().fit(synthetic, labels)
    assert balanced_accuracy_score(y_test, clf.predict(x_test)) > 0.8


def test_a_run_on_cuda_without_a_gpu_is_refused_in_one_line(monkeypatch):
    from omicsformer.augment.training import augment_context
    from omicsformer.config import RunConfig

    config = RunConfig()
    config.train.device = "cuda"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ConfigError, match="no CUDA GPU is available"):
        augment_context(config, None, None)  # refused before the data is looked at


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_wgan_trains_and_samples_on_the_gpu(cohort):
    x, y, _ = cohort
    context = AugmentContext("classification", 3, seed=0, device="cuda")
    wgan = fitted(f"{TINY},critic=projection", x, y, context)
    assert next(wgan.model.parameters()).is_cuda
    x2, y2 = wgan.expand(x, y)
    assert x2.shape == (60, 10) and np.isfinite(x2).all() and len(y2) == 60
