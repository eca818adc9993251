import numpy as np
import pytest

from omicsformer.metrics.classification import (
    accuracy,
    auroc,
    balanced_accuracy,
    classification_metrics,
    confusion_matrix,
    macro_f1,
)

Y = np.array([0, 0, 0, 0, 1, 1, 2])
PRED = np.array([0, 0, 0, 1, 1, 0, 2])


def test_accuracy_and_balanced_accuracy_by_hand():
    assert accuracy(Y, PRED) == pytest.approx(5 / 7)
    # recalls: class 0 3/4, class 1 1/2, class 2 1/1
    assert balanced_accuracy(Y, PRED) == pytest.approx((0.75 + 0.5 + 1.0) / 3)


def test_macro_f1_by_hand():
    # class 0: P 3/4 R 3/4 -> 0.75; class 1: P 1/2 R 1/2 -> 0.5; class 2: 1.0
    assert macro_f1(Y, PRED) == pytest.approx((0.75 + 0.5 + 1.0) / 3)


def test_confusion_matrix_rows_are_truth():
    cm = confusion_matrix(Y, PRED, 3)
    assert cm.tolist() == [[3, 1, 0], [1, 1, 0], [0, 0, 1]]


def test_auroc_perfect_random_and_absent_class():
    y = np.array([0, 0, 1, 1])
    perfect = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.1, 0.9]])
    assert auroc(y, perfect) == 1.0
    assert auroc(y, perfect[:, ::-1]) == 0.0
    three = np.array([[0.9, 0.05, 0.05], [0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.1, 0.8, 0.1]])
    # class 2 never occurs in y: skipped rather than failing
    assert auroc(y, three) == pytest.approx(1.0)
    assert np.isnan(auroc(np.array([1, 1]), perfect[:2]))


def test_classification_metrics_uses_argmax():
    proba = np.eye(3)[PRED] * 0.8 + 0.1
    m = classification_metrics(Y, proba)
    assert m["accuracy"] == pytest.approx(5 / 7)
    assert m["n"] == 7
    assert m["confusion_matrix"][0] == [3, 1, 0]


def test_numpy_metrics_equal_scikit_learns_on_random_predictions_with_ties():
    from sklearn import metrics as skm

    rng = np.random.default_rng(0)
    for trial in range(30):
        n, k = int(rng.integers(5, 40)), int(rng.integers(2, 5))
        y = rng.integers(0, k, n)
        proba = rng.dirichlet(np.ones(k), n).round(1)  # rounded: many ties
        pred = rng.integers(0, k, n)
        assert macro_f1(y, pred) == pytest.approx(
            skm.f1_score(y, pred, average="macro", zero_division=0.0), abs=1e-12
        )
        assert (
            confusion_matrix(y, pred, k).tolist()
            == skm.confusion_matrix(y, pred, labels=np.arange(k)).tolist()
        )
        present = np.unique(y)
        if len(present) > 1:
            expected = np.mean([skm.roc_auc_score(y == c, proba[:, c]) for c in present])
            assert auroc(y, proba) == pytest.approx(expected, abs=1e-12), trial
