"""ComBat batch correction: fitted on training samples only, applied exactly as combatlearn does,
saved with the preprocessing, and refused where it cannot apply."""

import numpy as np
import pandas as pd
import pytest

from omicsformer.data.batch import BatchCorrection, batch_labels
from omicsformer.data.preprocess import Preprocessor
from omicsformer.errors import DataError


def test_batch_labels_are_the_same_text_whether_read_as_numbers_or_text():
    # a column with a gap is read as floats (batch 1.0) at training, as integers at prediction
    with_gap = pd.Series([1.0, 2.0, np.nan, 10.0])
    assert batch_labels(with_gap).tolist() == ["1", "2", None, "10"]
    assert batch_labels(pd.Series([1, 2, 10])).tolist() == ["1", "2", "10"]
    text = np.array([" plate A", "1.0", "1.5", "01", "", None, True, np.int64(3)], dtype=object)
    assert batch_labels(text).tolist() == ["plate A", "1", "1.5", "01", None, None, "True", "3"]


combat_core = pytest.importorskip("combatlearn.core")


def shifted(n: int = 60, genes: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Three batches, each with its own additive and multiplicative shift on every gene."""
    rng = np.random.default_rng(seed)
    batch = np.array(["a", "b", "c"] * (n // 3))
    x = rng.normal(5.0, 1.0, size=(n, genes))
    for name, add, mul in (("a", 0.0, 1.0), ("b", 3.0, 2.0), ("c", -2.0, 0.5)):
        rows = batch == name
        x[rows] = (x[rows] - 5.0) * mul + 5.0 + add
    return x.astype(np.float32), batch


def test_apply_matches_combatlearn_on_held_out_samples():
    x, batch = shifted()
    train, test = np.arange(45), np.arange(45, 60)
    ours = BatchCorrection.fit(x[train], batch[train], "centre")
    ref = combat_core.ComBatModel(method="johnson").fit(
        pd.DataFrame(x[train].astype(np.float64)), batch=batch[train]
    )
    expected = ref.transform(pd.DataFrame(x[test].astype(np.float64)), batch=batch[test])
    np.testing.assert_allclose(ours.apply(x[test], batch[test]), expected.to_numpy(), rtol=1e-4)


def test_correction_removes_the_batch_shift():
    x, batch = shifted(n=90)
    corrected = BatchCorrection.fit(x, batch, "centre").apply(x, batch)
    means = [corrected[batch == b].mean() for b in "abc"]
    before = [x[batch == b].std(axis=0).mean() for b in "abc"]  # 1, 2, 0.5 by construction
    after = [corrected[batch == b].std(axis=0).mean() for b in "abc"]
    assert np.ptp(means) < 0.3 < 4.0 < np.ptp([x[batch == b].mean() for b in "abc"])
    assert np.ptp(after) < 0.4 < 1.2 < np.ptp(before)


def test_parameters_come_from_training_samples_only():
    x, batch = shifted()
    train = np.arange(45)
    first = BatchCorrection.fit(x[train], batch[train], "centre")
    x2 = x.copy()
    x2[45:] *= 10  # the test samples change; the fitted correction must not
    second = BatchCorrection.fit(x2[train], batch[train], "centre")
    np.testing.assert_array_equal(first.gamma, second.gamma)
    np.testing.assert_array_equal(first.delta, second.delta)


def test_unseen_batch_and_missing_batch_are_one_line_errors():
    x, batch = shifted()
    fitted = BatchCorrection.fit(x, batch, "centre")
    with pytest.raises(DataError, match="batch 'z' was not among the training batches"):
        fitted.apply(x[:3], np.array(["a", "z", "b"]))
    with pytest.raises(DataError, match="1 samples have no batch"):
        fitted.apply(x[:3], np.array(["a", None, "b"], dtype=object))


def test_batches_read_as_floats_at_fitting_meet_integers_when_applied(tmp_path):
    x, batch = shifted()
    codes = {"a": 1, "b": 2, "c": 3}
    as_float = np.array([float(codes[b]) for b in batch], dtype=object)
    fitted = BatchCorrection.fit(x, as_float, "plate")
    assert fitted.levels == ["1", "2", "3"]
    as_int = np.array([codes[b] for b in batch])
    as_text = np.array([f" {codes[b]} " for b in batch], dtype=object)
    expected = BatchCorrection.fit(x, batch, "plate").apply(x, batch)
    for given in (as_float, as_int, as_text):
        np.testing.assert_allclose(fitted.apply(x, given), expected, rtol=1e-5)
    # a run saved when batch 1 was written "1.0" still meets batch 1
    old = BatchCorrection.from_saved("plate", ["1.0", "2.0", "3.0"], fitted.tensors())
    assert old.levels == ["1", "2", "3"]
    np.testing.assert_allclose(old.apply(x, as_int), expected, rtol=1e-5)


@pytest.mark.parametrize(
    ("batch", "message"),
    [
        (np.array(["a"] * 60), "all come from one batch"),
        (np.array(["a"] * 59 + ["b"]), "'b' \\(1\\)"),
    ],
)
def test_refuses_what_combat_cannot_estimate(batch, message):
    x, _ = shifted()
    with pytest.raises(DataError, match=message):
        BatchCorrection.fit(x, batch, "centre")


def test_genes_constant_within_a_batch_are_left_alone():
    x, batch = shifted()
    x[batch == "a", 0] = 7.0
    fitted = BatchCorrection.fit(x, batch, "centre")
    assert 0 not in fitted.genes
    np.testing.assert_array_equal(fitted.apply(x, batch)[:, 0], x[:, 0])


def test_preprocessor_saves_and_reloads_the_correction(tmp_path):
    x, batch = shifted()
    genes = [f"g{i}" for i in range(x.shape[1])]
    pre = Preprocessor.fit(x[:45], genes, batches=batch[:45], batch_key="centre")
    pre.save(tmp_path / "p.safetensors")
    loaded = Preprocessor.load(tmp_path / "p.safetensors")
    assert loaded.batch is not None and loaded.batch.key == "centre"
    np.testing.assert_allclose(loaded.apply(x, genes, batch), pre.apply(x, genes, batch))
    with pytest.raises(DataError, match="has no column 'centre'"):
        loaded.apply(x, genes)


def test_a_selection_of_genes_is_corrected_as_in_the_whole_matrix():
    x, batch = shifted()
    x[batch == "a", 0] = 7.0  # gene 0 is left uncorrected
    genes = [f"g{i}" for i in range(x.shape[1])]
    fitted = BatchCorrection.fit(x[:45], batch[:45], "centre")
    columns = np.array([5, 0, 2])
    np.testing.assert_array_equal(
        fitted.apply(x[:, columns], batch, columns=columns), fitted.apply(x, batch)[:, columns]
    )
    pre = Preprocessor.fit(x[:45], genes, batches=batch[:45], batch_key="centre", top_genes=3)
    kept = [genes.index(g) for g in pre.genes]
    np.testing.assert_array_equal(
        pre.apply(x[:, kept], pre.genes, batch), pre.apply(x, genes, batch)
    )
