"""Every neural model, with its default options, can fit the training patients of a small
separable cohort within a fixed number of epochs: alone (``base=none``: the network itself must
learn; the gene-transformer once could not) and as shipped (starting from its fitted base)."""

import numpy as np
import pytest

from omicsformer.config import TrainConfig
from omicsformer.models import MODELS, FitData, ModelContext, Runtime, build_model
from omicsformer.tasks import TargetInfo

EPOCHS = 30


def separable(n: int = 60, genes: int = 40, classes: int = 3, seed: int = 0):
    """Standardized expression with a class mean shift in 10 % of the genes."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % classes
    informative = rng.random(genes) < 0.1
    informative[:classes] = True
    shift = rng.normal(size=(classes, genes)) * informative
    x = rng.normal(size=(n, genes)) + 1.5 * shift[y]
    x = (x - x.mean(0)) / x.std(0)
    return x.astype(np.float32), y


@pytest.mark.slow
@pytest.mark.parametrize("base", ["none", "fitted"])
@pytest.mark.parametrize("name", ["mlp", "attomics", "hybrid", "gene-transformer"])
def test_each_network_fits_its_training_patients(name, base):
    x, y = separable()
    info = TargetInfo("classification", ["y"], ["a", "b", "c"])
    context = ModelContext(genes=[f"g{i}" for i in range(x.shape[1])], target=info, seed=0)
    model = build_model(MODELS.get(name), {"base": base}, context)
    model.fit(
        FitData(x, y), Runtime(train=TrainConfig(max_epochs=EPOCHS, batch_size=16), progress=False)
    )
    accuracy = (model.predict(x).argmax(1) == y).mean()
    assert accuracy >= 0.95, f"{name} (base={base}): training accuracy {accuracy:.3f}"
