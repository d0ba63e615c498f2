"""Metrics: how good a network's predictions are, in plain NumPy (scikit-learn's
definitions, checked against it in the tests, without needing it installed).

Classification takes integer labels 0..C-1. Wherever predictions are expected, class
scores ``(N, C)`` (a network's logits or probabilities) may be given instead of labels:
their argmax along the last axis is the prediction.

- :func:`accuracy`: the fraction predicted right.
- :func:`confusion_matrix`: counts of (true class, predicted class); rows are the truth.
- :func:`precision_recall_f1`: per class. Precision: of the rows predicted as the class,
  the fraction that are; recall: of the rows of the class, the fraction found; F1: their
  harmonic mean. A ratio with nothing to count (0/0) is 0, as scikit-learn's ``zero_division=0``.
- :func:`f1_score`: F1 averaged over classes ('macro', every class alike; 'weighted', by
  the class's rows; 'micro', from the pooled counts, which equals accuracy here).
- :func:`classification_report`: all of the above, as a dict of plain numbers and lists.

Regression takes values ``(N,)`` or ``(N, 1)``:

- :func:`rmse`, root mean squared error, and :func:`mae`, mean absolute error, both in
  the target's units;
- :func:`r2_score`: 1 - (squared error) / (squared deviation from the mean): 1 is
  perfect, 0 no better than always predicting the mean, below 0 worse;
- :func:`regression_report`: the three as a dict.

>>> y_true, y_pred = [0, 1, 2, 2], [0, 2, 2, 2]
>>> accuracy(y_true, y_pred), round(f1_score(y_true, y_pred), 4)
(0.75, 0.6)
>>> confusion_matrix(y_true, y_pred).tolist()
[[1, 0, 0], [0, 0, 1], [0, 0, 2]]
>>> rmse([1.0, 2.0], [1.0, 4.0]), mae([1.0, 2.0], [1.0, 4.0])
(1.4142135623730951, 1.0)
"""
import numpy as np

AVERAGES = ("macro", "weighted", "micro", None)


def _labels(y_true, y_pred):
    """(true labels, predicted labels) as int64 arrays of equal shape ``(N,)``; scores
    ``(N, C)`` for ``y_pred`` become their argmax."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_pred.ndim == y_true.ndim + 1:
        y_pred = y_pred.argmax(axis=-1)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must be one label per row: got shapes {y_true.shape} and {y_pred.shape} "
                         "(y_pred may also be scores of shape (N, C))")
    if y_true.size == 0:
        raise ValueError("no rows to score: y_true and y_pred are empty")
    labels = []
    for name, values in (("y_true", y_true), ("y_pred", y_pred)):
        if values.dtype.kind == "f" and np.all(values == np.round(values)):
            values = values.astype(np.int64)
        if values.dtype.kind not in "iub" or values.min() < 0:
            raise ValueError(f"{name} must hold class labels 0, 1, 2, ... (whole numbers), got {values.dtype} values "
                             f"such as {values.ravel()[0]!r}")
        labels.append(values.astype(np.int64).ravel())
    return labels


def _values(y_true, y_pred):
    """(true values, predicted values) as float64 arrays ``(N,)``; ``(N, 1)`` is flattened."""
    y_true, y_pred = np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64)
    if y_true.size != y_pred.size or y_true.ndim > 2 or y_pred.ndim > 2 or y_true.size != len(y_true):
        raise ValueError(f"y_true and y_pred must be one value per row, shape (N,) or (N, 1): got shapes "
                         f"{y_true.shape} and {y_pred.shape}")
    if y_true.size == 0:
        raise ValueError("no rows to score: y_true and y_pred are empty")
    return y_true.ravel(), y_pred.ravel()


def _ratio(numerator, denominator):
    """numerator / denominator elementwise, 0 where the denominator is 0."""
    numerator, denominator = np.asarray(numerator, dtype=np.float64), np.asarray(denominator, dtype=np.float64)
    return np.divide(numerator, denominator, out=np.zeros_like(numerator), where=denominator != 0)


# -- classification ------------------------------------------------------------------------

def accuracy(y_true, y_pred):
    """The fraction of rows whose predicted class is the true one."""
    y_true, y_pred = _labels(y_true, y_pred)
    return float(np.mean(y_true == y_pred))


def confusion_matrix(y_true, y_pred, num_classes=None):
    """Counts ``(C, C)`` (int64): ``matrix[i, j]`` rows of class ``i`` predicted as ``j``.

    ``num_classes`` defaults to the largest label seen plus one.

    >>> confusion_matrix([0, 1, 1], [0, 0, 1], num_classes=3).tolist()
    [[1, 0, 0], [1, 1, 0], [0, 0, 0]]
    """
    y_true, y_pred = _labels(y_true, y_pred)
    largest = int(max(y_true.max(), y_pred.max()))
    if num_classes is None:
        num_classes = largest + 1
    elif largest >= num_classes:
        raise ValueError(f"label {largest} does not fit num_classes={num_classes} (labels run 0..{num_classes - 1})")
    pairs = np.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    return pairs.reshape(num_classes, num_classes)


def precision_recall_f1(y_true, y_pred, num_classes=None):
    """Per class ``(precision, recall, f1, support)``: float64 arrays of length C, and the
    int64 number of true rows of each class (see the module's description)."""
    matrix = confusion_matrix(y_true, y_pred, num_classes)
    right = np.diag(matrix)
    predicted, support = matrix.sum(axis=0), matrix.sum(axis=1)
    precision, recall = _ratio(right, predicted), _ratio(right, support)
    f1 = _ratio(2 * right, predicted + support)  # = 2 p r / (p + r), with 0 for 0/0
    return precision, recall, f1, support


def f1_score(y_true, y_pred, average="macro"):
    """F1 averaged over the classes that occur in ``y_true`` or ``y_pred``.

    ``average``: 'macro' (every class counts alike), 'weighted' (by each class's true
    rows), 'micro' (from counts pooled over classes: accuracy, for one label per row), or
    None for the F1 of every class 0..C-1 as an array.

    >>> y_true, y_pred = [0, 0, 1, 1], [0, 1, 1, 1]
    >>> round(f1_score(y_true, y_pred), 4), f1_score(y_true, y_pred, average=None).round(4).tolist()
    (0.7333, [0.6667, 0.8])
    """
    if average not in AVERAGES:
        raise ValueError(f"average must be one of 'macro', 'weighted', 'micro' or None, got {average!r}")
    true_labels, predicted_labels = _labels(y_true, y_pred)
    if average == "micro":
        return accuracy(true_labels, predicted_labels)
    precision, recall, f1, support = precision_recall_f1(true_labels, predicted_labels)
    if average is None:
        return f1
    present = np.zeros(len(f1), dtype=bool)
    present[true_labels] = present[predicted_labels] = True
    if average == "weighted":
        return float(np.sum(f1 * support) / support.sum())
    return float(f1[present].mean())


def classification_report(y_true, y_pred, classes=None):
    """Accuracy, F1 and the per-class figures in one dict of plain numbers and lists:

    ``{"accuracy", "f1_macro", "f1_weighted", "support", "classes", "per_class":
    {name: {"precision", "recall", "f1", "support"}}, "confusion_matrix": [[...]]}``.

    ``classes`` names the labels (label ``i`` is ``classes[i]``); by default they are
    '0', '1', ... up to the largest label seen.

    >>> report = classification_report([0, 1, 1], [0, 1, 0], classes=["cat", "dog"])
    >>> round(report["accuracy"], 4), report["per_class"]["dog"]["recall"], report["confusion_matrix"]
    (0.6667, 0.5, [[1, 0], [1, 1]])
    """
    true_labels, predicted_labels = _labels(y_true, y_pred)
    num_classes = len(classes) if classes is not None else None
    precision, recall, f1, support = precision_recall_f1(true_labels, predicted_labels, num_classes)
    names = [str(name) for name in classes] if classes is not None else [str(i) for i in range(len(f1))]
    per_class = {name: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
                 for name, p, r, f, s in zip(names, precision, recall, f1, support)}
    return {
        "accuracy": accuracy(true_labels, predicted_labels),
        "f1_macro": f1_score(true_labels, predicted_labels, "macro"),
        "f1_weighted": f1_score(true_labels, predicted_labels, "weighted"),
        "support": int(len(true_labels)),
        "classes": names,
        "per_class": per_class,
        "confusion_matrix": confusion_matrix(true_labels, predicted_labels, len(names)).tolist(),
    }


# -- regression ----------------------------------------------------------------------------

def rmse(y_true, y_pred):
    """Root mean squared error, in the target's units."""
    y_true, y_pred = _values(y_true, y_pred)
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))


def mae(y_true, y_pred):
    """Mean absolute error, in the target's units."""
    y_true, y_pred = _values(y_true, y_pred)
    return float(np.mean(np.abs(y_true - y_pred)))


def r2_score(y_true, y_pred):
    """The coefficient of determination, 1 - SS_error / SS_total. When every true value is
    the same (SS_total = 0) it is 1.0 for exact predictions, else 0.0, as scikit-learn's.

    >>> r2_score([1.0, 2.0, 3.0], [1.0, 2.0, 3.0]), r2_score([1.0, 2.0, 3.0], [2.0, 2.0, 2.0])
    (1.0, 0.0)
    """
    y_true, y_pred = _values(y_true, y_pred)
    error = np.sum((y_true - y_pred) ** 2)
    total = np.sum((y_true - y_true.mean()) ** 2)
    if total == 0:
        return 1.0 if error == 0 else 0.0
    return float(1 - error / total)


def regression_report(y_true, y_pred):
    """``{"rmse", "mae", "r2", "support"}`` as plain numbers.

    >>> regression_report([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])["mae"]
    0.3333333333333333
    """
    y_true, y_pred = _values(y_true, y_pred)
    return {"rmse": rmse(y_true, y_pred), "mae": mae(y_true, y_pred), "r2": r2_score(y_true, y_pred),
            "support": int(len(y_true))}
