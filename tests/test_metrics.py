"""glassnet.train.metrics: plain-NumPy metrics that agree with scikit-learn's on random data."""
import numpy as np
import pytest

from glassnet.train import metrics

sk = pytest.importorskip("sklearn.metrics")

SEEDS = range(8)


def random_labels(seed, n=200, num_classes=5):
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, num_classes, n)
    # mostly right, some wrong, so every figure is away from 0 and 1
    y_pred = np.where(rng.random(n) < 0.6, y_true, rng.integers(0, num_classes, n))
    return y_true, y_pred


def random_values(seed, n=200):
    rng = np.random.default_rng(seed)
    y_true = rng.normal(10, 3, n)
    return y_true, y_true + rng.normal(0, 2, n)


@pytest.mark.parametrize("seed", SEEDS)
def test_classification_metrics_agree_with_scikit_learn(seed):
    y_true, y_pred = random_labels(seed, num_classes=2 + seed % 4)
    assert metrics.accuracy(y_true, y_pred) == pytest.approx(sk.accuracy_score(y_true, y_pred))
    for average in ("macro", "weighted", "micro"):
        assert metrics.f1_score(y_true, y_pred, average=average) == pytest.approx(
            sk.f1_score(y_true, y_pred, average=average, zero_division=0)), average
    np.testing.assert_allclose(metrics.f1_score(y_true, y_pred, average=None),
                               sk.f1_score(y_true, y_pred, average=None, zero_division=0))
    np.testing.assert_array_equal(metrics.confusion_matrix(y_true, y_pred), sk.confusion_matrix(y_true, y_pred))
    precision, recall, f1, support = metrics.precision_recall_f1(y_true, y_pred)
    expected = sk.precision_recall_fscore_support(y_true, y_pred, zero_division=0)
    for mine, theirs in zip((precision, recall, f1, support), expected):
        np.testing.assert_allclose(mine, theirs)


def test_a_class_never_predicted_or_never_present_counts_as_scikit_learn_counts_it():
    y_true = np.array([0, 0, 1, 1, 3, 3])
    y_pred = np.array([0, 0, 0, 0, 3, 2])  # 1 never predicted, 2 never true
    for average in ("macro", "weighted"):
        assert metrics.f1_score(y_true, y_pred, average) == pytest.approx(
            sk.f1_score(y_true, y_pred, average=average, zero_division=0))
    # a class that is in neither (none here beyond 3) is left out of the macro mean, as scikit-learn does
    assert metrics.f1_score([0, 0, 2, 2], [0, 0, 2, 0]) == pytest.approx(
        sk.f1_score([0, 0, 2, 2], [0, 0, 2, 0], average="macro"))


@pytest.mark.parametrize("seed", SEEDS)
def test_regression_metrics_agree_with_scikit_learn(seed):
    y_true, y_pred = random_values(seed)
    assert metrics.rmse(y_true, y_pred) == pytest.approx(np.sqrt(sk.mean_squared_error(y_true, y_pred)))
    assert metrics.mae(y_true, y_pred) == pytest.approx(sk.mean_absolute_error(y_true, y_pred))
    assert metrics.r2_score(y_true, y_pred) == pytest.approx(sk.r2_score(y_true, y_pred))


def test_r2_of_a_constant_truth_follows_scikit_learn():
    assert metrics.r2_score([2.0, 2.0], [2.0, 2.0]) == sk.r2_score([2.0, 2.0], [2.0, 2.0]) == 1.0
    assert metrics.r2_score([2.0, 2.0], [1.0, 2.0]) == sk.r2_score([2.0, 2.0], [1.0, 2.0]) == 0.0


def test_scores_stand_for_their_argmax_and_a_column_of_values_for_values():
    y_true, y_pred = random_labels(0, num_classes=4)
    scores = np.random.default_rng(1).normal(size=(len(y_pred), 4))
    scores[np.arange(len(y_pred)), y_pred] += 10.0  # the predicted class scores highest
    assert metrics.accuracy(y_true, scores) == metrics.accuracy(y_true, y_pred)
    np.testing.assert_array_equal(metrics.confusion_matrix(y_true, scores, 4), metrics.confusion_matrix(y_true, y_pred))
    values, predictions = random_values(0)
    assert metrics.rmse(values[:, None], predictions[:, None].astype(np.float32)) == pytest.approx(
        metrics.rmse(values, predictions), rel=1e-6)


def test_the_reports_hold_plain_numbers():
    import json

    y_true, y_pred = random_labels(3, num_classes=3)
    report = metrics.classification_report(y_true, y_pred, classes=["a", "b", "c"])
    json.dumps(report)  # plain numbers and lists only
    assert report["accuracy"] == pytest.approx(sk.accuracy_score(y_true, y_pred))
    assert report["f1_macro"] == pytest.approx(sk.f1_score(y_true, y_pred, average="macro"))
    assert report["classes"] == ["a", "b", "c"] and report["support"] == len(y_true)
    assert report["per_class"]["b"]["recall"] == pytest.approx(sk.recall_score(y_true, y_pred, average=None)[1])
    assert report["confusion_matrix"] == sk.confusion_matrix(y_true, y_pred).tolist()
    values, predictions = random_values(3)
    regression = metrics.regression_report(values, predictions)
    json.dumps(regression)
    assert set(regression) == {"rmse", "mae", "r2", "support"}
    assert regression["r2"] == pytest.approx(sk.r2_score(values, predictions))


def test_confusion_matrix_keeps_classes_that_never_occur():
    matrix = metrics.confusion_matrix([0, 1], [1, 1], num_classes=4)
    assert matrix.shape == (4, 4) and matrix.dtype == np.int64 and matrix.sum() == 2


@pytest.mark.parametrize("call, message", [
    (lambda: metrics.accuracy([0, 1, 2], [0, 1]), r"one label per row: got shapes \(3,\) and \(2,\)"),
    (lambda: metrics.accuracy([], []), "no rows to score"),
    (lambda: metrics.accuracy([0.5, 1.0], [0, 1]), "y_true must hold class labels"),
    (lambda: metrics.accuracy([0, 1], [-1, 1]), "y_pred must hold class labels"),
    (lambda: metrics.confusion_matrix([0, 3], [0, 1], num_classes=3), r"label 3 does not fit num_classes=3"),
    (lambda: metrics.f1_score([0, 1], [0, 1], average="binary"), "average must be one of"),
    (lambda: metrics.rmse([1.0, 2.0, 3.0], [1.0, 2.0]), r"one value per row"),
    (lambda: metrics.mae(np.zeros((3, 2)), np.zeros((3, 2))), r"one value per row"),
])
def test_bad_input_is_a_clear_error(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_metrics_need_no_scikit_learn():
    import ast
    from pathlib import Path

    tree = ast.parse(Path(metrics.__file__).read_text())
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert imported == {"numpy"}
